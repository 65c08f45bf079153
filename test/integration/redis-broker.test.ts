// Topics across wssd nodes through a real redis-server: two servers (each
// with its own Redis connection, as two machines would have), subscribers on
// both; a publish on either reaches both, in order, binary intact; a node
// without subscribers of a topic never subscribes to its channel; a Redis
// that is killed and restarted is rejoined with every subscription.
import { afterEach, describe, expect, it } from 'vitest';
import { redisBroker, type Connection, type RedisBrokerOptions } from '../../src/index.js';
import { RedisClient } from '../../src/redis/redis-client.js';
import { parseRedisUrl } from '../../src/redis/redis-url.js';
import { eventually } from '../helpers/poll.js';
import { CERTS_DIR, Op, type RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';
import { PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

let redis: RedisServer | undefined;
const nodes: TestServer[] = [];
const admins: RedisClient[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  for (const a of admins.splice(0)) await a.close();
  await redis?.stop();
  redis = undefined;
});

/** A node: a wssd server whose connections subscribe to the topics in their path (/t1,t2). */
async function node(url: string, prefix = 'wssd:'): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, redis: url, redisPrefix: prefix });
  ts.server.on('connection', (ws: Connection, request) => {
    for (const topic of request.path.slice(1).split(',')) if (topic !== '') ws.subscribe(topic);
  });
  nodes.push(ts);
  return ts;
}

/** A node as node() makes it, with its Redis broker's options. */
async function brokerNode(url: string, options: Omit<RedisBrokerOptions, 'url'>): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, broker: redisBroker(url, options) });
  ts.server.on('connection', (ws: Connection, request) => {
    for (const topic of request.path.slice(1).split(',')) if (topic !== '') ws.subscribe(topic);
  });
  nodes.push(ts);
  return ts;
}

async function admin(url: string): Promise<RedisClient> {
  const c = new RedisClient({ endpoint: parseRedisUrl(url) });
  admins.push(c);
  await c.connect();
  return c;
}

/** Subscribers of `channel` in Redis (PUBSUB NUMSUB): how many nodes listen. */
async function numsub(c: RedisClient, channel: string): Promise<number> {
  const reply = (await c.command(['PUBSUB', 'NUMSUB', channel])) as unknown[];
  return Number(reply[1]);
}

async function texts(client: RawClient, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await client.readFrame()).payload.toString());
  return out;
}

describe('topics across nodes through Redis', () => {
  it('a publish on either node reaches the subscribers on both, in order, binary intact; a node without subscribers never subscribes', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url);
    const b = await node(redis.url);
    const c = await node(redis.url); // no subscribers of "room": must receive none of its traffic
    const watch = await admin(redis.url);
    const onA = await a.open({ path: '/room' });
    const onB = await b.open({ path: '/room' });
    const bystander = await c.open({ path: '/elsewhere' });
    await eventually(async () => (await numsub(watch, 'wssd:room')) === 2, 3000, 'both nodes subscribed');
    expect(await numsub(watch, 'wssd:elsewhere')).toBe(1);

    for (let i = 0; i < 100; i++) a.server.publish('room', `a${i}`);
    for (let i = 0; i < 100; i++) b.server.publish('room', `b${i}`);
    const fromA = Array.from({ length: 100 }, (_, i) => `a${i}`);
    const fromB = Array.from({ length: 100 }, (_, i) => `b${i}`);
    for (const client of [onA, onB]) {
      const got = await texts(client, 200);
      // Exactly once each, and in order per publishing node.
      expect(got.filter((t) => t.startsWith('a'))).toEqual(fromA);
      expect(got.filter((t) => t.startsWith('b'))).toEqual(fromB);
    }
    const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
    b.server.publish('room', binary);
    const frame = await onA.readFrame();
    expect([frame.opcode, frame.payload]).toEqual([Op.Binary, binary]);
    expect((await onB.readFrame()).payload).toEqual(binary);

    // The third node got none of it: nothing for its one client, nothing counted as from elsewhere.
    bystander.sendText('ignored');
    expect(JSON.parse(c.server.statsJson()).topics.publishedElsewhere).toBe(0);
    expect(JSON.parse(a.server.statsJson()).topics.publishedElsewhere).toBe(101);

    // The last subscriber leaving unsubscribes the node's channel.
    onA.sendClose(1000);
    await eventually(async () => (await numsub(watch, 'wssd:room')) === 1, 3000, "a's channel dropped");
  });

  it('subscriber counts over every node: asked of every node when wanted, nothing stored or refreshed per topic; a node that does not answer costs the ask timeout, not the answer', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url);
    const b = await node(redis.url);
    const c = await node(redis.url);
    await a.open({ path: '/room' });
    await a.open({ path: '/room' });
    for (let i = 0; i < 3; i++) await b.open({ path: '/room' });
    await c.open({ path: `/${Array.from({ length: 500 }, (_, i) => `t${i}`).join(',')}` });
    for (const n of [a, b, c]) {
      await eventually(async () => (await n.server.totalSubscriberCount('room')) === 5, 3000, 'five subscribers everywhere');
    }
    expect(a.server.subscriberCount('room')).toBe(2);
    expect(await c.server.totalSubscriberCount('t499')).toBe(1);
    // Nothing is kept in Redis per topic, and 500 topics cost no commands while nothing happens.
    const watch = await admin(redis.url);
    expect(await watch.command(['DBSIZE'])).toBe(0);
    const calls = async (): Promise<number> => {
      const info = String(await watch.command(['INFO', 'commandstats']));
      return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const before = await calls();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The three nodes' idle PINGs and the two INFO calls, not 500 topics' worth.
    expect((await calls()) - before).toBeLessThan(20);
    // A node that is gone is not counted, at once.
    await b.close();
    nodes.splice(nodes.indexOf(b), 1);
    expect(await a.server.totalSubscriberCount('room')).toBe(2);
    // A node that hears the question and never answers (frozen): the others' answers come after the ask timeout.
    const frozen = await admin(redis.url);
    frozen.subscribe('wssd:\u0000all');
    await eventually(async () => (await numsub(watch, 'wssd:\u0000all')) === 3, 3000, 'the frozen node listening');
    const started = performance.now();
    expect(await a.server.totalSubscriberCount('room')).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('rediss:// with --redis-ca: two nodes over TLS to Redis', async () => {
    redis = await RedisServer.start({ tls: true });
    const ca = `${CERTS_DIR}dev-ca.pem`;
    const a = await startServer(PLAIN_MODE, { echo: false, redis: redis.url, redisCa: ca });
    const b = await startServer(PLAIN_MODE, { echo: false, redis: redis.url, redisCa: ca });
    nodes.push(a, b);
    b.server.on('connection', (ws) => ws.subscribe('secure'));
    const onB = await b.open();
    await eventually(() => a.logs.lines('info').some((l) => l.startsWith('broker: connected to Redis at rediss://')), 3000, 'a connected over TLS');
    await eventually(async () => (await a.server.totalSubscriberCount('secure')) === 1, 3000, "b's subscriber known over TLS");
    a.server.publish('secure', 'over tls');
    expect((await onB.readFrame()).payload.toString()).toBe('over tls');
  });

  it('graceful shutdown drains the broker queue: what was published just before close() reaches the other node', async () => {
    redis = await RedisServer.start();
    const a = await node(redis.url);
    const b = await node(redis.url);
    const onB = await b.open({ path: '/last' });
    const watch = await admin(redis.url);
    await eventually(async () => (await numsub(watch, 'wssd:last')) === 1, 3000, 'b subscribed');
    for (let i = 0; i < 500; i++) a.server.publish('last', `m${i}`);
    await a.close(); // at once: the 500 are still in the client's queue or in flight
    nodes.splice(nodes.indexOf(a), 1);
    expect(await texts(onB, 500)).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
  });

  it('the prefix keeps applications apart on one Redis', async () => {
    redis = await RedisServer.start();
    const one = await node(redis.url, 'app1:');
    const two = await node(redis.url, 'app2:');
    const c1 = await one.open({ path: '/news' });
    const c2 = await two.open({ path: '/news' });
    const watch = await admin(redis.url);
    await eventually(async () => (await numsub(watch, 'app1:news')) === 1 && (await numsub(watch, 'app2:news')) === 1, 3000, 'both subscribed');
    one.server.publish('news', 'for app1');
    two.server.publish('news', 'for app2');
    expect((await c1.readFrame()).payload.toString()).toBe('for app1');
    expect((await c2.readFrame()).payload.toString()).toBe('for app2');
  });

  it('Redis killed and restarted: local delivery never stops, the nodes rejoin and their subscriptions are restored', async () => {
    redis = await RedisServer.start();
    // Pub/sub without history is at-most-once: what the publisher's queue sends before the
    // receiver has re-subscribed is not for it. The receiver reconnects fast, the publisher slowly.
    const a = await brokerNode(redis.url, { minReconnectDelay: 1500, maxReconnectDelay: 3000 });
    const b = await brokerNode(redis.url, { minReconnectDelay: 20, maxReconnectDelay: 100 });
    const onA = await a.open({ path: '/t' });
    const onB = await b.open({ path: '/t' });
    const watch = await admin(redis.url);
    await eventually(async () => (await numsub(watch, 'wssd:t')) === 2, 3000, 'both subscribed');
    await redis.kill();
    // Once the node knows Redis is away, a publication waits in its queue (one in flight at the moment of loss is reported instead).
    await eventually(() => a.logs.lines('warn').some((l) => l.startsWith('broker: ') && l.includes('retrying')), 3000, 'the loss noticed');
    a.server.publish('t', 'while away');
    expect((await onA.readFrame()).payload.toString()).toBe('while away');
    await redis.run();
    const again = await admin(redis.url);
    await eventually(async () => (await numsub(again, 'wssd:t')) === 2, 8000, 'both resubscribed');
    a.server.publish('t', 'after');
    const got = await onB.readFramesUntil((f) => f.payload.toString() === 'after', 3000, 'the publication after the restart');
    // Queued while Redis was away and sent when it came back, in order, before the newer one.
    expect(got.map((f) => f.payload.toString())).toEqual(['while away', 'after']);
    expect((await onA.readFrame()).payload.toString()).toBe('after');
    const stats = JSON.parse(a.server.statsJson());
    expect(stats.topics.undelivered).toBe(0);
    // The outage itself is reported (what other nodes published meanwhile without history could not reach it).
    expect(stats.broker.outages).toBe(1);
    expect(stats.broker.downMs).toBeGreaterThan(0);
    expect(a.logs.lines('info').some((l) => /^broker: reconnected .* after \d+ ms away; publications of topics without history/.test(l))).toBe(true);
    expect(stats.broker.publishLatency.count).toBe(2);
  });

  it('past the bound of its queue while Redis is away, a publication is reported to the publisher (publishFailed, /stats), never silently lost', async () => {
    redis = await RedisServer.start();
    const ts = await startServer(PLAIN_MODE, { echo: false, broker: redisBroker(redis.url, { maxQueued: 3 }) });
    nodes.push(ts);
    const failed: string[] = [];
    ts.server.on('publishFailed', (topic, error) => failed.push(`${topic}: ${error.name}`));
    const onIt = await ts.open();
    (await ts.serverSide(onIt)).connection.subscribe('t');
    await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected');
    await redis.kill();
    await eventually(() => ts.logs.lines('warn').some((l) => l.includes('retrying')), 3000, 'the loss noticed');
    for (let i = 0; i < 5; i++) expect(ts.server.publish('t', `m${i}`)).toBe(1);
    await eventually(() => failed.length === 2, 2000, 'two refused');
    expect(failed).toEqual(['t: RedisUnavailableError', 't: RedisUnavailableError']);
    expect(JSON.parse(ts.server.statsJson()).topics.undelivered).toBe(2);
    // Local delivery never waited: all five reached the local subscriber.
    expect((await texts(onIt, 5))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});
