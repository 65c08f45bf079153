// Topics for one server process: subscriptions (the registry), publishing to
// the local subscribers — each publication encoded once, each subscriber
// judged by the slow-subscriber policy — and the broker that carries
// publications to and from the other processes or machines of the server.
import type { ServerStats } from '../stats.js';
import type { Broker, BrokerHost, BrokerQuestion } from './broker.js';
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

/** How a subscriber takes a publication; Connection implements it. */
export interface Subscriber {
  /** Delivers unless closing or slow (then `policy` applies); true when delivered. */
  deliver(publication: Publication, maxBackpressure: number, policy: SlowSubscriberPolicy): boolean;
}

export interface PubSubOptions {
  maxTopicLength: number;
  maxBackpressure: number;
  slowSubscriberPolicy: SlowSubscriberPolicy;
}

export class PubSub<S extends Subscriber> implements BrokerHost {
  readonly registry: TopicRegistry<S>;
  private readonly broker: Broker;
  private readonly options: PubSubOptions;
  private readonly counters: ServerStats;
  private readonly answerStats: () => unknown;

  constructor(broker: Broker, options: PubSubOptions, counters: ServerStats, onSubscription: SubscriptionListener, answerStats: () => unknown) {
    this.broker = broker;
    this.options = options;
    this.counters = counters;
    this.answerStats = answerStats;
    this.registry = new TopicRegistry<S>((topic, count, previous) => {
      // Interest routing: the bus carries a topic here only while someone here wants it.
      if (previous === 0) broker.subscribe(topic);
      else if (count === 0) broker.unsubscribe(topic);
      onSubscription(topic, count, previous);
    });
    broker.start(this);
  }

  subscribe(subscriber: S, topic: string): boolean {
    return this.registry.subscribe(subscriber, checkTopic(topic, this.options.maxTopicLength));
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
  deliver(topic: string, payload: Buffer, binary: boolean): void {
    this.counters.publishedElsewhere++;
    this.deliverLocal(Publication.fromBytes(topic, payload, binary), undefined, undefined);
  }

  answer(question: BrokerQuestion): unknown {
    return question.kind === 'subscribers' ? this.registry.count(question.topic) : this.answerStats();
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
    for (const subscriber of subscribers) {
      if (subscriber !== skip && subscriber.deliver(publication, maxBackpressure, policy)) delivered++;
    }
    return delivered;
  }
}
