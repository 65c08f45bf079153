// Fan-out to 1,000 subscribers over plain TCP on loopback, one of which never
// reads: the other 999 get every one of 10,000 messages, in order; the slow
// one is skipped ('drop', with a 'drop' event each and the count in /stats)
// or closed with 1008 ('close'); the server's memory stays bounded.
//
// Loopback's kernel buffers take ~4 MB of a socket that is not read before
// the server sees any backpressure, so the slow one is first filled through a
// topic of its own ("bulk"); from then on it is above maxBackpressure.
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { eventually } from '../helpers/poll.js';
import { upgradeRequest } from '../helpers/raw-client.js';
import { PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

const SUBSCRIBERS = 1000;
const KiB = 1024;

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

/**
 * A subscriber that reads frames as they come and checks each one: text,
 * unfragmented, an 8-digit sequence number that is the next one
 * expected. It keeps nothing but counters.
 */
class CountingSubscriber {
  received = 0;
  broken: string | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private upgraded = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.take(chunk));
  }

  static open(port: number, path: string): Promise<CountingSubscriber> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(upgradeRequest({ path })));
      const subscriber = new CountingSubscriber(socket);
      socket.once('error', reject);
      const check = (): void => {
        if (subscriber.upgraded) resolve(subscriber);
        else setImmediate(check);
      };
      check();
    });
  }

  private take(chunk: Buffer): void {
    let bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (!this.upgraded) {
      const end = bytes.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pending = bytes;
        return;
      }
      if (!bytes.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) this.broken = 'no 101';
      this.upgraded = true;
      bytes = bytes.subarray(end + 4);
    }
    let at = 0;
    while (bytes.length - at >= 2) {
      const length = bytes[at + 1] & 0x7f;
      if (length >= 126) {
        this.broken ??= 'unexpected long frame';
        return;
      }
      if (bytes.length - at < 2 + length) break;
      if (bytes[at] !== 0x81) this.broken ??= `first byte 0x${bytes[at].toString(16)}`;
      const seq = Number(bytes.toString('latin1', at + 2, at + 10));
      if (seq !== this.received) this.broken ??= `got ${seq} where ${this.received} was due`;
      this.received++;
      at += 2 + length;
    }
    this.pending = at === bytes.length ? Buffer.alloc(0) : Buffer.from(bytes.subarray(at));
  }
}

/** Message `seq`: 32 bytes of text, the sequence number in its first eight digits. */
function message(seq: number): string {
  return String(seq).padStart(8, '0') + 'a'.repeat(24);
}

/** Bytes of ArrayBuffers held once garbage is collected and V8's sweeper has freed it. */
async function retained(): Promise<number> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = process.memoryUsage().arrayBuffers;
    if (Math.abs(now - last) < 64 * KiB) return Math.min(now, last);
    last = now;
  }
  return last;
}

async function fanOut(policy: 'drop' | 'close', messages: number): Promise<void> {
  const slowSide: { drops: number; ws?: Connection } = { drops: 0 };
  ts = await startServer(PLAIN_MODE, {
    echo: false,
    slowSubscriberPolicy: policy,
    closeTimeout: 500,
    maxConnections: SUBSCRIBERS + 10,
  });
  const server = ts;
  server.server.on('connection', (ws, request) => {
    ws.subscribe('main');
    if (request.path === '/slow') {
      ws.subscribe('bulk');
      slowSide.ws = ws;
      ws.on('drop', () => slowSide.drops++);
    }
  });
  const subscribers: CountingSubscriber[] = [];
  for (let i = 0; i < SUBSCRIBERS - 1; i++) subscribers.push(await CountingSubscriber.open(server.port, '/'));
  const slow = await CountingSubscriber.open(server.port, '/slow');
  slow.socket.pause();
  await eventually(() => server.server.subscriberCount('main') === SUBSCRIBERS, 10_000, 'everyone subscribed');
  const before = await retained();

  // Fill the slow one: its kernel buffers, then maxBackpressure (1 MiB).
  const chunk = Buffer.alloc(64 * KiB, 0x62);
  for (let i = 0; i < 200 && (slowSide.ws?.bufferedAmount ?? 0) <= 1024 * KiB; i++) {
    server.server.publish('bulk', chunk);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(slowSide.ws?.bufferedAmount).toBeGreaterThan(1024 * KiB);

  // The stream: as fast as the 999 absorb it, 200 messages a tick.
  for (let seq = 0; seq < messages; seq++) {
    server.server.publish('main', message(seq));
    if (seq % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
  }
  await eventually(() => subscribers.every((s) => s.received === messages || s.broken !== undefined), 60_000, 'every fast subscriber has everything');
  for (const s of subscribers) {
    expect(s.broken).toBeUndefined();
    expect(s.received).toBe(messages);
  }
  // Held for the slow one: at most maxBackpressure plus what was in flight when it crossed it.
  expect(slowSide.ws?.bufferedAmount ?? 0).toBeLessThan(1024 * KiB + 256 * KiB);
  const after = await retained();
  expect(after - before, 'ArrayBuffer memory retained by the fan-out').toBeLessThan(16 * 1024 * KiB);

  const stats = JSON.parse(server.server.statsJson()) as { topics: { dropped: number; published: number }; exits: Record<string, number> };
  expect(stats.topics.published).toBeGreaterThanOrEqual(messages);
  if (policy === 'drop') {
    expect(slowSide.drops).toBeGreaterThanOrEqual(messages);
    expect(stats.topics.dropped).toBe(slowSide.drops);
    expect(slowSide.ws?.readyState).toBe(1);
    expect(slow.received).toBe(0);
  } else {
    expect(stats.exits).toEqual({ WS_ERR_SLOW_SUBSCRIBER: 1 });
    expect(slowSide.ws?.readyState).not.toBe(1);
  }
  for (const s of [...subscribers, slow]) s.socket.destroy();
}

describe('slow subscribers never hold the others back', () => {
  it("'drop' (default): 999 get all 10,000 messages in order; the one that never reads misses them, each one a 'drop'", async () => {
    await fanOut('drop', 10_000);
  }, 120_000);

  it("'close': the one that never reads is closed with 1008 (WS_ERR_SLOW_SUBSCRIBER); 999 get all 2,000 messages in order", async () => {
    await fanOut('close', 2_000);
  }, 120_000);
});
