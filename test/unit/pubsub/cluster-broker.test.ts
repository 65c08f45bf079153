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

describe('ClusterBroker', () => {
  it("a tick's publications leave as one IPC message, in order; a subscription first sends what was published before it", async () => {
    const channel = new FakeChannel();
    const broker = new ClusterBroker(channel);
    broker.start(host());
    broker.publish('a', Buffer.from('1'), false);
    broker.publish('b', Buffer.from('2'), true);
    broker.subscribe('c');
    broker.publish('a', Buffer.from('3'), false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.sent.map((m) => (m.wssd === 'pub' ? m.batch.map(([t, p]) => `${t}=${Buffer.from(p).toString()}`).join(',') : `${m.wssd} ${'topic' in m ? m.topic : ''}`))).toEqual([
      'a=1,b=2',
      'sub c',
      'a=3',
    ]);
  });

  it(`past ${MAX_UNSENT} messages Node has not written, a publication is reported undelivered; written ones make room again`, () => {
    const channel = new FakeChannel();
    const broker = new ClusterBroker(channel);
    const h = host();
    broker.start(h);
    for (let i = 0; i < MAX_UNSENT; i++) {
      broker.publish('t', Buffer.from(String(i)), false);
      broker.subscribe(`flush-${i}`); // flushes the pending publication now
    }
    expect(h.failed).toEqual([]);
    broker.publish('t', Buffer.from('one too many'), false);
    expect(h.failed).toEqual(['t']);
    channel.callbacks[0](null);
    broker.publish('t', Buffer.from('room again'), false);
    expect(h.failed).toEqual(['t']);
  });
});
