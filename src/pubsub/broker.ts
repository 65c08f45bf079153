// What a process needs from the bus between it and the other processes or
// machines of one server: tell it which topics have local subscribers, hand
// it what was published here, and get what was published elsewhere. The
// topic registry drives subscribe/unsubscribe (a topic's local count going
// 0 → 1 and 1 → 0), so a process only receives topics someone on it wants.
//
// Implementations: LocalBroker (one process: nothing to do), ClusterBroker
// (--workers: node:cluster IPC through the primary), and any other engine a
// user plugs in through the `broker` option.

/** The process a broker serves. */
export interface BrokerHost {
  /** A publication made in another process: deliver it to the local subscribers. */
  deliver(topic: string, payload: Buffer, binary: boolean): void;
  /** This process's answer to a gather() question. */
  answer(question: BrokerQuestion): unknown;
  /** The bus connected (again) or was lost; `detail` says to whom or why. */
  brokerState?(connected: boolean, detail: string): void;
  /** A publication made here did not reach the bus (queue full, connection lost with it in flight). */
  undelivered?(topic: string, error: Error): void;
}

/** What gather() asks each process. */
export type BrokerQuestion = { kind: 'subscribers'; topic: string } | { kind: 'stats' };

export interface Broker {
  /** Whether the bus is up now (undefined: always, e.g. in-process). GET /healthz says 503 while it is not. */
  readonly connected?: boolean;
  /** Starts the bus; publications from elsewhere go to `host` from now on. */
  start(host: BrokerHost): void;
  /** The first local subscriber of `topic` arrived: receive its publications. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left. */
  unsubscribe(topic: string): void;
  /** A publication made in this process, for the subscribers elsewhere (never echoed back here). */
  publish(topic: string, payload: Buffer, binary: boolean): void;
  /** Every process's answer to `question`, this one's included; a single process answers alone. */
  gather(question: BrokerQuestion): Promise<unknown[]>;
  /** Stops the bus, after what was published here has been handed on. */
  close(): Promise<void>;
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
