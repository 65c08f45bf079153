// Topics for one server process: subscriptions (the registry), publishing to
// the local subscribers — each publication encoded once, each subscriber
// judged by the slow-subscriber policy — and the broker that carries
// publications to and from the other processes or machines of the server.
import type { ServerStats } from '../telemetry/stats.js';
import type { Broker, BrokerHost, BrokerQuestion } from './broker.js';
import type { HistoryReplay, StreamPosition } from './history.js';
import { Publication, type PublishData } from './publication.js';
import { checkTopic } from './topic-name.js';
import { TopicRegistry, type SubscriptionListener } from './topic-registry.js';

/** What to do with a subscriber whose outgoing buffer is above maxBackpressure when a publication comes. */
export type SlowSubscriberPolicy = 'drop' | 'close';

export interface PublishOptions {
  /** Send as binary. Default: true for bytes, false for strings. */
  binary?: boolean;
  /** Compressed (once per window size) for subscribers that negotiated permessage-deflate. Default true. */
  compress?: boolean;
  /** Skip subscribers with more than this many bytes waiting to be written (default: the server's). */
  maxBackpressure?: number;
  /** 'drop': skip the message for that subscriber; 'close': close it with 1008 (default: the server's). */
  slowSubscriberPolicy?: SlowSubscriberPolicy;
}

/** What a subscription from a position found: every publication since, or why not all. */
export interface ResumeResult {
  /** True when every publication after the position was delivered (or there were none). */
  recovered: boolean;
  /** Why not: another epoch, trimmed past the position, no history for this topic, the broker unavailable. */
  reason?: 'epoch' | 'trimmed' | 'no-history' | 'unavailable';
  /** Publications replayed from the history. */
  replayed: number;
  /** The topic's position when the replay was read. */
  position?: StreamPosition;
}

/** How a subscriber takes a publication; Connection implements it. */
export interface Subscriber {
  /** Delivers unless closing or slow (then `policy` applies); true when delivered. */
  deliver(publication: Publication, maxBackpressure: number, policy: SlowSubscriberPolicy): boolean;
  /** A subscription from a position has caught up (or could not). */
  resumed?(topic: string, result: ResumeResult): void;
}

export interface PubSubOptions {
  maxTopicLength: number;
  maxBackpressure: number;
  slowSubscriberPolicy: SlowSubscriberPolicy;
}

/** What PubSub tells the server. */
export interface PubSubHooks {
  /** A topic's local count changed. */
  onSubscription: SubscriptionListener;
  /** This process's counters, for a gather() of the stats. */
  answerStats: () => unknown;
  /** The broker connected or was lost. */
  onBrokerState: (connected: boolean, detail: string) => void;
  /** A publication did not reach the broker. */
  onUndelivered: (topic: string, error: Error) => void;
  /** After the broker came back, what this process missed of a topic could not all be recovered. */
  onRecoveryFailed: (topic: string, reason: 'epoch' | 'trimmed', had: StreamPosition, now: StreamPosition) => void;
}

export class PubSub<S extends Subscriber> implements BrokerHost {
  readonly registry: TopicRegistry<S>;
  private readonly broker: Broker;
  private readonly options: PubSubOptions;
  private readonly counters: ServerStats;
  private readonly hooks: PubSubHooks;
  /** Publications made here that come back through the broker (topics with history): whom to skip, with what limits. */
  private readonly own = new Map<number, { skip: S | undefined; options: PublishOptions | undefined }>();
  private nextToken = 1;
  /** Subscribers catching up on a topic from a position: live publications wait here meanwhile. */
  private readonly resuming = new Map<S, Map<string, Publication[]>>();
  /** When the broker was lost, while it is. */
  private downSince: number | undefined;

  constructor(broker: Broker, options: PubSubOptions, counters: ServerStats, hooks: PubSubHooks) {
    this.broker = broker;
    this.options = options;
    this.counters = counters;
    this.hooks = hooks;
    this.registry = new TopicRegistry<S>((topic, count, previous) => {
      // Interest routing: the bus carries a topic here only while someone here wants it.
      if (previous === 0) broker.subscribe(topic);
      else if (count === 0) broker.unsubscribe(topic);
      broker.counted?.(topic, count);
      hooks.onSubscription(topic, count, previous);
    });
    broker.start(this);
  }

  /**
   * Subscribes; with `since`, first replays from the topic's history what
   * was published after that position (to this subscriber alone), then the
   * live publications that came meanwhile, each exactly once, in order; the
   * subscriber hears how it went (resumed()).
   */
  subscribe(subscriber: S, topic: string, since?: StreamPosition): boolean {
    const added = this.registry.subscribe(subscriber, checkTopic(topic, this.options.maxTopicLength));
    if (since === undefined) return added;
    const replay = this.broker.replay;
    if (replay === undefined || this.broker.deliversOwn?.(topic) !== true) {
      subscriber.resumed?.(topic, { recovered: false, reason: 'no-history', replayed: 0 });
      return added;
    }
    let held = this.resuming.get(subscriber);
    if (held === undefined) this.resuming.set(subscriber, (held = new Map()));
    const waiting: Publication[] = [];
    held.set(topic, waiting);
    replay.call(this.broker, topic, since).then(
      (result) => this.resume(subscriber, topic, since, waiting, result),
      () => this.resume(subscriber, topic, since, waiting, undefined),
    );
    return added;
  }

  /** Delivers a replay, then what waited, to one subscriber; tells it how that went. */
  private resume(subscriber: S, topic: string, since: StreamPosition, waiting: Publication[], replay: HistoryReplay | undefined): void {
    const held = this.resuming.get(subscriber);
    if (held?.get(topic) === waiting) held.delete(topic);
    if (held?.size === 0) this.resuming.delete(subscriber);
    if (!this.registry.isSubscribed(subscriber, topic)) return; // it left meanwhile
    const { maxBackpressure, slowSubscriberPolicy } = this.options;
    let last = since;
    for (const [offset, message] of replay?.entries ?? []) {
      // Entries hold the broker's own framing; it unwraps them.
      const publication = this.broker.unwrap?.(topic, message, { offset, epoch: replay?.position.epoch ?? '' });
      if (publication === undefined) continue;
      subscriber.deliver(publication, maxBackpressure, slowSubscriberPolicy);
      last = { offset, epoch: replay?.position.epoch ?? '' };
    }
    for (const publication of waiting) {
      const p = publication.position;
      if (p !== undefined && p.epoch === last.epoch && p.offset <= last.offset) continue;
      subscriber.deliver(publication, maxBackpressure, slowSubscriberPolicy);
    }
    subscriber.resumed?.(
      topic,
      replay === undefined
        ? { recovered: false, reason: 'unavailable', replayed: 0 }
        : { recovered: replay.recovered, reason: replay.reason, replayed: replay.entries.length, position: replay.position },
    );
  }

  unsubscribe(subscriber: S, topic: string): boolean {
    return this.registry.unsubscribe(subscriber, topic);
  }

  /**
   * Publishes to every subscriber of `topic` in the whole server: here at
   * once (all but `skip`), elsewhere through the broker. Returns how many
   * local subscribers it was delivered to.
   */
  publish(topic: string, data: PublishData, options?: PublishOptions, skip?: S): number {
    const publication = Publication.of(checkTopic(topic, this.options.maxTopicLength), data, options?.binary);
    if (options?.compress === false) publication.compress = false;
    this.counters.published++;
    if (this.broker.deliversOwn?.(topic) === true) {
      // A topic with history: it comes back through the broker with its position, here too.
      const token = this.nextToken;
      // Tokens travel as 32 bits; 0 means none.
      this.nextToken = (this.nextToken % 0xffffffff) + 1;
      if (skip !== undefined || options !== undefined) this.own.set(token, { skip, options });
      this.broker.publish(topic, publication.payload, publication.binary, token);
      return 0;
    }
    const delivered = this.deliverLocal(publication, skip, options);
    this.broker.publish(topic, publication.payload, publication.binary);
    return delivered;
  }

  /** Subscribers of `topic` in this process, in O(1). */
  count(topic: string): number {
    return this.registry.count(topic);
  }

  /** Subscribers of `topic` in every process of the server. */
  async countEverywhere(topic: string): Promise<number> {
    const answers = await this.broker.gather({ kind: 'subscribers', topic });
    return answers.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
  }

  // BrokerHost.
  deliver(topic: string, payload: Buffer, binary: boolean, position?: StreamPosition, ownToken?: number): void {
    const publication = Publication.fromBytes(topic, payload, binary, position);
    if (ownToken === undefined) {
      this.counters.publishedElsewhere++;
      this.deliverLocal(publication, undefined, undefined);
      return;
    }
    const own = this.own.get(ownToken);
    this.own.delete(ownToken);
    this.deliverLocal(publication, own?.skip, own?.options);
  }

  answer(question: BrokerQuestion): unknown {
    return question.kind === 'subscribers' ? this.registry.count(question.topic) : this.hooks.answerStats();
  }

  /** Whether the broker is connected (a process alone always is). */
  get brokerConnected(): boolean {
    return this.broker.connected ?? true;
  }

  brokerState(connected: boolean, detail: string): void {
    const now = performance.now();
    let note = detail;
    if (!connected && this.downSince === undefined) {
      this.downSince = now;
      this.counters.brokerOutages++;
    } else if (connected && this.downSince !== undefined) {
      const ms = now - this.downSince;
      this.downSince = undefined;
      this.counters.brokerDownMs += ms;
      // Never silent: without history, what other processes published meanwhile did not come here.
      note += ` after ${Math.round(ms)} ms away; publications of topics without history made elsewhere meanwhile did not reach this process`;
    }
    this.hooks.onBrokerState(connected, note);
  }

  acknowledged(ms: number): void {
    this.counters.publishAcknowledged(ms);
  }

  undelivered(topic: string, error: Error, token: number): void {
    this.own.delete(token);
    this.counters.undelivered++;
    this.hooks.onUndelivered(topic, error);
  }

  recoveryFailed(topic: string, reason: 'epoch' | 'trimmed', had: StreamPosition, now: StreamPosition): void {
    this.counters.unrecovered++;
    this.hooks.onRecoveryFailed(topic, reason, had, now);
  }

  /** Every process's answer to `question`, through the broker. */
  gather(question: BrokerQuestion): Promise<unknown[]> {
    return this.broker.gather(question);
  }

  close(): Promise<void> {
    return this.broker.close();
  }

  private deliverLocal(publication: Publication, skip: S | undefined, options: PublishOptions | undefined): number {
    const subscribers = this.registry.subscribers(publication.topic);
    if (subscribers === undefined) return 0;
    const maxBackpressure = options?.maxBackpressure ?? this.options.maxBackpressure;
    const policy = options?.slowSubscriberPolicy ?? this.options.slowSubscriberPolicy;
    let delivered = 0;
    const resuming = this.resuming.size > 0 ? this.resuming : undefined;
    for (const subscriber of subscribers) {
      if (subscriber === skip) continue;
      const waiting = resuming?.get(subscriber)?.get(publication.topic);
      if (waiting !== undefined) waiting.push(publication);
      else if (subscriber.deliver(publication, maxBackpressure, policy)) delivered++;
    }
    return delivered;
  }
}
