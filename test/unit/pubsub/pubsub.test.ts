// PubSub without sockets: a publication is encoded once and the same object
// reaches every subscriber; the sender is skipped; the broker hears 0 → 1 and
// 1 → 0 only, and every local publication; deliveries from the broker reach
// the local subscribers; topic names are checked.
import { describe, expect, it } from 'vitest';
import type { Broker, BrokerHost, BrokerQuestion } from '../../../src/pubsub/broker.js';
import type { Publication } from '../../../src/pubsub/publication.js';
import { PubSub, type SlowSubscriberPolicy, type Subscriber } from '../../../src/pubsub/pubsub.js';
import { ServerStats } from '../../../src/telemetry/stats.js';
import { parseServerFrames } from '../helpers/server-frames.js';

class FakeSubscriber implements Subscriber {
  got: { publication: Publication; maxBackpressure: number; policy: SlowSubscriberPolicy }[] = [];
  constructor(private readonly accepts = true) {}
  deliver(publication: Publication, maxBackpressure: number, policy: SlowSubscriberPolicy): boolean {
    this.got.push({ publication, maxBackpressure, policy });
    return this.accepts;
  }
}

class RecordingBroker implements Broker {
  calls: string[] = [];
  host: BrokerHost | undefined;
  start(host: BrokerHost): void {
    this.host = host;
  }
  subscribe(topic: string): void {
    this.calls.push(`sub ${topic}`);
  }
  unsubscribe(topic: string): void {
    this.calls.push(`unsub ${topic}`);
  }
  publish(topic: string, payload: Buffer, binary: boolean): void {
    this.calls.push(`pub ${topic} ${binary ? payload.toString('hex') : payload.toString()}`);
  }
  gather(question: BrokerQuestion): Promise<unknown[]> {
    return Promise.resolve([this.host?.answer(question), 5]);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function setup() {
  const broker = new RecordingBroker();
  const counters = new ServerStats();
  const changes: [string, number, number][] = [];
  const pubsub = new PubSub<FakeSubscriber>(broker, { maxTopicLength: 16, maxBackpressure: 1000, slowSubscriberPolicy: 'drop', maxTopicsPerConnection: 3, maxTopics: 5 }, counters, {
    onSubscription: (t, c, p) => changes.push([t, c, p]),
    answer: () => ({ stats: true }),
    onBrokerState: () => {},
    onUndelivered: () => {},
    onRecoveryFailed: () => {},
  });
  return { broker, counters, changes, pubsub };
}

describe('PubSub', () => {
  it('encodes once: every subscriber gets the same Publication, its frame the RFC 6455 text frame', () => {
    const { pubsub } = setup();
    const subs = [new FakeSubscriber(), new FakeSubscriber(), new FakeSubscriber()];
    for (const s of subs) pubsub.subscribe(s, 'room');
    expect(pubsub.publish('room', 'héllo')).toBe(3);
    const first = subs[0].got[0].publication;
    for (const s of subs) expect(s.got[0].publication).toBe(first);
    expect(parseServerFrames(first.frame as Buffer)).toEqual([{ fin: true, opcode: 1, payload: Buffer.from('héllo') }]);
  });

  it('binary by default for bytes; a large payload is shared, not framed (each subscriber writes its own header)', () => {
    const { pubsub } = setup();
    const s = new FakeSubscriber();
    pubsub.subscribe(s, 'bin');
    const big = Buffer.alloc(100_000, 1);
    pubsub.publish('bin', big);
    pubsub.publish('bin', Buffer.from([1, 2]), { binary: false });
    expect(s.got[0].publication.binary).toBe(true);
    expect(s.got[0].publication.frame).toBeUndefined();
    expect(s.got[0].publication.payload).toBe(big);
    expect(s.got[1].publication.binary).toBe(false);
  });

  it('the sender is skipped; the count is of local deliveries; a topic nobody wants costs nothing and returns 0', () => {
    const { pubsub } = setup();
    const a = new FakeSubscriber();
    const b = new FakeSubscriber();
    const closing = new FakeSubscriber(false);
    for (const s of [a, b, closing]) pubsub.subscribe(s, 't');
    expect(pubsub.publish('t', 'x', undefined, a)).toBe(1);
    expect(a.got).toHaveLength(0);
    expect(pubsub.publish('nobody', 'x')).toBe(0);
  });

  it('per-publish backpressure limit and policy override the server defaults', () => {
    const { pubsub } = setup();
    const s = new FakeSubscriber();
    pubsub.subscribe(s, 't');
    pubsub.publish('t', 'a');
    pubsub.publish('t', 'b', { maxBackpressure: 5, slowSubscriberPolicy: 'close' });
    expect(s.got.map((g) => [g.maxBackpressure, g.policy])).toEqual([
      [1000, 'drop'],
      [5, 'close'],
    ]);
  });

  it('interest routing: the broker hears 0 → 1 and 1 → 0 only, and each local publication once', () => {
    const { pubsub, broker, changes } = setup();
    const a = new FakeSubscriber();
    const b = new FakeSubscriber();
    pubsub.subscribe(a, 't');
    pubsub.subscribe(b, 't');
    pubsub.publish('t', 'hi');
    pubsub.unsubscribe(a, 't');
    pubsub.unsubscribeAll(b);
    expect(broker.calls).toEqual(['sub t', 'pub t hi', 'unsub t']);
    expect(changes).toEqual([
      ['t', 1, 0],
      ['t', 2, 1],
      ['t', 1, 2],
      ['t', 0, 1],
    ]);
  });

  it('deliveries from the broker reach the local subscribers and are counted, never sent back to the broker', async () => {
    const { pubsub, broker, counters } = setup();
    const s = new FakeSubscriber();
    pubsub.subscribe(s, 't');
    broker.host?.deliver('t', Buffer.from('from afar'), false);
    expect(s.got[0].publication.payload.toString()).toBe('from afar');
    expect(counters.publishedElsewhere).toBe(1);
    expect(broker.calls).toEqual(['sub t']);
    expect(await pubsub.countEverywhere('t')).toBe(6);
  });

  it('topic names: strings, not empty, well-formed, at most maxTopicLength bytes of UTF-8', () => {
    const { pubsub } = setup();
    const s = new FakeSubscriber();
    expect(pubsub.subscribe(s, 'x'.repeat(16))).toBe('subscribed');
    expect(pubsub.subscribe(s, 'é'.repeat(8))).toBe('subscribed');
    expect(() => pubsub.subscribe(s, 'é'.repeat(9))).toThrow(RangeError);
    expect(() => pubsub.subscribe(s, 'x'.repeat(17))).toThrow(/at most 16 bytes/);
    expect(() => pubsub.subscribe(s, '')).toThrow(RangeError);
    expect(() => pubsub.subscribe(s, 'a\ud800')).toThrow(/well-formed/);
    expect(() => pubsub.publish(42 as unknown as string, 'x')).toThrow(TypeError);
    expect(pubsub.subscribe(s, '😀')).toBe('subscribed');
    expect(() => pubsub.subscribe(s, '\u0000u:42')).toThrow(/reserved for the server/);
  });

  it('the length is checked before any pattern sees a name: 16 million units are refused for their length alone', () => {
    const { pubsub } = setup();
    // A lone surrogate at the end: were the pattern first, it would name that instead.
    const huge = 'x'.repeat(16 * 1024 * 1024) + '\ud800';
    expect(() => pubsub.subscribe(new FakeSubscriber(), huge)).toThrow(/at most 16 bytes of UTF-8, got at least 16777217/);
  });

  it('topic limits: per subscriber and per process, refused with their status and counted; routes count against neither', () => {
    const { pubsub, counters, broker } = setup();
    const a = new FakeSubscriber();
    const b = new FakeSubscriber();
    for (const t of ['t1', 't2', 't3']) expect(pubsub.subscribe(a, t)).toBe('subscribed');
    expect(pubsub.subscribe(a, 't3')).toBe('already');
    expect(pubsub.subscribe(a, 't4')).toBe('connection-limit');
    expect(pubsub.registry.topicsOf(a)).toEqual(['t1', 't2', 't3']);
    // The server's routes are outside the limits and outside the subscriber's topics.
    expect(pubsub.subscribeRoute(a, '\u0000u:42')).toBe(true);
    expect(pubsub.registry.topicsOf(a)).toEqual(['t1', 't2', 't3']);
    for (const t of ['t4', 't5']) expect(pubsub.subscribe(b, t)).toBe('subscribed');
    // Five distinct topics now: a sixth is refused, joining an existing one is not.
    expect(pubsub.subscribe(b, 't6')).toBe('server-limit');
    expect(pubsub.subscribe(b, 't1')).toBe('subscribed');
    expect(Object.fromEntries(counters.losses)).toEqual({ 'topic-limit': 2 });
    expect(broker.calls).not.toContain('sub t6');
    expect(broker.calls).toContain('sub \u0000u:42');
    // Leaving makes room again.
    pubsub.unsubscribe(a, 't1');
    expect(pubsub.subscribe(a, 't4')).toBe('subscribed');
  });
});
