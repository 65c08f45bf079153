// Case 10: the server API for backends, measured from the backend's side.
// Every wssd node is a child process (api-node.ts, compiled), plain ws://,
// with --api-port and one key; the load generator is the bench's process,
// calling the API over kept-alive HTTP/1.1 (api-client.ts); the subscribers
// are the fan-out bench's checked receivers (bench/harness/subscribers.ts:
// a gap, a repeat or a broken frame fails the run), and each payload carries
// its sequence number and monotonic stamp (bench/harness/publications.ts),
// sent as data_base64.
//
// Throughput (one node, no Redis): LANES kept-alive connections, each
// publishing in order to a topic of its own with SUBSCRIBERS subscribers
// (its own topic, so that each subscriber can check the order: requests on
// different connections are taken in no set order), one request in flight
// per connection, as fast as the node answers — POST /api/batch with
// BATCH publish commands, or POST /api/publish with one. Per cell:
// publications/s and requests/s (the node's /stats counts, read with its
// process.cpuUsage() in the same instant), request latency p50/p99, the
// node's CPU per publication, deliveries/s. The node is pinned to the server
// CPU and this process to the client's, as in cases 4–7.
//
// Latency (two nodes, one redis-server): a connection of user 42 and a
// subscriber of one topic on each node; one kept-alive connection to node
// A's API sends POST /api/send {user: "42"} (or POST /api/publish to the
// topic) at a fixed rate, one request in flight (a send due while one is in
// flight goes when it is answered, so that the two subscribers can check the
// order). Per cell: the time from the request's making — the stamp in its
// payload, written on the next tick — to the frame's arrival, on node A
// (same node) and on node B (cross-node: PUBLISH to Redis on the user's route,
// B's delivery); the request's own latency; each node's and Redis's CPU
// per call. The nodes and Redis may run on both CPUs; this process stays on
// the client's where the throughput part pinned it.
import { userRoute } from '../../src/gateway/routes.js';
import { RedisServer, requireRedis } from '../../test/helpers/redis-server.js';
import { checkClock, type ClockCheck } from '../harness/clock.js';
import { Latencies } from '../harness/latency.js';
import { open, openMany, settle, sleep, type Target } from '../harness/load-client.js';
import { median, sig } from '../harness/measure.js';
import { machineJiffies, pinProcess, pinSelf, schedCpuUs, type Pinning } from '../harness/os.js';
import { publicationPayload, PublicationStats } from '../harness/publications.js';
import { redisListening } from '../harness/redis-channels.js';
import { Subscribers } from '../harness/subscribers.js';
import { ApiClient } from './api-client.js';
import { clientCpuPct, medianOf, otherCpuPct, startNode, usage, type NodeChild } from './api-run.js';
import { batchBody, callDueMs, laneTopic, mayPublish, publishBody, requestsDue, ROOM_TOPIC, sendBody, subscriberPath, USER, waitedForPrevious } from './api-requests.js';

// ---------------------------------------------------------------- throughput

export interface ThroughputOptions {
  /** Kept-alive connections to the API, each publishing to a topic of its own. */
  lanes: number;
  /** Subscribers of each lane's topic: deliveries per publication. */
  subscribers: number;
  /** Publish commands per POST /api/batch. */
  batch: number;
  payload: number;
  /** Publications per lane that may be undelivered to a subscriber (mayPublish). */
  window: number;
  rounds: number;
  warmMs: number;
  measureMs: number;
}

export interface ThroughputSample {
  /** 'batch' (POST /api/batch) or 'publish' (POST /api/publish). */
  request: 'batch' | 'publish';
  perRequest: number;
  publicationsPerSec: number;
  requestsPerSec: number;
  requestP50Ms: number;
  requestP99Ms: number;
  deliveriesPerSec: number;
  nodeCpuUsPerPublication: number;
  nodeCpuUsPerRequest: number;
  nodeCpuPct: number;
  clientCpuPct: number;
  /** The rest of the machine, % of one core (other processes). */
  otherCpuPct: number;
  /** Share of the window the lanes waited for the subscribers (the credit), %. */
  heldBackPct: number;
}

export interface ThroughputResult {
  cells: ThroughputSample[];
  rounds: ThroughputSample[][];
  /** Publications/s through batches ÷ through single publishes, taken within each round. */
  batchOverPublish: { perRound: number[]; median: number };
}

interface ThroughputSetup {
  node: NodeChild;
  client: ApiClient;
  lanes: Subscribers[];
  stats: PublicationStats;
  requestLatencies: Latencies;
}

async function throughputCell(s: ThroughputSetup, request: 'batch' | 'publish', options: ThroughputOptions, measureMs: number): Promise<ThroughputSample> {
  const perRequest = request === 'batch' ? options.batch : 1;
  const what = `API ${request} × ${perRequest}`;
  s.stats.reset();
  s.requestLatencies.clear();
  for (const lane of s.lanes) lane.reset(options.payload);
  const published = s.lanes.map(() => 0);
  let running = true;
  let recording = false;
  let heldMs = 0;
  let failure: Error | undefined;
  const lane = async (i: number): Promise<void> => {
    const subscribers = s.lanes[i];
    const topic = laneTopic(i);
    while (running) {
      if (!mayPublish(published[i], subscribers.minNext(), perRequest, options.window)) {
        const t = performance.now();
        await sleep(1);
        if (recording) heldMs += performance.now() - t;
        continue;
      }
      const payloads: Buffer[] = [];
      for (let k = 0; k < perRequest; k++) payloads.push(publicationPayload(published[i]++, options.payload));
      const ms = await (request === 'batch' ? s.client.post('/api/batch', batchBody(topic, payloads)) : s.client.post('/api/publish', publishBody(topic, payloads[0])));
      if (recording) s.requestLatencies.add(ms);
    }
  };
  const lanes = s.lanes.map((_, i) =>
    lane(i).catch((error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
      running = false;
    }),
  );
  try {
    await sleep(options.warmMs);
    const u0 = await usage(s.node);
    const m0 = machineJiffies();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    recording = true;
    s.stats.recording = true;
    await sleep(measureMs);
    const u1 = await usage(s.node);
    const m1 = machineJiffies();
    const c1 = process.cpuUsage(c0);
    const wallMs = performance.now() - t0;
    recording = false;
    s.stats.recording = false;
    running = false;
    await Promise.all(lanes);
    if (failure !== undefined) throw failure;
    for (let i = 0; i < s.lanes.length; i++) await s.lanes[i].allReceived(published[i], `${what}, lane ${i}`);
    if (u1.dropped !== 0 || u1.undelivered !== 0) throw new Error(`${what}: ${u1.dropped} publications dropped for slow subscribers, ${u1.undelivered} undelivered`);
    if (u1.apiErrors !== u0.apiErrors) throw new Error(`${what}: the API answered ${u1.apiErrors - u0.apiErrors} errors`);
    const nodeUs = (u1.time - u0.time) * 1000;
    const cpu = u1.cpuUs - u0.cpuUs;
    const publications = u1.published - u0.published;
    const requests = u1.apiRequests - u0.apiRequests;
    if (publications <= 0) throw new Error(`${what}: nothing published in ${measureMs} ms`);
    const [p50, p99] = s.requestLatencies.percentiles([0.5, 0.99]);
    return {
      request,
      perRequest,
      publicationsPerSec: Math.round((publications * 1e6) / nodeUs),
      requestsPerSec: Math.round((requests * 1e6) / nodeUs),
      requestP50Ms: sig(p50),
      requestP99Ms: sig(p99),
      deliveriesPerSec: Math.round(((u1.deliveries - u0.deliveries) * 1e6) / nodeUs),
      nodeCpuUsPerPublication: sig(cpu / publications),
      nodeCpuUsPerRequest: sig(cpu / requests),
      nodeCpuPct: Math.round((100 * cpu) / nodeUs),
      clientCpuPct: clientCpuPct(c1, wallMs),
      otherCpuPct: otherCpuPct(m0, m1, cpu + c1.user + c1.system, wallMs),
      heldBackPct: Math.round((100 * heldMs) / (s.lanes.length * wallMs)),
    };
  } finally {
    running = false;
    await Promise.all(lanes);
  }
}

/** One node, the load generator in this process: batches and single publishes, rounds interleaved. */
export async function benchThroughput(options: ThroughputOptions, pin: Pinning | undefined): Promise<ThroughputResult> {
  const node = await startNode('', pin?.server);
  const lanes: Subscribers[] = [];
  let client: ApiClient | undefined;
  try {
    if (pin !== undefined) pinSelf(pin.client);
    const target: Target = { port: node.port, tls: false, websocket: true, ca: Buffer.alloc(0) };
    const stats = new PublicationStats(1 << 18);
    for (let i = 0; i < options.lanes; i++) lanes.push(new Subscribers(await openMany(target, options.subscribers, options.subscribers, subscriberPath({ topic: laneTopic(i) })), stats));
    for (let i = 0; i < options.lanes; i++) {
      await settle(laneTopic(i), async () => {
        const c = await node.request<'count'>({ type: 'count', topic: laneTopic(i) });
        return c.subscribers === options.subscribers ? undefined : `${c.subscribers} subscribers, expected ${options.subscribers}`;
      });
    }
    client = new ApiClient((await node.request<'api'>({ type: 'api' })).port, options.lanes);
    const setup: ThroughputSetup = { node, client, lanes, stats, requestLatencies: new Latencies(1 << 20) };
    const requests = ['batch', 'publish'] as const;
    // Discarded: warms the node's JIT and the kept-alive connections.
    for (const request of requests) await throughputCell(setup, request, options, options.warmMs);
    const rounds: ThroughputSample[][] = [];
    for (let round = 0; round < options.rounds; round++) {
      const samples: ThroughputSample[] = [];
      // Round by round, the cells run in the opposite order.
      for (const request of round % 2 === 0 ? requests : [...requests].reverse()) samples.push(await throughputCell(setup, request, options, options.measureMs));
      rounds.push(samples.sort((a, b) => requests.indexOf(a.request) - requests.indexOf(b.request)));
    }
    const cells = requests.map((_, i) => medianOf(rounds.map((r) => r[i])));
    const perRound = rounds.map((r) => sig(r[0].publicationsPerSec / r[1].publicationsPerSec));
    return { cells, rounds, batchOverPublish: { perRound, median: sig(median(perRound)) } };
  } finally {
    client?.close();
    await Promise.all(lanes.map((l) => l.close()));
    await node.stop();
  }
}

// ---------------------------------------------------------------- latency

export interface LatencyOptions {
  /** API calls per second, one in flight. */
  rate: number;
  payload: number;
  rounds: number;
  warmMs: number;
  measureMs: number;
}

export interface LatencySample {
  /** 'send': POST /api/send to user 42; 'publish': POST /api/publish to a topic. */
  call: 'send' | 'publish';
  rate: number;
  callsPerSec: number;
  /** Calls that waited more than 1 ms for the answer to the call before, % (waitedForPrevious). */
  heldBackPct: number;
  sameNodeP50Ms: number;
  sameNodeP99Ms: number;
  crossNodeP50Ms: number;
  crossNodeP99Ms: number;
  requestP50Ms: number;
  requestP99Ms: number;
  /** Node A's CPU per call (the API, the local delivery, the PUBLISH), B's per message from Redis, Redis's per call. */
  aCpuUsPerCall: number;
  bCpuUsPerMessage: number;
  redisCpuUsPerCall: number;
  clientCpuPct: number;
  /** The rest of the machine, % of one core (other processes). */
  otherCpuPct: number;
}

export interface LatencyResult {
  redisVersion: string;
  clock: ClockCheck;
  cells: LatencySample[];
  rounds: LatencySample[][];
}

/** Node A's and node B's subscribers: a connection of user 42, and one of the room topic, each with its own stats. */
interface NodeSide {
  node: NodeChild;
  user: Subscribers;
  userStats: PublicationStats;
  room: Subscribers;
  roomStats: PublicationStats;
}

async function openSide(node: NodeChild): Promise<NodeSide> {
  const target: Target = { port: node.port, tls: false, websocket: true, ca: Buffer.alloc(0) };
  const userStats = new PublicationStats(1 << 16);
  const roomStats = new PublicationStats(1 << 16);
  const user = new Subscribers([await open(target, 10_000, subscriberPath({ user: USER }))], userStats);
  const room = new Subscribers([await open(target, 10_000, subscriberPath({ topic: ROOM_TOPIC }))], roomStats);
  await settle(node.name, async () => {
    const u = await node.request<'count'>({ type: 'user', user: USER });
    const r = await node.request<'count'>({ type: 'count', topic: ROOM_TOPIC });
    return u.subscribers === 1 && r.subscribers === 1 ? undefined : `${u.subscribers} connections of user ${USER} and ${r.subscribers} subscribers of ${ROOM_TOPIC}, expected 1 and 1`;
  });
  return { node, user, userStats, room, roomStats };
}

async function latencyCell(a: NodeSide, b: NodeSide, client: ApiClient, redisPid: number, call: 'send' | 'publish', options: LatencyOptions, measureMs: number, requestLatencies: Latencies): Promise<LatencySample> {
  const what = `API ${call} at ${options.rate}/s`;
  const [local, cross] = call === 'send' ? [a.user, b.user] : [a.room, b.room];
  const [localStats, crossStats] = call === 'send' ? [a.userStats, b.userStats] : [a.roomStats, b.roomStats];
  for (const stats of [localStats, crossStats]) stats.reset();
  local.reset(options.payload);
  cross.reset(options.payload);
  requestLatencies.clear();
  let sent = 0;
  let inFlight = false;
  let running = true;
  let recording = false;
  let made = 0;
  let heldBack = 0;
  /** When the call before was made and answered, ms into the cell. */
  let madeMs = 0;
  let answeredMs = 0;
  let failure: Error | undefined;
  const start = performance.now();
  const pump = (): void => {
    if (!running || inFlight || requestsDue(options.rate, performance.now() - start, sent) === 0) return;
    inFlight = true;
    const now = performance.now() - start;
    if (recording) {
      made++;
      if (waitedForPrevious(callDueMs(options.rate, sent), madeMs, answeredMs) > 1) heldBack++;
    }
    madeMs = now;
    const payload = publicationPayload(sent++, options.payload);
    const body = call === 'send' ? sendBody(USER, payload) : publishBody(ROOM_TOPIC, payload);
    // The request's latency from the payload's stamp, as the deliveries'.
    client.post(call === 'send' ? '/api/send' : '/api/publish', body, payload.readDoubleLE(4)).then(
      (ms) => {
        inFlight = false;
        answeredMs = performance.now() - start;
        if (recording) requestLatencies.add(ms);
        pump();
      },
      (error: unknown) => {
        inFlight = false;
        running = false;
        failure ??= error instanceof Error ? error : new Error(String(error));
      },
    );
  };
  const timer = setInterval(pump, 1);
  try {
    await sleep(options.warmMs);
    const [ua0, ub0] = await Promise.all([usage(a.node), usage(b.node)]);
    const r0 = schedCpuUs(redisPid);
    const m0 = machineJiffies();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    recording = true;
    localStats.recording = true;
    crossStats.recording = true;
    await sleep(measureMs);
    const [ua1, ub1] = await Promise.all([usage(a.node), usage(b.node)]);
    const r1 = schedCpuUs(redisPid);
    const m1 = machineJiffies();
    const c1 = process.cpuUsage(c0);
    const wallMs = performance.now() - t0;
    recording = false;
    localStats.recording = false;
    crossStats.recording = false;
    running = false;
    clearInterval(timer);
    while (inFlight) await sleep(1);
    if (failure !== undefined) throw failure;
    await local.allReceived(sent, `${what}, node A`);
    await cross.allReceived(sent, `${what}, node B`);
    for (const u of [ua1, ub1]) if (u.dropped !== 0 || u.undelivered !== 0) throw new Error(`${what}: ${u.dropped} dropped for slow subscribers, ${u.undelivered} not handed to Redis`);
    const calls = ua1.apiRequests - ua0.apiRequests;
    const messages = ub1.publishedElsewhere - ub0.publishedElsewhere;
    if (calls <= 0 || messages <= 0) throw new Error(`${what}: nothing sent, or nothing came through Redis, in ${measureMs} ms`);
    const [sameP50, sameP99] = localStats.percentiles([0.5, 0.99]);
    const [crossP50, crossP99] = crossStats.percentiles([0.5, 0.99]);
    const [requestP50, requestP99] = requestLatencies.percentiles([0.5, 0.99]);
    const aCpu = ua1.cpuUs - ua0.cpuUs;
    const bCpu = ub1.cpuUs - ub0.cpuUs;
    return {
      call,
      rate: options.rate,
      callsPerSec: Math.round((calls * 1000) / (ua1.time - ua0.time)),
      heldBackPct: sig((100 * heldBack) / made, 2),
      sameNodeP50Ms: sig(sameP50),
      sameNodeP99Ms: sig(sameP99),
      crossNodeP50Ms: sig(crossP50),
      crossNodeP99Ms: sig(crossP99),
      requestP50Ms: sig(requestP50),
      requestP99Ms: sig(requestP99),
      aCpuUsPerCall: sig(aCpu / calls),
      bCpuUsPerMessage: sig(bCpu / messages),
      redisCpuUsPerCall: sig((r1 - r0) / calls),
      clientCpuPct: clientCpuPct(c1, wallMs),
      otherCpuPct: otherCpuPct(m0, m1, aCpu + bCpu + (r1 - r0) + c1.user + c1.system, wallMs),
    };
  } finally {
    running = false;
    clearInterval(timer);
    while (inFlight) await sleep(1);
  }
}

/** Two nodes and one redis-server: send to a user and publish to a topic through node A's API, at a fixed rate. */
export async function benchLatency(options: LatencyOptions, pin: Pinning | undefined): Promise<LatencyResult> {
  requireRedis('case 10 of the bench needs');
  // No RDB snapshots (the launcher's --save ''), no AOF: pub/sub only.
  const redis = await RedisServer.start({ args: ['--appendonly', 'no'] });
  // Children inherit this process's CPU (pinned to the client's by the throughput part): the nodes and Redis get both.
  const both = pin === undefined ? undefined : `${pin.server},${pin.client}`;
  const nodes: NodeChild[] = [];
  const sides: NodeSide[] = [];
  let client: ApiClient | undefined;
  try {
    const redisPid = redis.pid;
    if (redisPid === undefined) throw new Error('redis-server has no pid');
    if (both !== undefined) pinProcess(redisPid, both);
    nodes.push(...(await Promise.all([startNode('A', both, redis.url), startNode('B', both, redis.url)])));
    for (const node of nodes) sides.push(await openSide(node));
    const [a, b] = sides;
    // Every node listens on the user's route and the room topic before the first call.
    const redisVersion = await redisListening(redis.url, [userRoute(USER), ROOM_TOPIC], 2);
    const clock = await checkClock(() => a.node.request<'clock'>({ type: 'clock' }));
    // One connection, one request in flight: the subscribers check the order.
    client = new ApiClient((await a.node.request<'api'>({ type: 'api' })).port, 1);
    const requestLatencies = new Latencies(1 << 16);
    const calls = ['send', 'publish'] as const;
    // Discarded: warms both nodes' JIT, the Redis links and the kept-alive connection.
    for (const call of calls) await latencyCell(a, b, client, redisPid, call, options, options.warmMs, requestLatencies);
    const rounds: LatencySample[][] = [];
    for (let round = 0; round < options.rounds; round++) {
      const samples: LatencySample[] = [];
      for (const call of round % 2 === 0 ? calls : [...calls].reverse()) samples.push(await latencyCell(a, b, client, redisPid, call, options, options.measureMs, requestLatencies));
      rounds.push(samples.sort((x, y) => calls.indexOf(x.call) - calls.indexOf(y.call)));
    }
    const cells = calls.map((_, i) => medianOf(rounds.map((r) => r[i])));
    return { redisVersion, clock, cells, rounds };
  } finally {
    client?.close();
    await Promise.all(sides.flatMap((s) => [s.user.close(), s.room.close()]));
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
  }
}
