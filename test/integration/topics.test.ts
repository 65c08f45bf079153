// Topics over real sockets in one process: subscribe and publish as a
// uWebSockets.js or Bun user knows them, the subscription events, nothing
// left behind by closed connections, one socket write per connection per
// tick whatever it was sent, order between send and publish, and a
// subscriber that never reads held to maxBackpressure while the others get
// everything.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { eventually } from '../helpers/poll.js';
import { Op, type RawClient } from '../helpers/raw-client.js';
import { PLAIN_MODE, startServer, TLS_MODE, type StartOptions, type TestServer } from '../helpers/test-server.js';

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

/** A server whose connections run `onConnection` (no echo). */
async function start(options: StartOptions & { onConnection?: (ws: Connection, path: string) => void } = {}, mode = PLAIN_MODE): Promise<TestServer> {
  const { onConnection, ...rest } = options;
  ts = await startServer(mode, { echo: false, ...rest });
  if (onConnection !== undefined) ts.server.on('connection', (ws, request) => onConnection(ws, request.path + (request.query ? `?${request.query}` : '')));
  return ts;
}

/** Opens a client and returns it with its server-side Connection. */
async function open(server: TestServer, path = '/'): Promise<{ client: RawClient; ws: Connection }> {
  const client = await server.open({ path });
  const side = await server.serverSide(client);
  return { client, ws: side.connection };
}

describe('topics: the API', () => {
  it('subscribe, isSubscribed, topics, unsubscribe; publish reaches every subscriber (text and binary) and returns the count', async () => {
    const server = await start();
    const a = await open(server);
    const b = await open(server);
    const outsider = await open(server);
    expect(a.ws.subscribe('news')).toBe(true);
    expect(a.ws.subscribe('news')).toBe(false);
    expect(a.ws.subscribe('sport')).toBe(true);
    expect(b.ws.subscribe('news')).toBe(true);
    expect(a.ws.isSubscribed('news')).toBe(true);
    expect(outsider.ws.isSubscribed('news')).toBe(false);
    expect(a.ws.topics).toEqual(['news', 'sport']);
    expect(server.server.subscriberCount('news')).toBe(2);

    expect(server.server.publish('news', 'héllo')).toBe(2);
    expect(server.server.publish('news', Buffer.from([0, 255]))).toBe(2);
    for (const c of [a, b]) {
      const text = await c.client.readFrame();
      expect([text.opcode, text.payload.toString()]).toEqual([Op.Text, 'héllo']);
      const binary = await c.client.readFrame();
      expect([binary.opcode, binary.payload]).toEqual([Op.Binary, Buffer.from([0, 255])]);
    }
    expect(a.ws.unsubscribe('news')).toBe(true);
    expect(a.ws.unsubscribe('news')).toBe(false);
    expect(server.server.publish('news', 'b only')).toBe(1);
    expect(server.server.publish('nobody-here', 'x')).toBe(0);
    // What came to `a` and the outsider next is a marker, not the publications they did not want.
    a.ws.send('marker');
    outsider.ws.send('marker');
    expect((await a.client.readFrame()).payload.toString()).toBe('marker');
    expect((await outsider.client.readFrame()).payload.toString()).toBe('marker');
    expect((await b.client.readFrame()).payload.toString()).toBe('b only');
  });

  it('ws.publish reaches every subscriber but the sender', async () => {
    const server = await start();
    const a = await open(server);
    const b = await open(server);
    a.ws.subscribe('room');
    b.ws.subscribe('room');
    expect(a.ws.publish('room', 'from a')).toBe(1);
    a.ws.send('marker');
    expect((await b.client.readFrame()).payload.toString()).toBe('from a');
    expect((await a.client.readFrame()).payload.toString()).toBe('marker');
  });

  it("'subscription' events give (topic, count, previousCount), including 1 → 0 when a subscriber closes", async () => {
    const server = await start();
    const events: [string, number, number][] = [];
    server.server.on('subscription', (topic, count, previous) => events.push([topic, count, previous]));
    const a = await open(server);
    const b = await open(server);
    a.ws.subscribe('t');
    b.ws.subscribe('t');
    b.ws.unsubscribe('t');
    a.client.sendClose(1000);
    await eventually(() => events.length === 4, 3000, 'the 1 → 0 on close');
    expect(events).toEqual([
      ['t', 1, 0],
      ['t', 2, 1],
      ['t', 1, 2],
      ['t', 0, 1],
    ]);
  });

  it('2,000 connections joining 10 topics each, then closing, leave no topic and no subscriber behind', async () => {
    const server = await start({ onConnection: (ws) => { for (let t = 0; t < 10; t++) ws.subscribe(`topic-${(ws.remotePort + t) % 50}`); } });
    const clients: RawClient[] = [];
    for (let i = 0; i < 2000; i++) clients.push(await server.open());
    await eventually(() => server.accepted.length === 2000, 5000, 'all accepted');
    const registry = (server.server as unknown as { pubsub: { registry: { topicCount: number; subscriberCount: number } } }).pubsub.registry;
    expect(registry.subscriberCount).toBe(2000);
    expect(registry.topicCount).toBe(50);
    for (const [i, c] of clients.entries()) {
      if (i % 2 === 0) c.sendClose(1000);
      else c.destroy();
    }
    await eventually(() => server.server.connections.size === 0, 10_000, 'every connection gone');
    expect(registry.subscriberCount).toBe(0);
    expect(registry.topicCount).toBe(0);
    // A closed connection cannot join again.
    expect(server.accepted[0].connection.subscribe('late')).toBe(false);
    expect(registry.topicCount).toBe(0);
  });

  it('topic names are bounded (maxTopicLength) and checked: a bad one throws at the call, the connection is unharmed', async () => {
    const server = await start({ maxTopicLength: 8 });
    const a = await open(server);
    expect(() => a.ws.subscribe('123456789')).toThrow(RangeError);
    expect(() => server.server.publish('123456789', 'x')).toThrow(RangeError);
    expect(a.ws.subscribe('12345678')).toBe(true);
    expect(server.server.publish('12345678', 'ok')).toBe(1);
    expect((await a.client.readFrame()).payload.toString()).toBe('ok');
  });
});

describe('topics: writes, order, slow subscribers', () => {
  it('everything one connection is sent in a tick — its sends and many publishes — leaves in one socket write, in order (3 subscribers taking turns)', async () => {
    const server = await start();
    const subscribers = [await open(server), await open(server), await open(server)];
    const chunks = subscribers.map(() => 0);
    subscribers.forEach((c, i) => {
      c.ws.subscribe('x');
      c.ws.subscribe('y');
      c.client.socket.on('data', () => chunks[i]++);
    });
    const expected: string[][] = subscribers.map(() => []);
    for (let i = 0; i < 30; i++) {
      server.server.publish(i % 2 === 0 ? 'x' : 'y', `pub ${i}`);
      for (const list of expected) list.push(`pub ${i}`);
      if (i % 5 === 0) {
        subscribers.forEach((c, k) => {
          c.ws.send(`send ${i} to ${k}`);
          expected[k].push(`send ${i} to ${k}`);
        });
      }
    }
    for (const [k, c] of subscribers.entries()) {
      const got: string[] = [];
      for (let i = 0; i < expected[k].length; i++) got.push((await c.client.readFrame()).payload.toString());
      expect(got).toEqual(expected[k]);
    }
    expect(chunks).toEqual([1, 1, 1]);
  });

  it('over TLS too: sends and publishes interleave in the order they were made', async () => {
    const server = await start({}, TLS_MODE);
    const a = await open(server);
    a.ws.subscribe('x');
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 0) {
        a.ws.send(`send ${i}`);
        expected.push(`send ${i}`);
      } else {
        server.server.publish('x', i % 3 === 1 ? `pub ${i}` : Buffer.from(`bin ${i}`));
        expected.push(i % 3 === 1 ? `pub ${i}` : `bin ${i}`);
      }
      // Some ticks end in between.
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    const got: string[] = [];
    for (let i = 0; i < expected.length; i++) got.push((await a.client.readFrame()).payload.toString());
    expect(got).toEqual(expected);
  });
});
