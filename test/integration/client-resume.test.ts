// wssd/client against real servers, over Node's own WebSocket (undici's, ws://):
// a subscription to a topic with history loses nothing and repeats nothing
// across whatever takes its connection away — its node restarted, its worker
// killed, Redis restarted (with its data, or without: then a gap is reported,
// never silent), a server that stops answering — and the client comes back
// when it should (a token that expired) and not when it must not (a kick).
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WssdClient, type ClientOptions, type Gap, type SubscribeResult } from '../../src/client/wssd-client.js';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { PacedPublisher } from '../helpers/paced-publisher.js';
import { RedisServer, type RedisServerOptions } from '../helpers/redis-server.js';
import { PLAIN_MODE, sleep, startServer, type StartOptions, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

const TOPIC = 'live:feed';
const SECRET = 'a secret of the client tests, long enough';
const API_KEY = 'the-client-tests-api-key';

const WebSocketClass = (globalThis as { WebSocket?: ClientOptions['websocket'] }).WebSocket;

let redis: RedisServer | undefined;
const nodes: TestServer[] = [];
const clients: WssdClient[] = [];
const processes: WssdProcess[] = [];
const cleanups: (() => void)[] = [];
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wssd-client-resume-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const p of processes.splice(0)) p.kill();
  for (const undo of cleanups.splice(0)) undo();
  for (const n of nodes.splice(0)) await n.close();
  await redis?.stop();
  redis = undefined;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An in-process node on plain ws://, clients allowed under live:, on `port` (0: any). */
async function node(options: StartOptions = {}): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, demoPage: false, clientSubscribePrefix: ['live:'], ...options });
  nodes.push(ts);
  return ts;
}

/** A node of the fleet on `redis`, keeping 10,000 publications per topic; resolved once it reached Redis. */
async function historyNode(options: StartOptions = {}): Promise<TestServer> {
  const ts = await node({ redis: (redis as RedisServer).url, historySize: 10_000, ...options });
  await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 5000, 'the node connected to Redis');
  return ts;
}

type Entry = { kind: 'pub'; data: string; offset: number; epoch: string } | { kind: 'gap'; gap: Gap };

/** A client subscribed to TOPIC, recording in order what it delivers and what its connection does. */
interface Watched {
  client: WssdClient;
  /** Publications and gaps, in the order the application was given them. */
  log: Entry[];
  /** "connected", and the disconnect that ended each connection ("disconnected CODE reconnect|stop"). */
  events: string[];
  /** Connection attempts, and those that failed before opening (the server was away). */
  attempts: number;
  failed: number;
  subscribed: SubscribeResult[];
  pubs(): Extract<Entry, { kind: 'pub' }>[];
  gaps(): Gap[];
}

function watch(url: string, options: ClientOptions = {}): Watched {
  if (WebSocketClass === undefined) throw new Error('no globalThis.WebSocket: vitest must run Node 20 with --experimental-websocket (test/vitest.config.ts)');
  const client = new WssdClient(url, { websocket: WebSocketClass, backoffBase: 50, backoffMax: 400, ...options });
  clients.push(client);
  const w: Watched = {
    client,
    log: [],
    events: [],
    attempts: 0,
    failed: 0,
    subscribed: [],
    pubs: () => w.log.filter((e): e is Extract<Entry, { kind: 'pub' }> => e.kind === 'pub'),
    gaps: () => w.log.flatMap((e) => (e.kind === 'gap' ? [e.gap] : [])),
  };
  client.on('connecting', () => w.attempts++);
  client.on('connected', () => w.events.push('connected'));
  client.on('disconnected', (d) => {
    if (w.events.at(-1) === 'connected') w.events.push(`disconnected ${d.code} ${d.reconnect ? 'reconnect' : 'stop'}`);
    else w.failed++;
  });
  client.subscribe(TOPIC, {
    onPublication: (p) => w.log.push({ kind: 'pub', data: String(p.data), offset: p.offset ?? -1, epoch: p.epoch ?? '' }),
    onGap: (gap) => w.log.push({ kind: 'gap', gap }),
    onSubscribed: (r) => w.subscribed.push(r),
  });
  client.connect();
  return w;
}

async function subscribed(w: Watched, count = 1): Promise<void> {
  await eventually(() => w.subscribed.length >= count, 5000, () => `subscribed (${w.subscribed.length} replies; events ${w.events.join(', ')})`);
}

/** Publications "0", "1", … every 10 ms until finished (stopped after the test in any case). */
function publisher(publish: (data: string) => unknown): PacedPublisher {
  const p = new PacedPublisher(publish, 10);
  cleanups.push(() => p.stop());
  return p;
}

/**
 * Node B publishes, the client listens on node A; Redis is killed, and after
 * 0.3 s started again (`empty`: without its data) while publishing goes on,
 * then 100 more. `afterRestart`: publications made before it was back.
 */
async function acrossRedisRestart(options: RedisServerOptions, empty: boolean): Promise<{ a: TestServer; w: Watched; n: number; afterRestart: number }> {
  redis = await RedisServer.start(options);
  const a = await historyNode();
  const b = await historyNode();
  const w = watch(`ws://127.0.0.1:${a.port}/`);
  await subscribed(w);
  const publishing = publisher((data) => b.server.publish(TOPIC, data));
  await eventually(() => w.pubs().length >= 40, 5000, 'the first publications');
  await redis.kill();
  await sleep(300);
  await redis.run(empty);
  const afterRestart = publishing.sent;
  return { a, w, afterRestart, n: await publishing.finish(100) };
}

const numbers = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => String(from + i));

/** Every publication once, in order (data 0..n−1), in one epoch with consecutive offsets, and no gap. */
function expectExactlyOnce(w: Watched, n: number): void {
  expect(w.gaps()).toEqual([]);
  const pubs = w.pubs();
  expect(pubs.map((p) => p.data)).toEqual(numbers(0, n));
  expect(new Set(pubs.map((p) => p.epoch)).size).toBe(1);
  const first = pubs[0].offset;
  expect(pubs.map((p) => p.offset)).toEqual(Array.from({ length: n }, (_, i) => first + i));
}

async function received(w: Watched, n: number, ms = 10_000): Promise<void> {
  await eventually(() => w.pubs().length >= n, ms, () => `${n} publications (got ${w.pubs().length}; events ${w.events.join(', ')})`);
}

function token(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', SECRET).update(signed).digest('base64url')}`;
}

describe('wssd/client resumes with nothing lost', () => {
  it('its node closed and started again on the same port while another node publishes: every publication once, in order; connected, disconnected, connected', async () => {
    redis = await RedisServer.start();
    let a = await historyNode();
    const b = await historyNode();
    const port = a.port;
    const w = watch(`ws://127.0.0.1:${port}/`);
    await subscribed(w);
    const publishing = publisher((data) => b.server.publish(TOPIC, data));
    await eventually(() => w.pubs().length >= 40, 5000, 'the first publications on node A');
    nodes.splice(nodes.indexOf(a), 1);
    await a.close();
    await sleep(100); // publications the client cannot get
    a = await historyNode({ port });
    const n = await publishing.finish(100);
    await received(w, n);
    expectExactlyOnce(w, n);
    expect(w.events).toEqual(['connected', 'disconnected 1001 reconnect', 'connected']);
    expect(a.accepted).toHaveLength(1);
    // Its attempts while nothing listened failed, and were retried.
    expect(w.failed).toBeGreaterThan(0);
    // What was published while it was away came as the replay of its resubscription.
    expect(w.subscribed[1]).toMatchObject({ recovered: true, replayed: expect.any(Number) });
    expect(w.subscribed[1].replayed).toBeGreaterThan(0);
  });

  it('--workers 2: its worker SIGKILLed, the primary starts another; the client comes back to a worker and resumes', async () => {
    redis = await RedisServer.start();
    const app = join(tmp, 'pid-app.mjs');
    writeFileSync(app, 'export function onRpc() { return String(process.pid); }\n');
    const port = await freePort();
    const args = ['--workers', '2', '--plain', '--port', String(port), '--host', '127.0.0.1', '--no-demo-page', '--app', app];
    const cli = new WssdProcess([...args, '--redis', redis.url, '--history-size', '10000', '--client-subscribe-prefix', 'live:']);
    processes.push(cli);
    await eventually(() => cli.stderr.filter((l) => l.includes('listening on')).length >= 2, 15_000, () => `both workers listening; stderr:\n${cli.stderr.join('\n')}`);
    const b = await historyNode();
    const w = watch(`ws://127.0.0.1:${port}/`);
    await subscribed(w);
    const victim = Number(await w.client.rpc('pid'));
    expect(victim).toBeGreaterThan(0);
    const publishing = publisher((data) => b.server.publish(TOPIC, data));
    await eventually(() => w.pubs().length >= 40, 5000, 'the first publications');
    process.kill(victim, 'SIGKILL');
    await cli.waitForLine(new RegExp(`worker ${victim} exited`), 5000);
    await eventually(() => cli.stderr.filter((l) => l.includes('listening on')).length >= 3, 15_000, 'the replacement worker listening');
    const n = await publishing.finish(100);
    await received(w, n);
    expectExactlyOnce(w, n);
    expect(w.events).toEqual(['connected', 'disconnected 1006 reconnect', 'connected']);
    expect(Number(await w.client.rpc('pid'))).not.toBe(victim);
  });

  it('Redis restarted with its data (appendonly, fsync always) while publishing: resumed, no gap, every publication once', async () => {
    const { a, w, n } = await acrossRedisRestart({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] }, false);
    await received(w, n);
    expectExactlyOnce(w, n);
    // Redis went away (node A saw it), not the client's connection.
    expect(a.logs.lines('warn').filter((l) => l.startsWith('broker'))).not.toEqual([]);
    expect(w.events).toEqual(['connected']);
  });

  it('Redis restarted empty while publishing: the gap is reported with reason epoch, and the new epoch keeps coming, in order', async () => {
    const { a, w, n, afterRestart } = await acrossRedisRestart({}, true);
    await eventually(() => w.pubs().at(-1)?.data === String(n - 1), 10_000, () => `the last publication (got ${w.pubs().length})`);
    const gaps = w.gaps();
    expect(gaps.map((g) => g.reason)).toEqual(['epoch']);
    const at = w.log.findIndex((e) => e.kind === 'gap');
    const before = w.log.slice(0, at) as Extract<Entry, { kind: 'pub' }>[];
    const after = w.log.slice(at + 1) as Extract<Entry, { kind: 'pub' }>[];
    // The gap sits between the two epochs: from the last of the old, to just before the first of the new.
    expect(new Set(before.map((p) => p.epoch)).size).toBe(1);
    expect(new Set(after.map((p) => p.epoch)).size).toBe(1);
    expect(after[0].epoch).not.toBe(before[0].epoch);
    expect(gaps[0]).toMatchObject({ from: { offset: before.at(-1)?.offset, epoch: before[0].epoch }, to: { offset: after[0].offset - 1, epoch: after[0].epoch } });
    // Each side in order without a repeat; everything published once Redis was back arrived.
    const data = w.pubs().map((p) => Number(p.data));
    for (let i = 1; i < data.length; i++) expect(data[i]).toBeGreaterThan(data[i - 1]);
    expect(data.slice(-(n - afterRestart))).toEqual(numbers(afterRestart, n).map(Number));
    expect(after.map((p) => p.offset)).toEqual(Array.from({ length: after.length }, (_, i) => after[0].offset + i));
    expect(a.logs.lines('warn').filter((l) => l.startsWith('broker'))).not.toEqual([]);
    expect(w.events).toEqual(['connected']);
  });
});

describe('wssd/client comes back when it should, and only then', () => {
  it('kicked through the server API (POST /api/disconnect, 4000): disconnected with reconnect false, and no new attempt', async () => {
    const a = await node({ jwtSecret: [SECRET], apiPort: 0, apiKey: [API_KEY] });
    const w = watch(`ws://127.0.0.1:${a.port}/`, { token: token({ sub: 'ada', exp: Math.floor(Date.now() / 1000) + 600 }) });
    await subscribed(w);
    const api = a.server.apiAddress;
    const answer = await fetch(`http://127.0.0.1:${api?.port}/api/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ada' }),
    });
    expect(answer.status).toBe(200);
    await eventually(() => w.events.length >= 2, 3000, () => `disconnected (${w.events.join(', ')})`);
    expect(w.events).toEqual(['connected', 'disconnected 4000 stop']);
    // A window ten times the backoff base: a client that meant to come back would have tried.
    await sleep(scaled(1000));
    expect(w.attempts).toBe(1);
    expect(w.client.state).toBe('disconnected');
    expect(a.accepted).toHaveLength(1);
  });

  it('a token that expires (4001): getToken() is asked, and the client comes back with the new token, resubscribed', async () => {
    const a = await node({ jwtSecret: [SECRET] });
    const exp = Math.floor(Date.now() / 1000) + 2;
    const first = token({ sub: 'bo', exp });
    const second = token({ sub: 'bo', exp: exp + 600 });
    const asked: string[] = [];
    // A backend that hands out its current token until it expires: the client's refresh before
    // expiry gets the same one (and sends no refresh), so the server closes with 4001.
    const getToken = async (): Promise<string> => {
      const t = Date.now() / 1000 >= exp ? second : first;
      asked.push(t === first ? 'first' : 'second');
      return t;
    };
    const w = watch(`ws://127.0.0.1:${a.port}/`, { token: first, getToken });
    await subscribed(w);
    await eventually(() => w.events.length >= 3, 6000, () => `back after the expiry (${w.events.join(', ')})`);
    expect(w.events).toEqual(['connected', 'disconnected 4001 reconnect', 'connected']);
    expect(asked.at(-1)).toBe('second');
    expect(a.accepted).toHaveLength(2);
    expect(new URLSearchParams(a.accepted[1].request.query).get('token')).toBe(second);
    await subscribed(w, 2);
    expect(a.accepted[1].connection.topics).toEqual([TOPIC]);
  });

  it('liveness: a server behind a proxy that goes silent is given up within pingInterval + pongTimeout, and the client resumes once it answers again', async () => {
    redis = await RedisServer.start();
    const a = await historyNode();
    const proxy = await blackholeProxy(a.port);
    const pingInterval = 400;
    const pongTimeout = 400;
    const w = watch(`ws://127.0.0.1:${proxy.port}/`, { pingInterval, pongTimeout, connectTimeout: 1000 });
    let lostAt = 0;
    w.client.on('disconnected', () => (lostAt ||= performance.now()));
    const reasons: string[] = [];
    w.client.on('disconnected', (d) => reasons.push(d.reason));
    await subscribed(w);
    const publishing = publisher((data) => a.server.publish(TOPIC, data));
    await eventually(() => w.pubs().length >= 30, 5000, 'the first publications');
    const silentAt = performance.now();
    proxy.silent = true;
    await eventually(() => lostAt > 0, 3000, 'the client giving the connection up');
    expect(reasons[0]).toBe('no reply to ping');
    expect(lostAt - silentAt).toBeGreaterThanOrEqual(pingInterval);
    expect(lostAt - silentAt).toBeLessThanOrEqual(pingInterval + pongTimeout + scaled(250));
    await sleep(300); // an attempt or two into the silence
    proxy.silent = false;
    await subscribed(w, 2);
    const n = await publishing.finish(50);
    await received(w, n);
    expectExactlyOnce(w, n);
    expect(w.subscribed[1].replayed).toBeGreaterThan(0);
    // Given up once, tried into the silence (and timed out), back once it answered.
    expect(w.events).toEqual(['connected', 'disconnected 1006 reconnect', 'connected']);
    expect(w.failed).toBeGreaterThanOrEqual(1);
  });
});

/**
 * A TCP proxy to 127.0.0.1:`target` that can go silent: while `silent`, bytes
 * are swallowed both ways on the connections it has, and new ones are
 * accepted and never answered — a server that stopped answering, not one that
 * closed. Stopped after the test.
 */
async function blackholeProxy(target: number): Promise<{ port: number; silent: boolean }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, silent: false };
  const keep = (s: net.Socket): void => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((downstream) => {
    keep(downstream);
    if (state.silent) return void downstream.on('data', () => {});
    const upstream = net.connect(target, '127.0.0.1');
    keep(upstream);
    downstream.on('data', (d) => void (state.silent || upstream.write(d)));
    upstream.on('data', (d) => void (state.silent || downstream.write(d)));
    downstream.on('close', () => upstream.destroy());
    upstream.on('close', () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  return state;
}
