// Case 9: two wssd nodes joined by one Redis, on loopback (issue #12). Node A
// and node B are each a child process (bench/redis/redis-node.ts: createServer
// with { plain: true, redis }), Redis a redis-server started here on a free
// port (test/helpers/redis-server.ts, the tests' launcher). Each node holds the same number of
// subscribers to one topic; the publisher runs in node A, at a fixed rate
// (10,000 publications/s asked) or as fast as the two nodes absorb it. Every
// publication reaches node A's subscribers directly (a local delivery) and
// node B's through Redis (a cross-node delivery): PUBLISH from A, a pub/sub
// message to B, B's fan-out.
//
// The client is the fan-out bench's (bench/harness/subscribers.ts: its
// receivers check every frame — a gap, a repeat or a broken frame fails the
// run — and take each publication's latency from the monotonic stamp in its
// payload). Per cell, over the same window: publications/s; deliveries/s
// on each node; p50/p99 latency from publish to receipt, separately for A's
// subscribers (local) and B's (cross-node); each node's CPU (its own
// process.cpuUsage(), read in the same instant as its counts) per delivery
// and per publication; Redis's CPU from /proc (schedstat's ns, and stat's
// utime + stime in 10 ms ticks beside it). The two targets:
// p99 cross-node latency under 2 ms at 10,000 publications/s, and B's CPU per
// cross-node delivery ≤ 2× A's per local delivery.
//
// Besides the cells with N subscribers per node, two cells publish at the
// same asked rate to a second topic with one subscriber per node: the Redis
// hop with the fan-out taken out. With N = 1,000, 10,000 publications/s
// would be 10 million deliveries/s per node; the N-subscriber cells at that
// rate report what the nodes achieved (the credit of bench/redis/redis-pacing.ts
// holds the publisher back), the one-subscriber cells what 10,000/s costs.
//
// Nothing is pinned: four processes (two nodes, Redis, this client) share
// the machine's cores, as a small fleet on one host would.
import { fileURLToPath } from 'node:url';
import { Child, underTsx } from '../harness/children.js';
import { checkClock, type ClockCheck } from '../harness/clock.js';
import { PublicationStats } from '../harness/publications.js';
import { Subscribers } from '../harness/subscribers.js';
import { open, openMany, settle, sleep, type Target } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import { machineJiffies, schedCpuUs, treeCpuUs } from '../harness/os.js';
import { redisListening } from '../harness/redis-channels.js';
import { RedisServer, requireRedis } from '../../test/helpers/redis-server.js';
import { creditWindow, ROOM_TOPIC, SOLO_PATH, SOLO_TOPIC, type NodeReply, type NodeRequest, type NodeUsage } from './redis-pacing.js';

const nodeEntry = fileURLToPath(new URL('./redis-node.ts', import.meta.url));

/** A wssd node child (redis-node.ts, under tsx; not pinned). */
type NodeChild = Child<NodeRequest, NodeReply>;

/** Starts node `name` ("A" or "B") on the Redis at `redisUrl`. */
function startNode(name: string, redisUrl: string): Promise<NodeChild> {
  // It closes its server (and its Redis connections) before it exits.
  return Child.start<NodeRequest, NodeReply>({ name: `node ${name}`, args: underTsx(nodeEntry, redisUrl), exitGraceMs: 2000 });
}

function usage(node: NodeChild): Promise<NodeUsage> {
  return node.request<'usage'>({ type: 'usage' });
}

/** Publications per setImmediate tick when publishing as fast as absorbed (as case 7). */
const BURST = 4;

export interface RedisBenchOptions {
  /** Subscribers per node of the room topic. */
  subscribers: number;
  payloads: number[];
  /** Asked rates of the room cells, publications/s; 0: as fast as absorbed. */
  rates: number[];
  /** Asked rate of the one-subscriber cells. */
  soloRate: number;
  rounds: number;
  warmMs: number;
  measureMs: number;
  parallel: number;
}

export interface RedisSample {
  /** Subscribers per node. */
  subscribers: number;
  payload: number;
  /** Publications/s asked; 0: as fast as absorbed. */
  rate: number;
  window: number;
  publicationsPerSec: number;
  /** Share of the window during which the credit held node A's publisher back, %. */
  heldBackPct: number;
  localDeliveriesPerSec: number;
  crossDeliveriesPerSec: number;
  localP50Ms: number;
  localP99Ms: number;
  crossP50Ms: number;
  crossP99Ms: number;
  /** Node A's CPU ÷ its local deliveries; node B's ÷ its deliveries of what came through Redis. */
  aCpuUsPerDelivery: number;
  bCpuUsPerDelivery: number;
  /** B per cross-node delivery ÷ A per local delivery (target ≤ 2). */
  cpuRatio: number;
  /** Per publication: what A spent making and delivering it, what B spent receiving and delivering it. */
  aCpuUsPerPublication: number;
  bCpuUsPerMessage: number;
  redisCpuUsPerPublication: number;
  aCpuPct: number;
  bCpuPct: number;
  /** Redis's CPU from schedstat (ns); and from stat's utime + stime (10 ms ticks), beside it. */
  redisCpuPct: number;
  redisStatCpuPct: number;
  clientCpuPct: number;
  /** The rest of the machine (other processes), % of one core: all cores' busy time (/proc/stat) less the four above. */
  otherCpuPct: number;
}

export interface RedisResult {
  redisVersion: string;
  clock: ClockCheck;
  cells: RedisSample[];
  rounds: RedisSample[][];
  /** Per cell key: the rounds' B ÷ A CPU ratios, and their median. */
  ratios: { subscribers: number; payload: number; rate: number; perRound: number[]; median: number }[];
}

interface NodeSide {
  node: NodeChild;
  stats: PublicationStats;
  room: Subscribers;
  solo: Subscribers;
}

interface CellSpec {
  subs: 'room' | 'solo';
  payload: number;
  rate: number;
}

async function runCell(a: NodeSide, b: NodeSide, redisPid: number, spec: CellSpec, options: RedisBenchOptions, measureMs: number): Promise<RedisSample> {
  const subsA = a[spec.subs];
  const subsB = b[spec.subs];
  const n = subsA.sockets.length;
  const topic = spec.subs === 'room' ? ROOM_TOPIC : SOLO_TOPIC;
  const window = creditWindow(n);
  const what = `redis ${n} × ${spec.payload} B at ${spec.rate === 0 ? 'max' : `${spec.rate}/s`}`;
  for (const side of [a, b]) side.stats.reset();
  subsA.reset(spec.payload);
  subsB.reset(spec.payload);
  const fail = (): Error | undefined => a.stats.error ?? b.stats.error;
  let lastAck = 0;
  const acking = setInterval(() => {
    const seq = Math.min(subsA.minNext(), subsB.minNext());
    if (seq > lastAck) {
      lastAck = seq;
      a.node.send({ type: 'ack', seq });
    }
  }, 2);
  let stopped = false;
  try {
    const started = await a.node.request<'started'>({ type: 'start', topic, size: spec.payload, rate: spec.rate, window, burst: BURST });
    if (started.error !== undefined) throw new Error(`${what}: ${started.error}`);
    await sleep(options.warmMs);
    if (fail() !== undefined) throw fail();
    const [ua0, ub0] = await Promise.all([usage(a.node), usage(b.node)]);
    const r0 = treeCpuUs(redisPid);
    const rf0 = schedCpuUs(redisPid);
    const m0 = machineJiffies();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const side of [a, b]) side.stats.recording = true;
    await sleep(measureMs);
    const [ua1, ub1] = await Promise.all([usage(a.node), usage(b.node)]);
    const r1 = treeCpuUs(redisPid);
    const rf1 = schedCpuUs(redisPid);
    const m1 = machineJiffies();
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    for (const side of [a, b]) side.stats.recording = false;
    const published = (await a.node.request<'stopped'>({ type: 'stop' })).published;
    stopped = true;
    await subsA.allReceived(published, `${what}, node A`);
    await subsB.allReceived(published, `${what}, node B`);
    for (const u of [ua1, ub1]) if (u.dropped !== 0 || u.undelivered !== 0) throw new Error(`${what}: ${u.dropped} publications dropped for slow subscribers, ${u.undelivered} not handed to Redis`);
    const aUs = (ua1.time - ua0.time) * 1000;
    const bUs = (ub1.time - ub0.time) * 1000;
    const wallUs = (t1 - t0) * 1000;
    const publications = ua1.published - ua0.published;
    const localDeliveries = ua1.deliveries - ua0.deliveries;
    const messages = ub1.publishedElsewhere - ub0.publishedElsewhere;
    const crossDeliveries = messages * n;
    if (publications <= 0 || messages <= 0) throw new Error(`${what}: nothing published or nothing came through Redis in ${measureMs} ms`);
    const aCpu = ua1.cpuUs - ua0.cpuUs;
    const bCpu = ub1.cpuUs - ub0.cpuUs;
    const redisTicksCpu = r1 - r0;
    // The scheduler's ns where there are (see schedCpuUs), else stat's ticks.
    const redisCpu = Number.isFinite(rf1 - rf0) ? rf1 - rf0 : redisTicksCpu;
    const [localP50, localP99] = a.stats.percentiles([0.5, 0.99]);
    const [crossP50, crossP99] = b.stats.percentiles([0.5, 0.99]);
    const aPerDelivery = aCpu / localDeliveries;
    const bPerDelivery = bCpu / crossDeliveries;
    return {
      subscribers: n,
      payload: spec.payload,
      rate: spec.rate,
      window,
      publicationsPerSec: Math.round((publications * 1e6) / aUs),
      heldBackPct: Math.round((100 * 1000 * (ua1.heldMs - ua0.heldMs)) / aUs),
      localDeliveriesPerSec: Math.round((localDeliveries * 1e6) / aUs),
      crossDeliveriesPerSec: Math.round((crossDeliveries * 1e6) / bUs),
      localP50Ms: sig(localP50),
      localP99Ms: sig(localP99),
      crossP50Ms: sig(crossP50),
      crossP99Ms: sig(crossP99),
      aCpuUsPerDelivery: sig(aPerDelivery),
      bCpuUsPerDelivery: sig(bPerDelivery),
      cpuRatio: sig(bPerDelivery / aPerDelivery),
      aCpuUsPerPublication: sig(aCpu / publications),
      bCpuUsPerMessage: sig(bCpu / messages),
      redisCpuUsPerPublication: sig(redisCpu / publications),
      aCpuPct: Math.round((100 * aCpu) / aUs),
      bCpuPct: Math.round((100 * bCpu) / bUs),
      redisCpuPct: sig((100 * redisCpu) / wallUs, 2),
      redisStatCpuPct: sig((100 * redisTicksCpu) / wallUs, 2),
      clientCpuPct: Math.round((100 * (c1.user + c1.system)) / wallUs),
      otherCpuPct: Math.round((100 * m1.cpus * (m1.busy - m0.busy)) / (m1.total - m0.total) - (100 * (aCpu + bCpu + redisCpu + c1.user + c1.system)) / wallUs),
    };
  } finally {
    clearInterval(acking);
    // A failed cell still stops its publisher, so the next one starts clean.
    if (!stopped) await a.node.request<'stopped'>({ type: 'stop' }).catch(() => undefined);
  }
}

function medianSample(samples: RedisSample[]): RedisSample {
  return medianCell(samples, {
    publicationsPerSec: 'whole',
    heldBackPct: 'whole',
    localDeliveriesPerSec: 'whole',
    crossDeliveriesPerSec: 'whole',
    localP50Ms: 3,
    localP99Ms: 3,
    crossP50Ms: 3,
    crossP99Ms: 3,
    aCpuUsPerDelivery: 3,
    bCpuUsPerDelivery: 3,
    // The ratio taken within each round, then the median (as cases 4 and 7).
    cpuRatio: 3,
    aCpuUsPerPublication: 3,
    bCpuUsPerMessage: 3,
    redisCpuUsPerPublication: 3,
    aCpuPct: 'whole',
    bCpuPct: 'whole',
    redisCpuPct: 2,
    redisStatCpuPct: 2,
    clientCpuPct: 'whole',
    otherCpuPct: 'whole',
  });
}

export async function benchRedis(options: RedisBenchOptions): Promise<RedisResult> {
  requireRedis('case 9 of the bench needs');
  // No RDB snapshots (the launcher's --save ''), no AOF: pub/sub and a few counters, nothing to keep.
  const redis = await RedisServer.start({ args: ['--appendonly', 'no'] });
  const nodes: NodeChild[] = [];
  const sides: NodeSide[] = [];
  try {
    // Its CPU time is read from /proc: it is not a Node process that could report its own.
    const redisPid = redis.pid;
    if (redisPid === undefined) throw new Error('redis-server has no pid');
    nodes.push(...(await Promise.all([startNode('A', redis.url), startNode('B', redis.url)])));
    for (const node of nodes) {
      const stats = new PublicationStats();
      const target: Target = { port: node.port, tls: false, websocket: true, ca: Buffer.alloc(0) };
      const room = new Subscribers(await openMany(target, options.subscribers, options.parallel), stats);
      const solo = new Subscribers([await open(target, 10_000, SOLO_PATH)], stats);
      sides.push({ node, stats, room, solo });
    }
    const [a, b] = sides;
    for (const side of sides) {
      await settle(side.node.name, async () => {
        const c = await side.node.request<'count'>({ type: 'count' });
        return c.room === options.subscribers && c.solo === 1 ? undefined : `${c.room} room and ${c.solo} solo subscribers, expected ${options.subscribers} and 1`;
      });
    }
    const redisVersion = await redisListening(redis.url, [ROOM_TOPIC, SOLO_TOPIC], 2);
    const clock = await checkClock(() => a.node.request<'clock'>({ type: 'clock' }));
    const specs: CellSpec[] = [];
    for (const payload of options.payloads) for (const rate of options.rates) specs.push({ subs: 'room', payload, rate });
    for (const payload of options.payloads) specs.push({ subs: 'solo', payload, rate: options.soloRate });
    // Discarded: the first cell on fresh connections and a fresh Redis link warms both nodes' JIT.
    await runCell(a, b, redisPid, specs[0], options, options.warmMs);
    const rounds: RedisSample[][] = [];
    for (let round = 0; round < options.rounds; round++) {
      const samples: RedisSample[] = [];
      // Round by round, the cells run in the opposite order.
      for (const spec of round % 2 === 0 ? specs : [...specs].reverse()) samples.push(await runCell(a, b, redisPid, spec, options, options.measureMs));
      rounds.push(samples);
    }
    const key = (s: RedisSample): string => `${s.subscribers} ${s.payload} ${s.rate}`;
    const cells = rounds[0].map((first) => medianSample(rounds.map((r) => r.find((s) => key(s) === key(first)) ?? first)));
    cells.sort((x, y) => y.subscribers - x.subscribers || x.payload - y.payload || y.rate - x.rate);
    const ratios = cells.map((c) => {
      const perRound = rounds.map((r) => r.find((s) => key(s) === key(c))?.cpuRatio ?? NaN);
      return { subscribers: c.subscribers, payload: c.payload, rate: c.rate, perRound, median: sig(median(perRound)) };
    });
    return { redisVersion, clock, cells, rounds, ratios };
  } finally {
    await Promise.all(sides.flatMap((s) => [s.room.close(), s.solo.close()]));
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
  }
}
