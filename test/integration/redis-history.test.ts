// History in Redis, so nothing is lost silently: offsets and an epoch per
// topic, subscribers everywhere in one order, a client resuming from its
// position, and a node that lost Redis recovering what it missed — or being
// told it cannot (trimmed, or Redis came back empty: a new epoch).
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
