// Redis when it misbehaves, against a real redis-server (and a fake one for
// malformed replies): each fault is noticed, said with its reason, bounded in
// memory and in the log, counted, and recovered from.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { redisBroker, type Connection } from '../../src/index.js';
import { RedisClient } from '../../src/redis/redis-client.js';
import { parseRedisUrl } from '../../src/redis/redis-url.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { RedisServer } from '../helpers/redis-server.js';
import { PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

let redis: RedisServer | undefined;
const nodes: TestServer[] = [];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  for (const c of closers.splice(0)) await c();
  // A test that froze it: thawed, so it can be stopped (it may be gone already).
  try {
    if (redis?.pid !== undefined) process.kill(redis.pid, 'SIGCONT');
  } catch {}
  await redis?.stop();
  redis = undefined;
});

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** A node whose connections subscribe to the comma-separated topics of their path, and of each message. */
async function node(options: Parameters<typeof startServer>[1]): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, ...options });
  ts.server.on('connection', (ws: Connection, request) => {
    for (const topic of request.path.slice(1).split(',')) if (topic !== '') ws.subscribe(topic);
    ws.on('message', (data) => {
      for (const topic of String(data).split(',')) ws.subscribe(topic);
      ws.send(`subscribed ${ws.topics.length}`);
    });
  });
  nodes.push(ts);
  return ts;
}

/** A TCP server that answers HELLO as Redis 7 does, then every later command with `reply(n)` (n counts the commands). */
async function fakeRedis(reply: (n: number, socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    let n = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      // One command per chunk is enough for these tests: HELLO first, then whatever the client sends.
      if (chunk.includes('HELLO')) socket.write('%1\r\n+server\r\n+redis\r\n');
      else if (chunk.includes('SUBSCRIBE')) return;
      else reply(n++, socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

describe('Redis faults', () => {
  it('nothing listening, then a wrong password: the log says why in one line each, "cannot connect" before the first connection', async () => {
    const port = await freePort();
    const refused = await node({ redis: `redis://127.0.0.1:${port}` });
    const line = await eventually(() => refused.logs.lines('warn').find((l) => l.startsWith('broker:')), 3000, 'a broker line');
    expect(line).toMatch(new RegExp(`^broker: cannot connect to Redis at 127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED: nothing listens there\\); retrying in \\d+ ms$`));
    redis = await RedisServer.start({ args: ['--requirepass', 'right'] });
    const wrong = await node({ redis: `redis://:wrong@127.0.0.1:${redis.port}` });
    const denied = await eventually(() => wrong.logs.lines('warn').find((l) => l.startsWith('broker:')), 3000, 'a broker line');
    expect(denied).toMatch(/^broker: cannot connect to Redis at 127\.0\.0\.1:\d+: Redis refused the handshake: WRONGPASS invalid username-password pair/);
    expect(denied).not.toContain('wrong');
  });

  it('Redis down at full publishing rate: 20,000 undelivered publications are counted, and the log has a line, not 20,000', async () => {
    redis = await RedisServer.start();
    const ts = await node({ broker: redisBroker(redis.url, { maxQueued: 100, minReconnectDelay: 5000, maxReconnectDelay: 5000 }) });
    await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected');
    await redis.kill();
    await eventually(() => ts.logs.lines('warn').some((l) => l.includes('retrying')), 3000, 'the loss noticed');
    for (let i = 0; i < 20_000; i++) ts.server.publish('t', `m${i}`);
    await eventually(() => JSON.parse(ts.server.statsJson()).topics.undelivered === 19_900, 3000, 'every refused publication counted');
    const stats = JSON.parse(ts.server.statsJson());
    expect(stats.losses).toMatchObject({ 'redis-unavailable': 19_900 });
    const undeliveredLines = ts.logs.lines('warn').filter((l) => l.includes('did not reach the broker'));
    expect(undeliveredLines).toHaveLength(1);
  });

  it('a frozen Redis (SIGSTOP) is noticed within the command deadline: /healthz 503, what waits is bounded and counted; after SIGCONT it is healthy again', async () => {
    redis = await RedisServer.start();
    const ts = await node({ broker: redisBroker(redis.url, { commandTimeout: 600, maxQueued: 1000, minReconnectDelay: 50, maxReconnectDelay: 200 }) });
    await eventually(async () => (await get(ts.port, '/healthz')).status === 200, 3000, 'healthy');
    process.kill(redis.pid ?? 0, 'SIGSTOP');
    for (let i = 0; i < 5000; i++) ts.server.publish('t', `m${i}`);
    await eventually(async () => (await get(ts.port, '/healthz')).status === 503, 3000, '503 once the deadline passed');
    expect((await get(ts.port, '/healthz')).body).toBe('broker disconnected\n');
    expect(ts.logs.lines('warn').some((l) => /^broker: connection to Redis at .* lost: no reply from Redis within 600 ms/.test(l))).toBe(true);
    const stats = JSON.parse(ts.server.statsJson());
    // At most maxQueued waited; the rest were refused at once, and every one is counted.
    expect(stats.topics.undelivered).toBeGreaterThanOrEqual(4000);
    process.kill(redis.pid ?? 0, 'SIGCONT');
    await eventually(async () => (await get(ts.port, '/healthz')).status === 200, 8000, 'healthy after SIGCONT');
  });

  it('malformed replies are refused at their first bad part and said in the log: a line without LF, an endless aggregate, a bulk over the cap', async () => {
    const cases: [string, (socket: net.Socket) => void, RegExp][] = [
      ['a line without LF', (s) => {
        const junk = Buffer.alloc(64 * 1024, 0x61);
        s.write('+');
        for (let i = 0; i < 40; i++) s.write(junk);
      }, /malformed reply: a line longer than 65536 bytes without its CRLF/],
      ['nested million-element arrays', (s) => s.write('*1000000\r\n'.repeat(3)), /malformed reply: a reply of more than 1048576 elements/],
      ['a 64 MiB bulk', (s) => s.write('$67108864\r\n'), /malformed reply: bulk of 67108864 over the limit of/],
    ];
    for (const [what, send, pattern] of cases) {
      const port = await fakeRedis((_, socket) => send(socket));
      const ts = await node({ broker: redisBroker(`redis://127.0.0.1:${port}`, { minReconnectDelay: 5000, maxReconnectDelay: 5000 }) });
      await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, `${what}: connected`);
      const rss = process.memoryUsage().rss;
      ts.server.publish('t', 'x');
      const line = await eventually(() => ts.logs.lines('warn').find((l) => pattern.test(l)), 3000, `${what}: the reason logged`);
      expect(line, what).toMatch(/^broker: connection to Redis at 127\.0\.0\.1:\d+ lost: malformed reply/);
      expect(process.memoryUsage().rss - rss, what).toBeLessThan(64 * 1024 * 1024);
    }
  });

  it('40,000 topics on one node: subscribed in batches, /healthz answers meanwhile, all dropped when their subscribers leave, shutdown is prompt', async () => {
    redis = await RedisServer.start();
    const ts = await node({ redis: redis.url });
    const watch = new RedisClient({ endpoint: parseRedisUrl(redis.url) });
    closers.push(() => watch.close());
    await watch.connect();
    await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected');
    const clients = [];
    for (let c = 0; c < 40; c++) {
      const client = await ts.open();
      client.sendText(Array.from({ length: 1000 }, (_, i) => `c${c}-t${i}`).join(','));
      clients.push(client);
    }
    const channels = async (): Promise<number> => Number(await watch.command(['EVAL', "return #redis.call('PUBSUB', 'CHANNELS', 'wssd:c*')", 0]));
    const started = performance.now();
    const health = await get(ts.port, '/healthz');
    expect(health.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    for (const client of clients) expect((await client.readFrame(5000)).payload.toString()).toBe('subscribed 1000');
    await eventually(async () => (await channels()) === 40_000, 10_000, 'every channel subscribed');
    for (const client of clients) client.destroy();
    await eventually(async () => (await channels()) === 0, 10_000, 'every channel dropped');
    const closing = performance.now();
    await ts.close();
    nodes.splice(nodes.indexOf(ts), 1);
    expect(performance.now() - closing).toBeLessThan(3000);
  });
});
