// Topics for one server process: subscriptions (the registry), publishing to
// the local subscribers — each publication encoded once, each subscriber
// judged by the slow-subscriber policy — and the broker that carries
// publications to and from the other processes or machines of the server.
//
// Application topics and the server's own routes (a user's connections, this
// process; names starting with U+0000, which applications cannot use) live in
// two registries: the routes never count against the topic limits, nor show
// in a connection's topics, and they travel through the same broker.
import type { ServerStats } from '../telemetry/stats.js';
import { PublicationKind, type Broker, type BrokerHost, type BrokerQuestion } from './broker.js';
import type { HistoryPage, StreamPosition } from './history.js';
import { Publication, type PublishData } from './publication.js';
import { checkTopic, isRoute } from './topic-name.js';
import { TopicRegistry, type SubscriptionListener } from './topic-registry.js';

export type { HistoryRead, PublishOptions, ResumeResult, SlowSubscriberPolicy, SubscribeStatus, Subscriber } from './subscriber.js';
import type { HistoryRead, PublishOptions, ResumeResult, SlowSubscriberPolicy, SubscribeStatus, Subscriber } from './subscriber.js';

export interface PubSubOptions {
  maxTopicLength: number;
  maxBackpressure: number;
  slowSubscriberPolicy: SlowSubscriberPolicy;
  /** Topics one subscriber may be in at once (routes excluded). */
  maxTopicsPerConnection: number;
  /** Distinct topics with subscribers in this process (routes excluded). */
  maxTopics: number;
}

/** What PubSub tells the server. */
export interface PubSubHooks<S> {
  /** A topic's local count changed. */
  onSubscription: SubscriptionListener;
  /** This process's answer to a question from gather() (stats, presence…). */
  answer: (question: BrokerQuestion) => unknown;
  /** The broker connected or was lost. */
  onBrokerState: (connected: boolean, detail: string) => void;
  /** A publication did not reach the broker. */
  onUndelivered: (topic: string, error: Error) => void;
  /** After the broker came back, what this process missed of a topic could not all be recovered. */
  onRecoveryFailed: (topic: string, reason: 'epoch' | 'trimmed', had: StreamPosition, now: StreamPosition) => void;
  /** A subscription was refused by a topic limit. */
  onRefused?: (status: 'connection-limit' | 'server-limit', topic: string) => void;
  /** A command or presence event arrived for `topic` (a route or a topic): the server acts on it. */
  onSignal?: (kind: PublicationKind, topic: string, payload: Buffer) => void;
  /** A subscriber joined (true) or left (false) a topic: the server announces it where presence is on. */
  onMembership?: (subscriber: S, topic: string, joined: boolean) => void;
}

/** A subscription to a topic with history: from where it was sent live, and whether it was replayed already. */
interface Positioned {
  /** The first publication sent to it live: a replay stops before it. */
  liveFrom: StreamPosition | undefined;
  replayed: boolean;
  /** Live publications held while a replay runs. */
  waiting: Publication[] | undefined;
  /** The last publication the replay sent: one of it arriving live later (its message was still on the way) is not sent twice. */
  through: StreamPosition | undefined;
}

/** Entries asked for per history page when a subscriber resumes. */
const RESUME_PAGE = 100;

export class PubSub<S extends Subscriber> implements BrokerHost {
  readonly registry: TopicRegistry<S>;
  /** The server's own routes (users, this process): U+0000 names. */
  readonly routes: TopicRegistry<S>;
  private readonly broker: Broker;
  private readonly options: PubSubOptions;
  private readonly counters: ServerStats;
  private readonly hooks: PubSubHooks<S>;
  /** Publications made here that come back through the broker (topics with history): whom to skip, with what limits. */
  private readonly own = new Map<number, { skip: S | undefined; options: PublishOptions | undefined }>();
  private nextToken = 1;
  /** Subscriptions to topics with history, by subscriber then topic. */
  private readonly positioned = new Map<S, Map<string, Positioned>>();
  /** When the broker was lost, while it is. */
  private downSince: number | undefined;

  constructor(broker: Broker, options: PubSubOptions, counters: ServerStats, hooks: PubSubHooks<S>) {
    this.broker = broker;
    this.options = options;
    this.counters = counters;
    this.hooks = hooks;
    // Interest routing: the bus carries a topic here only while someone here wants it.
    const route = (topic: string, count: number, previous: number): void => {
      if (previous === 0) broker.subscribe(topic);
      else if (count === 0) broker.unsubscribe(topic);
    };
    this.registry = new TopicRegistry<S>((topic, count, previous) => {
      route(topic, count, previous);
      hooks.onSubscription(topic, count, previous);
    });
    this.routes = new TopicRegistry<S>(route);
    broker.start(this);
  }

  /**
   * Subscribes, unless a limit refuses it; with `since`, first replays from
   * the topic's history what was published after that position (to this
   * subscriber alone), then the live publications that came meanwhile, each
   * exactly once, in order; the subscriber hears how it went (resumed()). A
   * subscription is replayed once at most.
   */
  subscribe(subscriber: S, topic: string, since?: StreamPosition | 'now'): SubscribeStatus {
    const name = checkTopic(topic, this.options.maxTopicLength);
    let status: SubscribeStatus = 'already';
    if (!this.registry.isSubscribed(subscriber, name)) {
      if (this.registry.topicCountOf(subscriber) >= this.options.maxTopicsPerConnection) status = 'connection-limit';
      else if (this.registry.count(name) === 0 && this.registry.topicCount >= this.options.maxTopics) status = 'server-limit';
      else status = this.registry.subscribe(subscriber, name) ? 'subscribed' : 'already';
      if (status === 'connection-limit' || status === 'server-limit') {
        this.counters.lost('topic-limit');
        this.hooks.onRefused?.(status, name);
        return status;
      }
      if (status === 'subscribed') this.hooks.onMembership?.(subscriber, name, true);
    }
    if (this.broker.deliversOwn?.(name) === true && (status === 'subscribed' || since !== undefined)) {
      let topics = this.positioned.get(subscriber);
      if (topics === undefined) this.positioned.set(subscriber, (topics = new Map()));
      if (!topics.has(name)) topics.set(name, { liveFrom: undefined, replayed: false, waiting: undefined, through: undefined });
    }
    if (since !== undefined) this.startReplay(subscriber, name, since);
    return status;
  }

  /** This process listens on a route of its own (its commands), with no subscriber: for as long as it runs. */
  listenRoute(route: string): void {
    this.broker.subscribe(route);
  }

  /** Joins a route of the server's (a user, this process): no limits, not one of the subscriber's topics. */
  subscribeRoute(subscriber: S, route: string): boolean {
    return this.routes.subscribe(subscriber, route);
  }

  unsubscribeRoute(subscriber: S, route: string): boolean {
    return this.routes.unsubscribe(subscriber, route);
  }

  /**
   * `since` 'now': from where the topic stands as the subscription is made (read at once, so
   * before what this process publishes after it), replayed once the subscription is in force:
   * nothing published from then on falls between the read and the live stream.
   */
  private startReplay(subscriber: S, topic: string, since: StreamPosition | 'now'): void {
    const history = this.broker.history;
    const state = this.positioned.get(subscriber)?.get(topic);
    if (history === undefined || state === undefined) {
      subscriber.resumed?.(topic, { recovered: false, reason: 'no-history', replayed: 0 });
      return;
    }
    if (state.replayed) {
      subscriber.resumed?.(topic, { recovered: false, reason: 'subscribed', replayed: 0 });
      return;
    }
    state.replayed = true;
    state.waiting = [];
    const read = (t: string, s: StreamPosition, n: number): Promise<HistoryPage> => history.call(this.broker, t, s, n);
    if (since !== 'now') return void this.replay(subscriber, topic, since, state, read);
    const from = this.broker.positionNow?.(topic) ?? Promise.reject(new Error('no position'));
    // Unread, the replay runs with a read that fails: what waited is delivered, the subscriber told 'unavailable'.
    void from.then(
      (at) => this.replay(subscriber, topic, at, state, read),
      (error: unknown) => this.replay(subscriber, topic, { offset: 0, epoch: '' }, state, () => Promise.reject(error)),
    );
  }

  /** Delivers a replay page by page, then what waited, to one subscriber; tells it how that went. */
  private async replay(subscriber: S, topic: string, since: StreamPosition, state: Positioned, read: (topic: string, since: StreamPosition, limit: number) => Promise<HistoryPage>): Promise<void> {
    const { maxBackpressure, slowSubscriberPolicy } = this.options;
    let cursor = since;
    let last: StreamPosition | undefined;
    let replayed = 0;
    let result: ResumeResult | undefined;
    try {
      for (let first = true; ; first = false) {
        const page = await read(topic, cursor, RESUME_PAGE);
        if (this.positioned.get(subscriber)?.get(topic) !== state) return; // it left meanwhile
        if (first || !page.recovered) result = { recovered: page.recovered, reason: page.reason, replayed: 0, position: page.position };
        for (const [offset, message] of page.entries) {
          const position = { offset, epoch: page.position.epoch };
          // Sent live already: the replay ends where the live stream began.
          const live = state.liveFrom;
          if (live !== undefined && live.epoch === position.epoch && offset >= live.offset) continue;
          const publication = this.broker.unwrap?.(topic, message, position);
          if (publication === undefined) continue;
          subscriber.deliver(publication, maxBackpressure, slowSubscriberPolicy);
          last = position;
          replayed++;
        }
        const tail = page.entries[page.entries.length - 1];
        if (page.complete || tail === undefined) break;
        cursor = { offset: tail[0], epoch: page.position.epoch };
      }
    } catch {
      result = { recovered: false, reason: 'unavailable', replayed: 0 };
    }
    const waiting = state.waiting ?? [];
    state.waiting = undefined;
    state.through = last;
    for (const publication of waiting) {
      const p = publication.position;
      if (p !== undefined && last !== undefined && p.epoch === last.epoch && p.offset <= last.offset) continue;
      subscriber.deliver(publication, maxBackpressure, slowSubscriberPolicy);
    }
    subscriber.resumed?.(topic, { ...(result ?? { recovered: false, reason: 'unavailable' }), replayed });
  }

  unsubscribe(subscriber: S, topic: string): boolean {
    const left = this.registry.unsubscribe(subscriber, topic);
    if (left) {
      this.positioned.get(subscriber)?.delete(topic);
      this.hooks.onMembership?.(subscriber, topic, false);
    }
    return left;
  }

  /** The subscriber is gone: every topic and route is left. */
  unsubscribeAll(subscriber: S): void {
    this.positioned.delete(subscriber);
    const membership = this.hooks.onMembership;
    if (membership === undefined) this.registry.unsubscribeAll(subscriber);
    else for (const topic of this.registry.topicsOf(subscriber)) if (this.registry.unsubscribe(subscriber, topic)) membership(subscriber, topic, false);
    this.routes.unsubscribeAll(subscriber);
  }

  /**
   * Publishes to every subscriber of `topic` in the whole server: here at
   * once (all but `skip`), elsewhere through the broker. Returns how many
   * local subscribers it was delivered to.
   */
  publish(topic: string, data: PublishData, options?: PublishOptions, skip?: S): number {
    const { delivered, sent } = this.publishTracked(topic, data, options, skip);
    // Its failure is counted and told (undelivered); nobody waits for this promise.
    if (sent instanceof Promise) sent.catch(() => {});
    return delivered;
  }

  /**
   * publish(), and a promise that settles when the broker took it (with the
   * position, for a topic with history) or rejects when it did not. A broker
   * that cannot tell settles at once.
   */
  async publishAcknowledged(topic: string, data: PublishData, options?: PublishOptions, skip?: S): Promise<StreamPosition | undefined> {
    return (await this.publishTracked(topic, data, options, skip).sent) ?? undefined;
  }

  private publishTracked(topic: string, data: PublishData, options: PublishOptions | undefined, skip: S | undefined): { delivered: number; sent: void | Promise<StreamPosition | undefined> } {
    const publication = Publication.of(checkTopic(topic, this.options.maxTopicLength), data, options?.binary);
    if (options?.compress === false) publication.compress = false;
    this.counters.published++;
    if (this.broker.deliversOwn?.(topic) === true) {
      // A topic with history: it comes back through the broker with its position, here too.
      const token = this.nextToken;
      // Tokens travel as 32 bits; 0 means none.
      this.nextToken = (this.nextToken % 0xffffffff) + 1;
      if (skip !== undefined || options !== undefined) this.own.set(token, { skip, options });
      return { delivered: 0, sent: this.broker.publish(topic, publication.payload, publication.binary, token) };
    }
    const delivered = this.deliverLocal(publication, skip, options);
    return { delivered, sent: this.broker.publish(topic, publication.payload, publication.binary) };
  }

  /**
   * A publication of the server's own (a send to a user's route, a command,
   * a presence event): acted on here at once, then carried to the other
   * processes on the same topic, so it keeps its order with the topic's data.
   */
  signal(topic: string, payload: Buffer, kind: PublicationKind, binary = false): number {
    let delivered = 0;
    if (kind === PublicationKind.Data) delivered = this.deliverLocal(Publication.fromBytes(topic, payload, binary), undefined, undefined);
    else this.hooks.onSignal?.(kind, topic, payload);
    const sent = this.broker.publish(topic, payload, binary, 0, kind);
    if (sent instanceof Promise) sent.catch(() => {});
    return delivered;
  }

  /**
   * A publication for the subscribers of `topic` in this process alone, but
   * those `skip` names; not carried to other processes, not kept in history
   * (GatewayWorker's sendToGroup: the BusinessWorker sends it to every Gateway
   * itself). Encoded once for all of them; returns how many it reached.
   */
  deliverHere(topic: string, payload: Buffer, binary: boolean, skip?: (subscriber: S) => boolean): number {
    const subscribers = this.registry.subscribers(topic);
    if (subscribers === undefined) return 0;
    const publication = Publication.fromBytes(topic, payload, binary);
    const { maxBackpressure, slowSubscriberPolicy } = this.options;
    let delivered = 0;
    for (const subscriber of subscribers) {
      if (skip?.(subscriber) === true) continue;
      if (subscriber.deliver(publication, maxBackpressure, slowSubscriberPolicy)) delivered++;
    }
    return delivered;
  }

  /**
   * One page of `topic`'s history after `since` (at most `limit`
   * publications), or undefined when the topic keeps none.
   */
  async history(topic: string, since: StreamPosition, limit: number): Promise<HistoryRead | undefined> {
    const read = this.broker.history;
    if (read === undefined || this.broker.deliversOwn?.(topic) !== true) return undefined;
    const page = await read.call(this.broker, checkTopic(topic, this.options.maxTopicLength), since, limit);
    const publications: Publication[] = [];
    for (const [offset, message] of page.entries) {
      const publication = this.broker.unwrap?.(topic, message, { offset, epoch: page.position.epoch });
      if (publication !== undefined) publications.push(publication);
    }
    return { publications, position: page.position, recovered: page.recovered, reason: page.reason, complete: page.complete };
  }

  /** Whether `topic` keeps history (its publications have positions). */
  hasHistory(topic: string): boolean {
    return this.broker.history !== undefined && this.broker.deliversOwn?.(topic) === true;
  }

  /** Subscribers of `topic` in this process, in O(1). */
  count(topic: string): number {
    return (isRoute(topic) ? this.routes : this.registry).count(topic);
  }

  /** Subscribers of `topic` in every process of the server. */
  async countEverywhere(topic: string): Promise<number> {
    const answers = await this.broker.gather({ kind: 'subscribers', topic });
    return answers.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
  }

  // BrokerHost.
  deliver(topic: string, payload: Buffer, binary: boolean, position?: StreamPosition, ownToken?: number, kind: PublicationKind = PublicationKind.Data): void {
    if (kind !== PublicationKind.Data) {
      this.hooks.onSignal?.(kind, topic, payload);
      return;
    }
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
    return question.kind === 'subscribers' && typeof question.topic === 'string' ? this.count(question.topic) : this.hooks.answer(question);
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

  undelivered(topic: string, error: Error, token: number, cause = 'broker'): void {
    this.own.delete(token);
    this.counters.undelivered++;
    this.counters.lost(cause);
    this.hooks.onUndelivered(topic, error);
  }

  recoveryFailed(topic: string, reason: 'epoch' | 'trimmed', had: StreamPosition, now: StreamPosition): void {
    this.counters.unrecovered++;
    this.counters.lost(`history-${reason}`);
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
    const route = isRoute(publication.topic);
    const subscribers = (route ? this.routes : this.registry).subscribers(publication.topic);
    if (subscribers === undefined) return 0;
    const maxBackpressure = options?.maxBackpressure ?? this.options.maxBackpressure;
    const policy = options?.slowSubscriberPolicy ?? this.options.slowSubscriberPolicy;
    let delivered = 0;
    const position = publication.position;
    const positioned = position !== undefined && this.positioned.size > 0 ? this.positioned : undefined;
    for (const subscriber of subscribers) {
      if (subscriber === skip) continue;
      const state = positioned?.get(subscriber)?.get(publication.topic);
      if (state !== undefined) {
        if (state.waiting !== undefined) {
          state.waiting.push(publication);
          continue;
        }
        const through = state.through;
        if (through !== undefined && position !== undefined && through.epoch === position.epoch && position.offset <= through.offset) continue;
        state.liveFrom ??= position;
      }
      if (subscriber.deliver(publication, maxBackpressure, policy)) delivered++;
    }
    return delivered;
  }
}
