// History across faults, against a real redis-server: what Redis holds after
// it lost its data is delivered, not thrown away; a resume is replayed once
// per subscription, in pages, on a connection that is not the subscriber's,
// so a thousand clients resuming at once all recover; an unknown epoch is
// never a match.
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, ResumeResult, StreamPosition } from '../../src/index.js';
import { RedisClient } from '../../src/redis/redis-client.js';
import { parseRedisUrl } from '../../src/redis/redis-url.js';
import { eventually } from '../helpers/poll.js';
import { scaled } from '../helpers/timeouts.js';
import type { RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';
import { PLAIN_MODE, startServer, type StartOptions, type TestServer } from '../helpers/test-server.js';

let redis: RedisServer | undefined;
const nodes: TestServer[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  await redis?.stop();
  redis = undefined;
});

/**
 * A node whose connections subscribe to /TOPIC (from ?offset=N&epoch=E when
 * given), and on a message "resume OFFSET EPOCH" subscribe again from there;
 * every resume result is sent to the client as "resume {json}".
 */
async function node(url: string, extra: StartOptions = {}): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, redis: url, historySize: 100, ...extra });
  ts.server.on('connection', (ws: Connection, request) => {
    const topic = request.path.slice(1);
    ws.on('resume', (_topic, result: ResumeResult) => ws.send(`resume ${JSON.stringify(result)}`));
    ws.on('message', (data) => {
      const [, offset, epoch] = String(data).split(' ');
      ws.subscribe(topic, { since: { offset: Number(offset), epoch: epoch ?? '' } });
    });
    const q = new URLSearchParams(request.query);
    const since: StreamPosition | undefined = q.has('offset') ? { offset: Number(q.get('offset')), epoch: q.get('epoch') ?? '' } : undefined;
    ws.subscribe(topic, { since });
  });
  nodes.push(ts);
  await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected to Redis');
  return ts;
}

/** Frames until `n` publications (not resume reports) came; returns both. */
async function collect(client: RawClient, n: number, ms = 5000): Promise<{ texts: string[]; resumes: ResumeResult[] }> {
  const texts: string[] = [];
  const resumes: ResumeResult[] = [];
  while (texts.length < n) {
    const text = (await client.readFrame(ms)).payload.toString();
    if (text.startsWith('resume ')) resumes.push(JSON.parse(text.slice(7)) as ResumeResult);
    else texts.push(text);
  }
  return { texts, resumes };
}

/** The next `n` resume reports (publications in between are skipped). */
async function reports(client: RawClient, n: number): Promise<ResumeResult[]> {
  const out: ResumeResult[] = [];
  while (out.length < n) {
    const text = (await client.readFrame(5000)).payload.toString();
    if (text.startsWith('resume ')) out.push(JSON.parse(text.slice(7)) as ResumeResult);
  }
  return out;
}

const seq = (from: number, to: number, tag = 'm'): string[] => Array.from({ length: to - from }, (_, i) => `${tag}${from + i}`);

describe('history across faults', () => {
  it('Redis restarted empty while a node had 3,000 publications queued: every one of them reaches both nodes, once, in order; the gap is reported', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url, { historySize: 100_000 });
    const b = await node(redis.url, { historySize: 100_000 });
    const failures: string[] = [];
    b.server.on('recoveryFailed', (topic, reason, had) => failures.push(`${topic} ${reason} from ${had.offset}`));
    const onA = await a.open({ path: '/t' });
    const onB = await b.open({ path: '/t' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 5; i++) a.server.publish('t', `old${i}`);
    expect((await collect(onA, 5)).texts).toEqual(seq(0, 5, 'old'));
    expect((await collect(onB, 5)).texts).toEqual(seq(0, 5, 'old'));
    await redis.kill();
    await eventually(() => a.logs.lines('warn').some((l) => l.includes('retrying')), 3000, 'a noticed');
    for (let i = 0; i < 3000; i++) a.server.publish('t', `q${i}`);
    await redis.run(true);
    // The publishing node's own subscriber and the other node's: all 3,000 of the new epoch.
    expect((await collect(onA, 3000, 10_000)).texts).toEqual(seq(0, 3000, 'q'));
    expect((await collect(onB, 3000, 10_000)).texts).toEqual(seq(0, 3000, 'q'));
    await eventually(() => failures.length > 0, 3000, 'the epoch change reported');
    expect(failures[0]).toBe('t epoch from 5');
  });

  it('with a short history the other node gets what history still holds, in order, from its oldest entry, and is told', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url, { historySize: 1000 });
    const b = await node(redis.url, { historySize: 1000 });
    const onB = await b.open({ path: '/t' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    a.server.publish('t', 'old0');
    expect((await collect(onB, 1)).texts).toEqual(['old0']);
    await redis.kill();
    await eventually(() => a.logs.lines('warn').some((l) => l.includes('retrying')), 3000, 'a noticed');
    for (let i = 0; i < 10_000; i++) a.server.publish('t', `q${i}`);
    await redis.run(true);
    // What B gets: increasing, without a duplicate, ending with the last one, and at least the 1,000 the history holds.
    const got: number[] = [];
    while (got.at(-1) !== 9999) got.push(Number((await collect(onB, 1, 10_000)).texts[0].slice(1)));
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
    expect(got.length).toBeGreaterThanOrEqual(1000);
    expect(got.slice(-1000)).toEqual(Array.from({ length: 1000 }, (_, i) => 9000 + i));
    expect(JSON.parse(b.server.statsJson()).losses, JSON.stringify(JSON.parse(b.server.statsJson()))).toMatchObject({ 'history-epoch': 1 });
  });

  it('ten resumes of one subscription replay once; the others say it was resumed already', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url, { historySize: 1000 });
    const first = await a.open({ path: '/news' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 50; i++) a.server.publish('news', `m${i}`);
    await collect(first, 50);
    const meta = new RedisClient({ endpoint: parseRedisUrl(redis.url) });
    await meta.connect();
    const epoch = String(await meta.command(['HGET', 'wssd:meta:news', 'epoch']));
    await meta.close();
    // A connection subscribed (live from now on) asks ten times to resume from offset 10.
    const client = await a.open({ path: '/news' });
    for (let i = 0; i < 10; i++) client.sendText(`resume 10 ${epoch}`);
    const { texts, resumes } = await collect(client, 40);
    while (resumes.length < 10) resumes.push(...(await reports(client, 1)));
    expect(texts).toEqual(seq(10, 50));
    expect(resumes.filter((r) => r.recovered && r.replayed === 40)).toHaveLength(1);
    expect(resumes.filter((r) => r.reason === 'subscribed' && r.replayed === 0)).toHaveLength(9);
    // Nothing more comes: the nine others replayed nothing.
    a.server.publish('news', 'after');
    expect((await client.readFrame()).payload.toString()).toBe('after');
  });

  it('1,000 clients resuming at once over 100 × 1 KiB of history all recover, with a pubsub output limit of 1 MB on Redis', async () => {
    redis = await RedisServer.start({ args: ['--client-output-buffer-limit', 'pubsub 1mb 1mb 0'] });
    const a = await node(redis.url, { historySize: 100 });
    const seed = await a.open({ path: '/big' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const body = 'x'.repeat(1020);
    for (let i = 0; i < 100; i++) a.server.publish('big', `${String(i).padStart(3, '0')} ${body}`);
    await collect(seed, 100);
    const clients = await Promise.all(Array.from({ length: 1000 }, () => a.open({ path: '/big?offset=0&epoch=' })));
    const results = await Promise.all(
      clients.map(async (client) => {
        const { texts, resumes } = await collect(client, 100, 60_000);
        const report = resumes[0] ?? (await reports(client, 1))[0];
        return { first: texts[0].slice(0, 3), last: texts[99].slice(0, 3), count: texts.length, report };
      }),
    );
    for (const r of results) expect(r).toMatchObject({ first: '000', last: '099', count: 100, report: { recovered: true, replayed: 100 } });
    // The node never lost Redis over it.
    expect(JSON.parse(a.server.statsJson()).broker.outages).toBe(0);
    // A thousand handshakes and 100,000 frames: more than the default test time on a loaded 2-core machine.
  }, scaled(90_000));

  it('an empty epoch is never a match: offset 2 of no epoch is not recovered, and goes on from the oldest entry', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url, { historySize: 100 });
    const seed = await a.open({ path: '/e' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 5; i++) a.server.publish('e', `m${i}`);
    await collect(seed, 5);
    const client = await a.open({ path: '/e?offset=2&epoch=' });
    const { texts, resumes } = await collect(client, 5);
    const report = resumes[0] ?? (await reports(client, 1))[0];
    expect(report).toMatchObject({ recovered: false, reason: 'epoch', replayed: 5 });
    expect(texts).toEqual(seq(0, 5));
  });
});
