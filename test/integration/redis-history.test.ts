// History in Redis, so nothing is lost silently: offsets and an epoch per
// topic, subscribers everywhere in one order, a client resuming from its
// position, and a node that lost Redis recovering what it missed — or being
// told it cannot (trimmed, or Redis came back empty: a new epoch).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, ResumeResult, StreamPosition } from '../../src/index.js';
import { eventually } from '../helpers/poll.js';
import type { RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';
import { V1Raw } from '../helpers/v1-raw.js';
import { PLAIN_MODE, startServer, type StartOptions, type TestServer } from '../helpers/test-server.js';

let redis: RedisServer | undefined;
const nodes: TestServer[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  await redis?.stop();
  redis = undefined;
});

interface Seen {
  positions: StreamPosition[];
  resumes: ResumeResult[];
}

/** A node whose connections subscribe to /TOPIC, from ?offset=N&epoch=E when given, and record positions and resumes. */
async function node(url: string, extra: StartOptions = {}): Promise<{ ts: TestServer; seen: Map<number, Seen> }> {
  const ts = await startServer(PLAIN_MODE, { echo: false, redis: url, historySize: 100, ...extra });
  const seen = new Map<number, Seen>();
  ts.server.on('connection', (ws: Connection, request) => {
    const record: Seen = { positions: [], resumes: [] };
    seen.set(ws.remotePort, record);
    ws.on('publication', (_topic, position) => record.positions.push(position));
    ws.on('resume', (_topic, result) => record.resumes.push(result));
    const q = new URLSearchParams(request.query);
    const since = q.has('offset') ? { offset: Number(q.get('offset')), epoch: q.get('epoch') ?? '' } : undefined;
    ws.subscribe(request.path.slice(1), { since });
  });
  nodes.push(ts);
  await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected to Redis');
  return { ts, seen };
}

async function texts(client: RawClient, n: number, ms = 5000): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await client.readFrame(ms)).payload.toString());
  return out;
}

const seq = (from: number, to: number, tag = 'm'): string[] => Array.from({ length: to - from }, (_, i) => `${tag}${from + i}`);

/**
 * A TCP proxy to Redis that holds, on the node's command connection, each chunk matching
 * `commands` for `commandsMs`, and on its subscriber connection (the one that sent SUBSCRIBE)
 * each pub/sub message (and what follows it) for `messagesMs`, or each chunk matching
 * `subscriberCommands` for `subscriberMs`: two connections' races made to go one way.
 */
async function delayingProxy(
  redisPort: number,
  holds: { commands?: RegExp; commandsMs?: number; subscriberCommands?: RegExp; subscriberMs?: number; messagesMs?: number },
): Promise<{ port: number; held: number; close(): void }> {
  const state = { port: 0, held: 0, close: () => server.close() };
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    let subscriber = false;
    const pipe = (from: net.Socket, to: net.Socket, delayOf: (text: string) => number): void => {
      let chain = Promise.resolve();
      from.on('data', (chunk: Buffer) => {
        const ms = delayOf(chunk.toString('latin1'));
        if (ms > 0) state.held++;
        chain = chain.then(() => new Promise((resolve) => setTimeout(resolve, ms))).then(() => void (to.destroyed || to.write(chunk)));
      });
      from.on('close', () => void chain.then(() => to.destroy()));
      from.on('error', () => {});
    };
    pipe(client, upstream, (text) => {
      if (/SUBSCRIBE/i.test(text)) subscriber = true;
      if (!subscriber && holds.commands?.test(text) === true) return holds.commandsMs ?? 0;
      if (subscriber && holds.subscriberCommands?.test(text) === true) return holds.subscriberMs ?? 0;
      return 0;
    });
    pipe(upstream, client, (text) => (subscriber && text.includes('message') ? (holds.messagesMs ?? 0) : 0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

describe('history in Redis: offsets, epochs, resume', () => {
  it('every subscriber, on every node, gets one order with consecutive offsets of one epoch; the publishing node too (through Redis)', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url);
    const b = await node(redis.url);
    const onA = await a.ts.open({ path: '/room' });
    const onB = await b.ts.open({ path: '/room' });
    await eventually(() => a.ts.server.subscriberCount('room') === 1 && b.ts.server.subscriberCount('room') === 1, 2000, 'subscribed');
    await new Promise((resolve) => setTimeout(resolve, 100)); // the SUBSCRIBEs reach Redis
    for (let i = 0; i < 20; i++) {
      // With history, local subscribers hear it from Redis with its position: 0 delivered at once.
      expect((i % 2 === 0 ? a : b).ts.server.publish('room', `m${i}`)).toBe(0);
    }
    const gotA = await texts(onA, 20);
    const gotB = await texts(onB, 20);
    expect(gotA).toEqual(gotB);
    expect([...gotA].sort()).toEqual([...seq(0, 20)].sort());
    const positionsA = a.seen.get(onA.socket.localPort ?? 0)?.positions ?? [];
    expect(positionsA.map((p) => p.offset)).toEqual(seq(1, 21, '').map(Number));
    expect(new Set(positionsA.map((p) => p.epoch)).size).toBe(1);
  });

  it('a wssd.v1 subscribe without a position to a topic whose history holds publications: answered with where the topic stands', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url, { clientSubscribePrefix: ['*'] });
    const watcher = await a.ts.open({ path: '/kept' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 3; i++) a.ts.server.publish('kept', `m${i}`);
    expect(await texts(watcher, 3)).toEqual(seq(0, 3));
    const read = await a.ts.server.history('kept', { offset: 0, epoch: '' }, 1);
    expect(read?.position.offset).toBe(3);
    // A wssd.v1 client subscribing without a position is answered with the topic's: a read of no publication.
    const v1 = await V1Raw.open(await a.ts.connect(), '/elsewhere');
    const reply = await v1.call('subscribe', { topic: 'kept' });
    expect(reply).toMatchObject({ result: { position: { offset: 3, epoch: read?.position.epoch } } });
    expect(reply.error).toBeUndefined();
  });

  it('a wssd.v1 subscribe without a position, its subscription slow to come in force: its own publication and another node\'s made meanwhile are pushed once, before the reply that counts them', async () => {
    redis = await RedisServer.start();
    // A's subscriber connection holds the PING that says a SUBSCRIBE is in force (300 ms) and every pub/sub message (600 ms).
    const proxy = await delayingProxy(redis.port, { subscriberCommands: /PING/i, subscriberMs: 300, messagesMs: 600 });
    try {
      const a = await node(`redis://127.0.0.1:${proxy.port}`, { clientSubscribePrefix: ['fresh:'], clientPublishPrefix: ['fresh:'], presencePrefix: ['fresh:'] });
      const b = await node(redis.url);
      const v1 = await V1Raw.open(await a.ts.connect(), '/elsewhere');
      await v1.push('subscribe', 5000); // the node's own subscription of the connection, settled
      const held = proxy.held;
      const subscribe = v1.send('subscribe', { topic: 'fresh:v1', presence: true });
      const publish = v1.send('publish', { topic: 'fresh:v1', data: 'mine' });
      await eventually(() => proxy.held > held, 3000, 'the subscription held back');
      // In arrival order, until the subscribe's reply: the publish's reply and the pushes.
      const order: Record<string, unknown>[] = [];
      const has = (match: (f: Record<string, unknown>) => boolean): boolean => order.some(match);
      while (!has((f) => f.id === publish)) order.push(await v1.take(() => true, 3000));
      expect(order.find((f) => f.id === publish)).toMatchObject({ result: { offset: 1 } });
      b.ts.server.publish('fresh:v1', 'theirs');
      while (!has((f) => f.id === subscribe)) order.push(await v1.take(() => true, 5000));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the live copies, held 600 ms, come and are not sent again
      while (v1.frames.length > 0) order.push(v1.frames.shift() as Record<string, unknown>);
      const pubs = order.filter((f) => f.push === 'pub').map((f) => `${String(f.data)}@${String(f.offset)}`);
      expect(pubs).toEqual(['mine@1', 'theirs@2']);
      const reply = order.findIndex((f) => f.id === subscribe);
      expect(order[reply]).toMatchObject({ result: { recovered: true, position: { offset: 2 } } });
      expect(order.slice(reply).some((f) => f.push === 'pub')).toBe(false);
    } finally {
      proxy.close();
    }
  });

  it('a publication made between a subscription coming in force and the node reading where the topic stands is delivered, not taken as seen', async () => {
    redis = await RedisServer.start();
    // Node A reaches Redis through a proxy that holds A's HMGET (where the topic stands) 300 ms and
    // the pub/sub messages to A 600 ms: a publication from node B lands after the SUBSCRIBE and
    // before the HMGET, and reaches A after the HMGET's answer, which already counts it.
    const proxy = await delayingProxy(redis.port, { commands: /HMGET/i, commandsMs: 300, messagesMs: 600 });
    try {
      const a = await node(`redis://127.0.0.1:${proxy.port}`);
      const b = await node(redis.url);
      const onA = await a.ts.open({ path: '/fresh' });
      await eventually(() => proxy.held > 0, 3000, 'A reading where the topic stands');
      b.ts.server.publish('fresh', 'between');
      expect(await texts(onA, 1)).toEqual(['between']);
    } finally {
      proxy.close();
    }
  });

  it('ws.publish with history still skips the sender', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url);
    const sender = await a.ts.open({ path: '/t' });
    const other = await a.ts.open({ path: '/t' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const senderSide = await a.ts.serverSide(sender);
    senderSide.connection.publish('t', 'from sender');
    expect(await texts(other, 1)).toEqual(['from sender']);
    senderSide.connection.send('marker');
    expect(await texts(sender, 1)).toEqual(['marker']);
  });

  it('a client resuming from its position gets exactly what it missed, then the live ones; trimmed or another epoch is said so', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url, { historySize: 10 });
    const first = await a.ts.open({ path: '/news' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 8; i++) a.ts.server.publish('news', `m${i}`);
    expect(await texts(first, 8)).toEqual(seq(0, 8));
    const at = a.seen.get(first.socket.localPort ?? 0)?.positions[4] as StreamPosition;
    expect(at.offset).toBe(5);
    first.destroy();
    // Missed m5..m7 (offsets 6..8); then two more are published while it catches up.
    const back = await a.ts.open({ path: `/news?offset=${at.offset}&epoch=${at.epoch}` });
    a.ts.server.publish('news', 'm8');
    a.ts.server.publish('news', 'm9');
    expect(await texts(back, 5)).toEqual(seq(5, 10));
    const record = a.seen.get(back.socket.localPort ?? 0) as Seen;
    await eventually(() => record.resumes.length === 1, 2000, 'the resume reported');
    // m5..m7 came from the history; m8 and m9 from it too, or live, as the replay's read fell: each once, in order (above).
    expect(record.resumes[0]).toMatchObject({ recovered: true, position: { epoch: at.epoch } });
    expect(record.resumes[0].replayed).toBeGreaterThanOrEqual(3);
    expect(record.resumes[0].replayed).toBe((record.resumes[0].position?.offset ?? 0) - 5);

    // 20 more: the history (10) no longer reaches back to offset 5.
    for (let i = 10; i < 30; i++) a.ts.server.publish('news', `m${i}`);
    expect((await texts(back, 20)).at(-1)).toBe('m29');
    const late = await a.ts.open({ path: `/news?offset=5&epoch=${at.epoch}` });
    const lateRecord = a.seen.get(late.socket.localPort ?? 0) as Seen;
    await eventually(() => lateRecord.resumes.length === 1, 2000, 'the trimmed resume reported');
    expect(lateRecord.resumes[0]).toMatchObject({ recovered: false, reason: 'trimmed', replayed: 10 });
    expect(await texts(late, 10)).toEqual(seq(20, 30));
    const stranger = await a.ts.open({ path: '/news?offset=3&epoch=not-this-one' });
    const strangerRecord = a.seen.get(stranger.socket.localPort ?? 0) as Seen;
    await eventually(() => strangerRecord.resumes.length === 1, 2000, 'the epoch mismatch reported');
    expect(strangerRecord.resumes[0]).toMatchObject({ recovered: false, reason: 'epoch' });
  });

  it('Redis killed during a steady publish and restarted with its data: the other node loses nothing, duplicates nothing, keeps the order', async () => {
    redis = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    // History long enough for everything published while the nodes were cut off (a shorter one is
    // reported as unrecovered, 'trimmed': the next test's kind of case).
    const a = await node(redis.url, { historySize: 2000 });
    const b = await node(redis.url, { historySize: 2000 });
    const onB = await b.ts.open({ path: '/steady' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    let sent = 0;
    const timer = setInterval(() => a.ts.server.publish('steady', `m${sent++}`), 5);
    try {
      await eventually(() => sent >= 60, 3000, 'publishing');
      await redis.kill();
      await eventually(() => sent >= 120, 3000, 'publishing while Redis is away');
      await redis.run();
      await eventually(() => sent >= 240, 5000, 'publishing after the restart');
    } finally {
      clearInterval(timer);
    }
    const got = await texts(onB, sent, 10_000);
    expect(got).toEqual(seq(0, sent));
    expect(JSON.parse(a.ts.server.statsJson()).topics).toMatchObject({ undelivered: 0, unrecovered: 0 });
    expect(JSON.parse(b.ts.server.statsJson()).topics).toMatchObject({ unrecovered: 0 });
  });

  it('Redis restarted empty: the node is told recovery is impossible (a new epoch), and goes on with the new history', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url);
    const b = await node(redis.url);
    const failures: string[] = [];
    b.ts.server.on('recoveryFailed', (topic, reason, had, now) => failures.push(`${topic} ${reason} ${had.offset}->${now.offset}`));
    const onB = await b.ts.open({ path: '/t' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 5; i++) a.ts.server.publish('t', `old${i}`);
    expect(await texts(onB, 5)).toEqual(seq(0, 5, 'old'));
    await redis.kill();
    await redis.run(true);
    await eventually(() => failures.length === 1, 5000, 'told');
    expect(failures).toEqual(['t epoch 5->0']);
    a.ts.server.publish('t', 'new0');
    expect(await texts(onB, 1)).toEqual(['new0']);
    expect(JSON.parse(b.ts.server.statsJson()).topics.unrecovered).toBe(1);
  });
});
