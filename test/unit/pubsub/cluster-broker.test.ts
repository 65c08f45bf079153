// The --workers bus in a worker, over a fake IPC channel: one message per
// tick of publications, in order; and a bound on what Node has not written
// yet, past which a publication is reported undelivered, not queued.
import { describe, expect, it } from 'vitest';
import type { BrokerHost } from '../../../src/pubsub/broker.js';
import { ClusterBroker, MAX_UNSENT, type IpcChannel } from '../../../src/pubsub/cluster-broker.js';
import type { ClusterMessage } from '../../../src/pubsub/cluster-messages.js';

class FakeChannel implements IpcChannel {
  sent: ClusterMessage[] = [];
  callbacks: ((error: Error | null) => void)[] = [];
  send(message: ClusterMessage, callback?: (error: Error | null) => void): void {
    this.sent.push(message);
    if (callback !== undefined) this.callbacks.push(callback);
  }
  on(): void {}
  off(): void {}
}

function host(): BrokerHost & { failed: string[] } {
  const failed: string[] = [];
  return { failed, deliver() {}, answer: () => undefined, undelivered: (topic) => failed.push(topic) };
}

/** A message as text: "ops s:c p:a=1 …" or its kind. */
function show(m: ClusterMessage): string {
  if (m.wssd !== 'ops') return m.wssd;
  return m.ops.map((op) => (op[0] === 'p' ? `p:${op[1]}=${Buffer.from(op[2]).toString()}` : `${op[0]}:${op[1]}`)).join(' ');
}

describe('ClusterBroker', () => {
  it("a tick's subscriptions and publications leave as one IPC message, in the order they were made", async () => {
    const channel = new FakeChannel();
    const broker = new ClusterBroker(channel);
    broker.start(host());
    broker.publish('a', Buffer.from('1'), false);
    broker.publish('b', Buffer.from('2'), true);
    broker.subscribe('c');
    broker.publish('a', Buffer.from('3'), false);
    broker.unsubscribe('c');
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.sent.map(show)).toEqual(['p:a=1 p:b=2 s:c p:a=3 u:c']);
  });

  it('10,000 subscriptions in one tick are one message, not 10,000', async () => {
    const channel = new FakeChannel();
    const broker = new ClusterBroker(channel);
    broker.start(host());
    for (let i = 0; i < 10_000; i++) broker.subscribe(`t${i}`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.sent).toHaveLength(1);
    expect(channel.sent[0].wssd === 'ops' && channel.sent[0].ops.length).toBe(10_000);
  });

  it(`past ${MAX_UNSENT} messages Node has not written, a publication is reported undelivered (subscriptions never are); written ones make room again`, async () => {
    const channel = new FakeChannel();
    const broker = new ClusterBroker(channel);
    const h = host();
    broker.start(h);
    for (let i = 0; i < MAX_UNSENT; i++) {
      broker.publish('t', Buffer.from(String(i)), false);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(channel.sent).toHaveLength(MAX_UNSENT);
    expect(h.failed).toEqual([]);
    broker.publish('t', Buffer.from('one too many'), false);
    broker.subscribe('still-carried');
    expect(h.failed).toEqual(['t']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(show(channel.sent[channel.sent.length - 1])).toBe('s:still-carried');
    channel.callbacks[0](null);
    channel.callbacks[1](null);
    broker.publish('t', Buffer.from('room again'), false);
    expect(h.failed).toEqual(['t']);
  });
});
