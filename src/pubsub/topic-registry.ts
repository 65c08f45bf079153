// Who is subscribed to what, in this process: the one structure behind
// subscribe, publish and the subscription counts. Pure: no sockets, no I/O.
//
// Two maps that mirror each other: topic → its subscribers (what a publish
// walks) and subscriber → its topics (what leaving on close walks). A topic
// or a subscriber without entries is removed at once, so nothing is left
// behind by connections that come and go. Every change of a topic's count is
// reported, old and new, which is what a bus between processes or machines
// needs: it subscribes upstream on 0 → 1 and unsubscribes on 1 → 0.

/** A change of a topic's local subscriber count. */
export type SubscriptionListener = (topic: string, count: number, previousCount: number) => void;

export class TopicRegistry<S> {
  private readonly byTopic = new Map<string, Set<S>>();
  private readonly bySubscriber = new Map<S, Set<string>>();
  private readonly onChange: SubscriptionListener;

  constructor(onChange: SubscriptionListener = () => {}) {
    this.onChange = onChange;
  }

  /** Adds `subscriber` to `topic`; false if it already was. */
  subscribe(subscriber: S, topic: string): boolean {
    let subscribers = this.byTopic.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.byTopic.set(topic, subscribers);
    } else if (subscribers.has(subscriber)) {
      return false;
    }
    subscribers.add(subscriber);
    let topics = this.bySubscriber.get(subscriber);
    if (topics === undefined) {
      topics = new Set();
      this.bySubscriber.set(subscriber, topics);
    }
    topics.add(topic);
    this.onChange(topic, subscribers.size, subscribers.size - 1);
    return true;
  }

  /** Removes `subscriber` from `topic`; false if it was not subscribed. */
  unsubscribe(subscriber: S, topic: string): boolean {
    const subscribers = this.byTopic.get(topic);
    if (subscribers === undefined || !subscribers.delete(subscriber)) return false;
    if (subscribers.size === 0) this.byTopic.delete(topic);
    const topics = this.bySubscriber.get(subscriber);
    if (topics !== undefined) {
      topics.delete(topic);
      if (topics.size === 0) this.bySubscriber.delete(subscriber);
    }
    this.onChange(topic, subscribers.size, subscribers.size + 1);
    return true;
  }

  /** Removes `subscriber` from every topic (it is gone); returns how many it left. */
  unsubscribeAll(subscriber: S): number {
    const topics = this.bySubscriber.get(subscriber);
    if (topics === undefined) return 0;
    let left = 0;
    for (const topic of [...topics]) if (this.unsubscribe(subscriber, topic)) left++;
    return left;
  }

  isSubscribed(subscriber: S, topic: string): boolean {
    return this.byTopic.get(topic)?.has(subscriber) ?? false;
  }

  /** The subscribers of `topic` (do not change the set while iterating it). */
  subscribers(topic: string): ReadonlySet<S> | undefined {
    return this.byTopic.get(topic);
  }

  /** Subscribers of `topic` in this process, in O(1). */
  count(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /** The topics `subscriber` is in, in the order it joined them. */
  topicsOf(subscriber: S): string[] {
    const topics = this.bySubscriber.get(subscriber);
    return topics === undefined ? [] : [...topics];
  }

  /** Topics `subscriber` is in. */
  topicCountOf(subscriber: S): number {
    return this.bySubscriber.get(subscriber)?.size ?? 0;
  }

  /** Topics with at least one subscriber. */
  get topicCount(): number {
    return this.byTopic.size;
  }

  /** Subscribers in at least one topic. */
  get subscriberCount(): number {
    return this.bySubscriber.size;
  }

  topics(): IterableIterator<string> {
    return this.byTopic.keys();
  }
}
