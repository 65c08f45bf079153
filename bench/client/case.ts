// Case 11 as `npm run bench` runs it: the client protocol wssd.v1 and its
// client. Its settings (shorter with --quick), its children and its tables:
// 11 (server CPU per delivery, wssd.v1 against raw topics), 11b (the
// ratios and the target), 11c (WssdClient's own CPU per message in Node,
// against a bare WebSocket) and 11d (resuming after a lost connection).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RedisServer, requireRedis } from '../../test/helpers/redis-server.js';
import { Child } from '../harness/children.js';
import { compiledServer } from '../harness/compiled.js';
import { formatBytes, markdownTable, met, print } from '../harness/measure.js';
import { machineJiffies, openFileLimit, pinProcess, pinSelf, type Pinning } from '../harness/os.js';
import { benchClientCpu, type ClientChild } from './client-cpu.js';
import type { ClientReply, ClientRequest, NodeReply, NodeRequest } from './client-requests.js';
import { benchOverhead, type NodeChild } from './overhead.js';
import { benchResume } from './resume.js';

/** wssd.v1 ÷ raw, server CPU per delivery, at most (the issue's target). */
const RATIO_TARGET = 1.3;
const HISTORY_SIZE = 2000;

const tsconfig = new URL('./tsconfig.servers.json', import.meta.url);
const ca = fileURLToPath(new URL('../../certs/dev-ca.pem', import.meta.url));

function startNode(transport: 'tls' | 'plain', cpu: number | string | undefined, redisUrl?: string): Promise<NodeChild> {
  const entry = compiledServer(tsconfig, 'bench/client/client-node.js');
  return Child.start<NodeRequest, NodeReply>({
    name: `client-case node (${transport}${redisUrl === undefined ? '' : ', Redis'})`,
    args: ['--expose-gc', entry, transport, ...(redisUrl === undefined ? [] : [redisUrl, String(HISTORY_SIZE)])],
    cpu,
    exitGraceMs: 2000,
  });
}

/** The client process: Node's WebSocket is global from Node 22, behind a flag on Node 20; the dev CA trusted for wss://. */
function startClient(cpu: number | string | undefined): Promise<ClientChild> {
  const entry = compiledServer(tsconfig, 'bench/client/client-child.js');
  const flag = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ['--experimental-websocket'] : [];
  return Child.start<ClientRequest, ClientReply>({ name: 'client-case client process', args: [...flag, entry], cpu, env: { NODE_EXTRA_CA_CERTS: ca } });
}

/** The load average (1, 5, 15 min) from /proc/loadavg, for the titles: other work shares this machine. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** Measures and prints case 11 (its own children: two nodes and a client process; then a node with one redis-server); returns its figures for the JSON line. */
export async function runClientCase(quick: boolean, pin: Pinning | undefined, caPem: Buffer): Promise<Record<string, unknown>> {
  requireRedis('case 11 of the bench needs');
  // Table A: 25,000 deliveries/s one publication a write, 60,000 four a write, the same in both runs:
  // the node stays at a third of a core or so.
  const a = quick
    ? { subscribers: 200, payloads: [32, 1024], paces: [{ rate: 125, burst: 1 }, { rate: 300, burst: 4 }], rounds: 1, pairs: 2, warmMs: 200, measureMs: 500, parallel: 32 }
    : { subscribers: 1000, payloads: [32, 1024], paces: [{ rate: 25, burst: 1 }, { rate: 60, burst: 4 }], rounds: 2, pairs: 4, warmMs: 300, measureMs: 1500, parallel: 32 };
  const b = quick ? { payloads: [32, 1024], count: 2000, rate: 5000, idleMs: 200, pairs: 2 } : { payloads: [32, 1024], count: 5000, rate: 5000, idleMs: 500, pairs: 5 };
  const c = quick ? { live: 10, missed: 1000, rounds: 2 } : { live: 10, missed: 1000, rounds: 5 };
  const limit = openFileLimit();
  if (limit !== undefined && limit < 2 * a.subscribers + 200) throw new Error(`case 11 needs ${2 * a.subscribers} sockets here and as many in the node: ulimit -n is ${limit}`);
  const loadBefore = loadAverage();
  const m0 = machineJiffies();
  const t0 = performance.now();

  // Table A and B: a wss:// and a ws:// node on the server's CPU, the client process on the client's (this process's).
  const nodes = await Promise.all((['tls', 'plain'] as const).map(async (transport) => ({ transport, node: await startNode(transport, pin?.server) })));
  const client = await startClient(pin?.client);
  if (pin !== undefined) pinSelf(pin.client);
  let overhead: Awaited<ReturnType<typeof benchOverhead>>;
  let clientCpu: Awaited<ReturnType<typeof benchClientCpu>>;
  try {
    overhead = await benchOverhead({ nodes, ca: caPem, ...a });
    const tls = nodes[0].node;
    clientCpu = await benchClientCpu({ node: tls, client, url: `wss://127.0.0.1:${tls.port}`, ...b });
  } finally {
    await Promise.all([client.stop(), ...nodes.map((n) => n.node.stop())]);
  }

  // Table C: one redis-server, a wss:// node with history and a client process, all on both CPUs.
  const both = pin === undefined ? undefined : `${pin.server},${pin.client}`;
  const redis = await RedisServer.start();
  let resume: Awaited<ReturnType<typeof benchResume>>;
  try {
    if (both !== undefined && redis.pid !== undefined) pinProcess(redis.pid, both);
    const node = await startNode('tls', both, redis.url);
    const resumeClient = await startClient(both);
    try {
      resume = await benchResume({ node, client: resumeClient, url: `wss://127.0.0.1:${node.port}`, ...c });
    } finally {
      await Promise.all([resumeClient.stop(), node.stop()]);
    }
  } finally {
    await redis.stop();
  }
  const m1 = machineJiffies();
  const busyPct = Math.round((100 * m1.cpus * (m1.busy - m0.busy)) / (m1.total - m0.total));
  const loadAfter = loadAverage();
  const machine = `load average ${loadBefore} before, ${loadAfter} after; all processes together kept ${busyPct} % of one core busy over the case (of ${m1.cpus * 100} %)`;

  const pinNote = pin === undefined ? 'not pinned' : `node on CPU ${pin.server}, client on CPU ${pin.client}`;
  const timing = `${a.rounds} round${a.rounds > 1 ? 's' : ''} on fresh connections, each with ${a.pairs} pairs of ${a.measureMs / 1000} s windows (raw, wssd.v1) per payload and pace; medians over the windows${quick ? '; quick: fewer subscribers, shorter windows' : ''}`;
  print(
    `11. wssd.v1 against raw topics: one node, ${a.subscribers.toLocaleString('en')} raw subscribers and ${a.subscribers.toLocaleString('en')} wssd.v1 ones held at once, binary publications at a fixed pace to one set or the other — ${a.paces.map((p) => `${p.rate}/s ${p.burst === 1 ? 'one a tick' : `${p.burst} a tick`}`).join(', ')} — the same publications, a binary frame each for raw, a JSON pub push with the bytes in base64 for wssd.v1 (${pinNote}; ${timing}; ${machine})`,
    markdownTable(
      ['transport', 'mode', 'payload', 'publications a write', 'frame on the wire', 'publications/s', 'deliveries/s', 'server CPU µs/delivery', 'server CPU %', 'client CPU %', 'client received/s', 'publisher behind (ticks)', 'p50 ms', 'p99 ms'],
      overhead.cells.map((s) => [s.transport, s.mode, formatBytes(s.payload), s.burst, `${s.frameBytes} B`, s.publicationsPerSec.toLocaleString('en'), s.deliveriesPerSec.toLocaleString('en'), s.serverCpuUsPerDelivery, s.serverCpuPct, s.clientCpuPct, s.receivedPerSec.toLocaleString('en'), s.behind, s.p50Ms, s.p99Ms]),
    ),
  );
  print(
    `11b. Server CPU per delivery: wssd.v1 ÷ raw (target ≤ ${RATIO_TARGET}), each ratio taken within a pair of windows measured back to back, then the median`,
    markdownTable(
      ['transport', 'payload', 'publications a write', 'raw µs', 'wssd.v1 µs', 'wssd.v1 ÷ raw', 'per pair', 'target'],
      overhead.ratios.map((r) => [r.transport, formatBytes(r.payload), r.burst, r.rawUs, r.v1Us, r.ratio, r.perPair.join(' / '), met(r.ratio <= RATIO_TARGET)]),
    ),
  );
  print(
    `11c. The client's own CPU per message in Node (${process.version}, its WebSocket${typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ' behind --experimental-websocket' : ''}), over wss://: WssdClient (compiled) subscribed to a topic, against a bare WebSocket of the same class getting the raw topic; ${b.count.toLocaleString('en')} binary publications a cell at ${b.rate.toLocaleString('en')}/s; the process's CPU less its idle baseline (${b.idleMs} ms just before) ÷ messages (node on CPU ${pin?.server ?? '-'}, client process on CPU ${pin?.client ?? '-'}; ${b.pairs} pairs of cells (bare, WssdClient) per payload, the first alternating; ratio and difference within each pair, then the median)`,
    markdownTable(
      ['payload', 'bare WebSocket µs/message', 'WssdClient µs/message', 'WssdClient − bare µs', 'WssdClient ÷ bare', 'per pair', 'messages/s', 'client CPU % (bare / WssdClient)', 'idle baseline CPU %'],
      clientCpu.ratios.map((r) => {
        const cell = (kind: 'bare' | 'wssd') => clientCpu.cells.find((s) => s.kind === kind && s.payload === r.payload);
        return [formatBytes(r.payload), r.bareUs, r.wssdUs, r.extraUs, r.ratio, r.perPair.join(' / '), cell('wssd')?.messagesPerSec.toLocaleString('en') ?? '', `${cell('bare')?.cpuPct} / ${cell('wssd')?.cpuPct}`, `${cell('bare')?.idleCpuPct} / ${cell('wssd')?.idleCpuPct}`];
      }),
    ),
  );
  print(
    `11d. Resume: a WssdClient loses its connection, ${c.missed.toLocaleString('en')} publications are made meanwhile (POST /api/batch, 100 a request), it reconnects and subscribes from its last position: wss:// node with Redis (--history-size ${HISTORY_SIZE}), one redis-server; every publication checked exactly once, in order (processes on both CPUs; ${c.rounds} rounds after one unrecorded; p50 and each round)`,
    markdownTable(
      ['', 'socket open → last replayed publication delivered, ms', 'socket open → subscribe reply, ms', 'let through → socket open, ms', 'replayed', 'making them through the API, ms'],
      [
        ['p50', resume.p50.openToLastMs, resume.p50.openToReplyMs, resume.p50.connectMs, resume.p50.replayed, resume.p50.publishMs],
        ...resume.rounds.map((r, i) => [`round ${i + 1}`, r.openToLastMs, r.openToReplyMs, r.connectMs, r.replayed, r.publishMs]),
      ],
    ),
  );
  return {
    settings: { overhead: a, clientCpu: b, resume: c, historySize: HISTORY_SIZE },
    machine: { loadBefore, loadAfter, busyPct, seconds: Math.round((performance.now() - t0) / 1000) },
    overhead,
    clientCpu,
    resume,
    targets: { v1OverRaw: RATIO_TARGET },
  };
}
