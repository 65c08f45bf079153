// What a process needs from the bus between it and the other processes or
// machines of one server: tell it which topics have local subscribers, hand
// it what was published here, get what was published elsewhere, and ask
// every process a question. The topic registry drives subscribe/unsubscribe
// (a topic's local count going 0 → 1 and 1 → 0), so a process only receives
// topics someone on it wants.
//
// Implementations: LocalBroker (one process: nothing to do), ClusterBroker
// (--workers: node:cluster IPC through the primary), RedisBroker (many
// machines), and any other engine a user plugs in through the `broker` option.
import type { HistoryPage, StreamPosition } from './history.js';
import type { Publication } from './publication.js';

/**
 * What a publication carries. Data is what subscribers are sent; a command
 * (the fleet's verbs: disconnect, subscribe…) and a presence event (join,
 * leave) travel on the same topic so they keep their order with its data,
 * and are acted on by the receiving process instead of sent as they are.
 */
export const PublicationKind = { Data: 0, Command: 1, Presence: 2 } as const;
export type PublicationKind = (typeof PublicationKind)[keyof typeof PublicationKind];

/** The process a broker serves. */
export interface BrokerHost {
  /**
   * A publication to deliver to the local subscribers: made in another
   * process, or (for a topic with history) in this one, coming back with its
   * position; `ownToken` is then the token publish() was given.
   */
  deliver(topic: string, payload: Buffer, binary: boolean, position?: StreamPosition, ownToken?: number, kind?: PublicationKind): void;
  /** This process's answer to a gather() question. */
  answer(question: BrokerQuestion): unknown;
  /** The bus connected (again) or was lost; `detail` says to whom or why. */
  brokerState?(connected: boolean, detail: string): void;
  /** The bus acknowledged a publication made here, `ms` after publish() (for the latency histogram). */
  acknowledged?(ms: number): void;
  /** A publication made here did not reach the bus (queue full, connection lost with it in flight); `cause` names why, for the counters. */
  undelivered?(topic: string, error: Error, token: number, cause?: string): void;
  /** After the bus came back, what this process missed of `topic` could not all be recovered. */
  recoveryFailed?(topic: string, reason: 'epoch' | 'trimmed', had: StreamPosition, now: StreamPosition): void;
}

/**
 * What gather() asks each process: a subscriber count, the stats, or a
 * question of the server's own (presence, a user's connections…), answered
 * by the host.
 */
export type BrokerQuestion = { kind: 'subscribers'; topic: string } | { kind: 'stats' } | { kind: string; [field: string]: unknown };

export interface Broker {
  /** Whether the bus is up now (undefined: always, e.g. in-process). GET /healthz says 503 while it is not. */
  readonly connected?: boolean;
  /** Starts the bus; publications from elsewhere go to `host` from now on. */
  start(host: BrokerHost): void;
  /** The first local subscriber of `topic` arrived: receive its publications. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left. */
  unsubscribe(topic: string): void;
  /**
   * A publication made in this process, for the subscribers elsewhere (and,
   * when deliversOwn(topic), here too, with its position). `token` comes back
   * with it (deliver) or with its failure (undelivered). A broker that can
   * tell may return when the bus took it, with its position for a topic with
   * history (the promise rejects when it did not: undelivered is told too).
   */
  publish(topic: string, payload: Buffer, binary: boolean, token?: number, kind?: PublicationKind): void | Promise<StreamPosition | undefined>;
  /** Every process's answer to `question`, this one's included; a single process answers alone. */
  gather(question: BrokerQuestion): Promise<unknown[]>;
  /** Stops the bus, after what was published here has been handed on. */
  close(): Promise<void>;
  /**
   * Whether publications of `topic` reach this process's subscribers through
   * the bus, with their position (a topic with history), rather than at once.
   */
  deliversOwn?(topic: string): boolean;
  /** Where `topic`'s history stands now, read before anything published after this call from this process (topics with history only). */
  positionNow?(topic: string): Promise<StreamPosition>;
  /** One page of what was published on `topic` after `since`, from the history (topics with history only). */
  history?(topic: string, since: StreamPosition, limit: number): Promise<HistoryPage>;
  /** A history entry as a publication (the entry holds the broker's own framing). */
  unwrap?(topic: string, entry: Buffer, position: StreamPosition): Publication | undefined;
}

/** One process alone: nothing to tell anyone. */
export class LocalBroker implements Broker {
  private host: BrokerHost | undefined;

  start(host: BrokerHost): void {
    this.host = host;
  }

  subscribe(): void {}
  unsubscribe(): void {}
  publish(): void {}

  gather(question: BrokerQuestion): Promise<unknown[]> {
    return Promise.resolve(this.host === undefined ? [] : [this.host.answer(question)]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
