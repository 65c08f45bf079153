// Case 12, first part: a chat through a GatewayWorker application, with the
// PHP Gateway and with wssd as its Gateway, the same Register and the same
// BusinessWorker process(es) for both in one run (this folder's start.php
// and Events.php). N clients in groups of G; each chat message goes client
// → Gateway → BusinessWorker (Events::onMessage) → Gateway::sendToGroup →
// Gateway → the G members of the sender's group (chat-clients.ts).
//
// The Register and the BusinessWorkers start once. In each round every
// Gateway in turn is started (registering with the Register, which tells the
// BusinessWorkers), takes the N clients, runs each load (paced, then
// saturating) and is stopped again, so that a BusinessWorker only ever
// serves the Gateway being measured: GatewayWorker's sendToGroup goes to
// every Gateway it knows. The order of the Gateways turns from round to round,
// and each ratio (wssd ÷ PHP) is taken within a round and then the median of
// the rounds' reported, as in every case here.
//
// Pinning, where the bench pins: the Gateway on the server's CPU, alone; the
// Register, the BusinessWorkers and this process (the clients) on the
// other. CPU time of the Gateway (the PHP Gateway's worker process, the wssd
// process) and of the BusinessWorkers from /proc (the scheduler's ns), of
// this process from process.cpuUsage(), and what the rest of the machine
// used (other processes, the Register and the Workerman masters among them)
// from /proc/stat.
import { freePort } from '../../test/helpers/free-port.js';
import { open, openMany, sleep, withTimeout, type Target } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import { machineJiffies, type Pinning } from '../harness/os.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { ChatRoom } from './chat-clients.js';
import { controlFrame } from './chat-messages.js';
import { startBusiness, startPhpGateway, startWssdGateway, type Started } from './processes.js';

/** php: GatewayWorker's Gateway as its docs start one (ws://, count 1); php-accel: the same with protocolAccelerate; wssd: ws:// (--plain); wssd-wss: wss://. */
export type GatewayKind = 'php' | 'php-accel' | 'wssd' | 'wssd-wss';

export const GATEWAY_LABELS: Record<GatewayKind, string> = {
  php: 'PHP Gateway, ws://',
  'php-accel': 'PHP Gateway, ws://, protocolAccelerate',
  wssd: 'wssd, ws://',
  'wssd-wss': 'wssd, wss://',
};

/** A load: `rate` chat messages/s in all (paced), or each client keeping `window` unacknowledged (saturating). */
export type ChatLoad = { kind: 'paced'; rate: number; credit: number } | { kind: 'max'; window: number };

export const loadLabel = (load: ChatLoad): string => (load.kind === 'paced' ? `${load.rate.toLocaleString('en')} msgs/s` : `max, ${load.window} unacked per client`);

export interface ChatOptions {
  clients: number;
  groupSize: number;
  /** Bytes per chat message. */
  size: number;
  gateways: GatewayKind[];
  loads: ChatLoad[];
  businessWorkers: number;
  rounds: number;
  /** Each Gateway, once its clients have joined: a saturating load this long, not measured, before its first cell. */
  primeMs: number;
  /** Each cell: its load this long before the measured window. */
  warmMs: number;
  measureMs: number;
  pin: Pinning | undefined;
  ca: Buffer;
}

export interface ChatSample {
  gateway: GatewayKind;
  load: string;
  /** Chat messages sent by the clients, and delivered to them (one per receiver), per second. */
  messagesPerSec: number;
  deliveriesPerSec: number;
  /** Send → delivery at each receiver. */
  p50Ms: number;
  p99Ms: number;
  /** CPU of the Gateway process: % of one core, µs per delivery, µs per chat message. */
  gatewayCpuPct: number;
  gatewayUsPerDelivery: number;
  gatewayUsPerMessage: number;
  /** CPU of the BusinessWorker(s): % of one core, µs per chat message. */
  businessCpuPct: number;
  businessUsPerMessage: number;
  clientCpuPct: number;
  /** The rest of the machine, % of one core: all cores' busy time less the three above. */
  otherCpuPct: number;
  /** Paced: share of the window the clients' credit held the pacer back, %. */
  heldBackPct: number;
}

export interface ChatRatio {
  load: string;
  /** wssd ws:// ÷ the PHP Gateway, per round and their median: deliveries/s, and the Gateway's CPU µs per delivery and % of a core. */
  throughputRounds: number[];
  throughput: number;
  usPerDeliveryRounds: number[];
  usPerDelivery: number;
  cpuPctRounds: number[];
  cpuPct: number;
}

export interface ChatResult {
  cells: ChatSample[];
  rounds: ChatSample[][];
  ratios: ChatRatio[];
}

function targetOf(kind: GatewayKind, port: number, ca: Buffer): Target {
  return { port, tls: kind === 'wssd-wss', websocket: true, ca };
}

async function startGateway(kind: GatewayKind, registerPort: number, pin: Pinning | undefined): Promise<{ gateway: Started; port: number }> {
  const port = await freePort();
  const lanPort = await freePort();
  const cpu = pin?.server;
  const gateway = kind === 'php' || kind === 'php-accel' ? await startPhpGateway(registerPort, port, lanPort, kind === 'php-accel', cpu) : await startWssdGateway(registerPort, port, lanPort, kind === 'wssd-wss', cpu);
  return { gateway, port };
}

/**
 * Waits until a client's message reaches a BusinessWorker through the new
 * Gateway and comes back: "c" answered "in:". Until the BusinessWorker has
 * connected, the PHP Gateway closes a new client and wssd drops its
 * messages; both are tried again.
 */
async function whenServing(target: Target, what: string): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    let socket: Awaited<ReturnType<typeof open>>['socket'] | undefined;
    try {
      const opened = await open(target);
      socket = opened.socket;
      const s = socket;
      const answered = new Promise<void>((resolve, reject) => {
        const decoder = new FrameDecoder(
          {
            onFrame: (_opcode, _fin, data, start, end) => {
              if (data.toString('latin1', start, end).startsWith('in:')) resolve();
            },
            onError: reject,
          },
          { requireMask: false },
        );
        s.on('data', (chunk: Buffer) => decoder.push(chunk));
        s.on('close', () => reject(new Error('closed')));
        s.resume();
        if (opened.rest.length > 0) decoder.push(opened.rest);
      });
      s.write(controlFrame('c'));
      await withTimeout(answered, 500, what);
      return;
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`${what}: no BusinessWorker answers through it after 20 s (${(error as Error).message})`);
      await sleep(100);
    } finally {
      socket?.destroy();
    }
  }
}

interface Reading {
  t: number;
  sent: number;
  delivered: number;
  gatewayUs: number;
  businessUs: number;
  clientUs: number;
  busy: number;
  total: number;
  cpus: number;
  heldMs: number;
}

function read(room: ChatRoom, gateway: Started, business: Started): Reading {
  const c = process.cpuUsage();
  const m = machineJiffies();
  return {
    t: performance.now(),
    sent: room.stats.sent,
    delivered: room.stats.delivered,
    gatewayUs: gateway.cpuUs(),
    businessUs: business.cpuUs(),
    clientUs: c.user + c.system,
    busy: m.busy,
    total: m.total,
    cpus: m.cpus,
    heldMs: room.heldMs,
  };
}

async function runCell(kind: GatewayKind, room: ChatRoom, load: ChatLoad, gateway: Started, business: Started, options: ChatOptions): Promise<ChatSample> {
  const stats = room.stats;
  stats.latencies.clear();
  if (load.kind === 'paced') room.startPaced(load.rate, load.credit);
  else room.startClosedLoop(load.window);
  await sleep(options.warmMs);
  if (stats.error !== undefined) throw stats.error;
  const a = read(room, gateway, business);
  stats.latencies.clear();
  stats.recording = true;
  await sleep(options.measureMs);
  const b = read(room, gateway, business);
  stats.recording = false;
  await room.stop(`${GATEWAY_LABELS[kind]}, ${loadLabel(load)}`);
  const wallUs = (b.t - a.t) * 1000;
  const messages = b.sent - a.sent;
  const deliveries = b.delivered - a.delivered;
  if (deliveries <= 0) throw new Error(`${GATEWAY_LABELS[kind]}: nothing delivered in ${options.measureMs} ms`);
  const gatewayUs = b.gatewayUs - a.gatewayUs;
  const businessUs = b.businessUs - a.businessUs;
  const clientUs = b.clientUs - a.clientUs;
  const [p50, p99] = stats.percentiles([0.5, 0.99]);
  return {
    gateway: kind,
    load: loadLabel(load),
    messagesPerSec: (messages * 1e6) / wallUs,
    deliveriesPerSec: (deliveries * 1e6) / wallUs,
    p50Ms: p50,
    p99Ms: p99,
    gatewayCpuPct: (100 * gatewayUs) / wallUs,
    gatewayUsPerDelivery: gatewayUs / deliveries,
    gatewayUsPerMessage: gatewayUs / messages,
    businessCpuPct: (100 * businessUs) / wallUs,
    businessUsPerMessage: businessUs / messages,
    clientCpuPct: (100 * clientUs) / wallUs,
    otherCpuPct: (100 * b.cpus * (b.busy - a.busy)) / (b.total - a.total) - (100 * (gatewayUs + businessUs + clientUs)) / wallUs,
    heldBackPct: (100 * (b.heldMs - a.heldMs) * 1000) / wallUs,
  };
}

function medianSample(samples: ChatSample[]): ChatSample {
  return medianCell(samples, {
    messagesPerSec: 'whole',
    deliveriesPerSec: 'whole',
    p50Ms: 3,
    p99Ms: 3,
    gatewayCpuPct: 'whole',
    gatewayUsPerDelivery: 3,
    gatewayUsPerMessage: 3,
    businessCpuPct: 'whole',
    businessUsPerMessage: 3,
    clientCpuPct: 'whole',
    otherCpuPct: 'whole',
    heldBackPct: 3,
  });
}

/** Runs every Gateway × load, options.rounds times; the medians, and wssd ÷ PHP within each round. */
export async function benchChat(options: ChatOptions): Promise<ChatResult> {
  const registerPort = await freePort();
  const business = await startBusiness(registerPort, options.businessWorkers, options.pin?.client);
  const rounds: ChatSample[][] = [];
  try {
    for (let r = 0; r < options.rounds; r++) {
      const samples: ChatSample[] = [];
      const n = options.gateways.length;
      // The order turns from round to round: each Gateway is measured early and late.
      const order = options.gateways.map((_, i) => options.gateways[(i + r) % n]);
      for (const kind of order) {
        const { gateway, port } = await startGateway(kind, registerPort, options.pin);
        const room = new ChatRoom(options.clients, options.groupSize, options.size);
        try {
          const target = targetOf(kind, port, options.ca);
          await whenServing(target, GATEWAY_LABELS[kind]);
          await room.join(await openMany(target, options.clients, 16));
          // Every Gateway's hot path runs before any cell: V8 compiles wssd's on
          // background threads during its first thousands of messages, CPU time
          // a paced cell would otherwise count (PHP runs without opcache's JIT).
          room.startClosedLoop(1);
          await sleep(options.primeMs);
          await room.stop(`${GATEWAY_LABELS[kind]}, warming up`);
          for (const load of options.loads) samples.push(await runCell(kind, room, load, gateway, business, options));
        } finally {
          await room.close();
          await gateway.stop();
        }
      }
      rounds.push(samples);
    }
  } finally {
    await business.stop();
  }
  const cells: ChatSample[] = [];
  const ratios: ChatRatio[] = [];
  for (const load of options.loads.map(loadLabel)) {
    for (const kind of options.gateways) cells.push(medianSample(rounds.map((samples) => samples.find((s) => s.gateway === kind && s.load === load)).filter((s): s is ChatSample => s !== undefined)));
    if (!options.gateways.includes('php') || !options.gateways.includes('wssd')) continue;
    const perRound = (f: (s: ChatSample) => number): number[] =>
      rounds.map((samples) => {
        const w = samples.find((s) => s.gateway === 'wssd' && s.load === load);
        const p = samples.find((s) => s.gateway === 'php' && s.load === load);
        return w === undefined || p === undefined ? NaN : sig(f(w) / f(p));
      });
    const throughputRounds = perRound((s) => s.deliveriesPerSec);
    const usPerDeliveryRounds = perRound((s) => s.gatewayUsPerDelivery);
    const cpuPctRounds = perRound((s) => s.gatewayCpuPct);
    ratios.push({
      load,
      throughputRounds,
      throughput: sig(median(throughputRounds)),
      usPerDeliveryRounds,
      usPerDelivery: sig(median(usPerDeliveryRounds)),
      cpuPctRounds,
      cpuPct: sig(median(cpuPctRounds)),
    });
  }
  return { cells, rounds, ratios };
}
