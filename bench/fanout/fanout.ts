// Case 7: fan-out. One publisher, in the server process, sends a stream of
// publications to every connection — N = 1,000 and 10,000 subscribers, 32 B
// and 1 KiB payloads, over TLS and plain TCP on loopback — as fast as the
// subscribers absorb them (the pacing is described in bench/fanout/fanout-server.ts).
// Per cell: deliveries per second, server CPU µs per delivery (the child's
// process.cpuUsage(), read in the same instant as its delivery count), and
// the latency from publish to receipt (each payload carries its publish time
// on the machine's monotonic clock, see monoMs in fanout-frames.ts).
//
// Three servers per transport: wssd's server.publish() (topics), wssd with
// the naive loop of send() over server.connections, and a bare node:tls /
// node:net server writing one pre-built buffer of the tick's frames to every
// socket (the floor). wssd's two modes run in one child on the same
// connections, back to back; the bare server follows in the same round
// (holding both sets of 10,000 connections at once would take 20,000
// descriptors in this process). Ratios are taken within each round, and the
// median over the rounds is reported, as in case 4.
//
// Last, --workers: the real command line (src/server.ts under tsx, the
// --app bench/fanout/fanout-app.ts) with --workers 1 and --workers 2, the
// subscribers spread by node:cluster over the workers and the publisher in
// the one that took the control connection. Those server processes run on
// both CPUs (a second worker needs one), sharing the client's.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Opcode } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { FanoutReceiver, FanoutStats, monoMs } from './fanout-frames.js';
import { FanoutChild } from './fanout-child.js';
import type { FanoutKind, FanoutMode } from './fanout-server.js';
import { closeAll, maskedFrame, open, openMany, sleep, withTimeout, type Target } from '../harness/load-client.js';
import { median, sig } from '../harness/measure.js';
import { nodeFlags, ROOT, track } from '../harness/children.js';
import { treeCpuUs, type Pinning } from '../harness/os.js';

const cliEntry = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
const appEntry = fileURLToPath(new URL('./fanout-app.ts', import.meta.url));

/** Publications per tick. Fixed for every cell, so the cells differ only in N, size and server. */
export const BURST = 4;

/**
 * Checks that the payloads' clock is one clock across processes: the child's
 * monoMs() must fall between two readings of ours around the request. Also
 * reports by how much performance.timeOrigin + performance.now() disagrees
 * between the two processes (why it is not used).
 */
export function clockCheck(child: FanoutChild): Promise<ClockCheck> {
  return checkClock(() => child.request<'clock'>({ type: 'clock' }));
}

export interface ClockCheck {
  roundTripMs: number;
  monotonicSkewMs: number;
  timeOriginSkewMs: number;
}

/** clockCheck for any child that answers with its monoMs() and timeOrigin-based time, read together. */
export async function checkClock(read: () => Promise<{ mono: number; wall: number }>): Promise<ClockCheck> {
  let best: { roundTripMs: number; monotonicSkewMs: number } | undefined;
  for (let i = 0; i < 20; i++) {
    const before = monoMs();
    const reply = await read();
    const after = monoMs();
    if (reply.mono < before || reply.mono > after) throw new Error(`clock check: the child's monotonic clock read ${reply.mono} ms, outside [${before}, ${after}]`);
    const roundTripMs = after - before;
    if (best === undefined || roundTripMs < best.roundTripMs) best = { roundTripMs, monotonicSkewMs: reply.mono - (before + after) / 2 };
  }
  // Each process's timeOrigin-based time minus its monotonic time: equal if timeOrigin were one clock.
  const reply = await read();
  const ours = performance.timeOrigin + performance.now() - monoMs();
  const theirs = reply.wall - reply.mono;
  return { roundTripMs: sig(best?.roundTripMs ?? NaN), monotonicSkewMs: sig(best?.monotonicSkewMs ?? NaN), timeOriginSkewMs: sig(theirs - ours) };
}

/** N open connections, each with its receiver; reused for several cells (case 9's too). */
export class Subscribers {
  readonly sockets: net.Socket[];
  receivers: FanoutReceiver[] = [];
  private closing = false;
  private readonly stats: FanoutStats;

  constructor(opened: { socket: net.Socket; rest: Buffer }[], stats: FanoutStats) {
    this.stats = stats;
    this.sockets = opened.map((o) => o.socket);
    opened.forEach((o, i) => {
      if (o.rest.length > 0) stats.fail(new Error('bytes arrived before any publication'));
      o.socket.on('data', (chunk: Buffer) => this.receivers[i]?.push(chunk));
      o.socket.on('close', () => {
        if (!this.closing) stats.fail(new Error(`subscriber ${i} was disconnected`));
      });
      o.socket.resume();
    });
  }

  /** Fresh receivers for a cell; about 250 subscribers, spread over all, record latencies. */
  reset(size: number): void {
    const stride = Math.max(1, Math.floor(this.sockets.length / 250));
    this.receivers = this.sockets.map((_, i) => new FanoutReceiver(size, this.stats, i % stride === 0));
  }

  /** The lowest next sequence number over all subscribers. */
  minNext(): number {
    let min = Infinity;
    for (const r of this.receivers) if (r.next < min) min = r.next;
    return min;
  }

  /** Resolves once every subscriber has all `published` publications (fails on an error or after 30 s). */
  async allReceived(published: number, what: string): Promise<void> {
    const deadline = performance.now() + 30_000;
    while (this.minNext() < published) {
      if (this.stats.error !== undefined) throw this.stats.error;
      if (performance.now() > deadline) throw new Error(`${what}: ${published} published, a subscriber has only ${this.minNext()} after 30 s`);
      await sleep(10);
    }
    if (this.stats.error !== undefined) throw this.stats.error;
  }

  async close(): Promise<void> {
    this.closing = true;
    await closeAll(this.sockets);
  }
}

export interface FanoutOptions {
  subscribers: number[];
  payloads: number[];
  rounds: number;
  warmMs: number;
  measureMs: number;
  ca: Buffer;
  /** Concurrent connection attempts when opening the subscribers. */
  parallel: number;
}

export type FanoutServer = 'wssd publish' | 'wssd naive loop' | 'bare tls' | 'bare net';

export interface FanoutSample {
  transport: 'tls' | 'plain';
  server: FanoutServer;
  subscribers: number;
  payload: number;
  deliveriesPerSec: number;
  serverCpuUsPerDelivery: number;
  serverCpuPct: number;
  clientCpuPct: number;
  /** Frames the client took in per second while recording: equal to deliveriesPerSec when it keeps up. */
  receivedPerSec: number;
  /** Times per second the publisher held back for the subscribers' buffered bytes. */
  waitsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export interface FanoutRatio {
  transport: 'tls' | 'plain';
  subscribers: number;
  payload: number;
  publishUs: number;
  naiveUs: number;
  bareUs: number;
  /** wssd publish ÷ bare, server CPU per delivery: median of the rounds' ratios (target ≤ 1.25). */
  publishVsBare: number;
  publishVsBareRounds: number[];
  /** wssd publish ÷ the naive loop (target ≤ 0.5). */
  publishVsNaive: number;
  publishVsNaiveRounds: number[];
}

const labels: Record<FanoutMode, (transport: 'tls' | 'plain') => FanoutServer> = {
  publish: () => 'wssd publish',
  naive: () => 'wssd naive loop',
  bare: (t) => (t === 'tls' ? 'bare tls' : 'bare net'),
};

async function runCell(child: FanoutChild, subs: Subscribers, mode: FanoutMode, size: number, options: FanoutOptions, stats: FanoutStats): Promise<FanoutSample> {
  const n = subs.sockets.length;
  const what = `fan-out ${child.kind} ${mode} ${n} × ${size} B`;
  stats.reset();
  subs.reset(size);
  const started = await child.request<'started'>({ type: 'start', mode, size, burst: BURST, subscribers: n });
  if (started.error !== undefined) throw new Error(`${what}: ${started.error}`);
  let published = 0;
  try {
    await sleep(options.warmMs);
    if (stats.error !== undefined) throw stats.error;
    const u0 = await child.usage();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    stats.recording = true;
    await sleep(options.measureMs);
    const u1 = await child.usage();
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    stats.recording = false;
    const recordedFrames = stats.recordedFrames;
    published = (await child.request<'stopped'>({ type: 'stop' })).published;
    await subs.allReceived(published, what);
    const deliveries = u1.deliveries - u0.deliveries;
    if (deliveries <= 0) throw new Error(`${what}: nothing delivered in ${options.measureMs} ms`);
    const serverUs = (u1.time - u0.time) * 1000;
    const cpuUs = u1.cpuUs - u0.cpuUs;
    const [p50, p99] = stats.percentiles([0.5, 0.99]);
    const transport = child.tls ? 'tls' : 'plain';
    return {
      transport,
      server: labels[mode](transport),
      subscribers: n,
      payload: size,
      deliveriesPerSec: Math.round((deliveries * 1e6) / serverUs),
      serverCpuUsPerDelivery: sig(cpuUs / deliveries),
      serverCpuPct: Math.round((100 * cpuUs) / serverUs),
      clientCpuPct: Math.round((100 * (c1.user + c1.system)) / ((t1 - t0) * 1000)),
      receivedPerSec: Math.round((recordedFrames * 1000) / (t1 - t0)),
      waitsPerSec: Math.round(((u1.waits - u0.waits) * 1e6) / serverUs),
      p50Ms: sig(p50),
      p99Ms: sig(p99),
    };
  } finally {
    // A failed cell still stops its publisher, so the next one starts clean.
    if (published === 0) await child.request<'stopped'>({ type: 'stop' }).catch(() => undefined);
  }
}

/** Polls the child (≤ 10 s) until it holds exactly `n` connections: the client's last handshakes can finish before the server's. */
async function settleAt(child: FanoutChild, n: number): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const u = await child.usage();
    if (u.connections === n) return;
    if (performance.now() > deadline) throw new Error(`fan-out ${child.kind}: ${u.connections} connections open, expected ${n}`);
    await sleep(20);
  }
}

function targetOf(child: FanoutChild, ca: Buffer): Target {
  return { port: child.port, tls: child.tls, websocket: child.websocket, ca };
}

function medianSample(samples: FanoutSample[]): FanoutSample {
  const m = (f: (s: FanoutSample) => number): number => median(samples.map(f));
  return {
    ...samples[0],
    deliveriesPerSec: Math.round(m((s) => s.deliveriesPerSec)),
    serverCpuUsPerDelivery: sig(m((s) => s.serverCpuUsPerDelivery)),
    serverCpuPct: Math.round(m((s) => s.serverCpuPct)),
    clientCpuPct: Math.round(m((s) => s.clientCpuPct)),
    receivedPerSec: Math.round(m((s) => s.receivedPerSec)),
    waitsPerSec: Math.round(m((s) => s.waitsPerSec)),
    p50Ms: sig(m((s) => s.p50Ms)),
    p99Ms: sig(m((s) => s.p99Ms)),
  };
}

/** `children`: a wss, ws, tls and net fan-out server. */
export async function benchFanout(children: readonly FanoutChild[], options: FanoutOptions): Promise<{ cells: FanoutSample[]; ratios: FanoutRatio[]; rounds: FanoutSample[][] }> {
  const byKind = (kind: FanoutKind): FanoutChild => {
    const c = children.find((x) => x.kind === kind);
    if (c === undefined) throw new Error(`no fan-out ${kind} server`);
    return c;
  };
  const stats = new FanoutStats();
  const rounds: FanoutSample[][] = [];
  for (let round = 0; round < options.rounds; round++) {
    const samples: FanoutSample[] = [];
    for (const [wssd, bare] of [
      [byKind('wss'), byKind('tls')],
      [byKind('ws'), byKind('net')],
    ] as const) {
      for (const n of options.subscribers) {
        // wssd's two modes take turns going first, round by round.
        const wssdModes: FanoutMode[] = round % 2 === 0 ? ['publish', 'naive'] : ['naive', 'publish'];
        const groups: [FanoutChild, FanoutMode[]][] = [
          [wssd, wssdModes],
          [bare, ['bare']],
        ];
        for (const [child, modes] of groups) {
          stats.reset();
          const subs = new Subscribers(await openMany(targetOf(child, options.ca), n, options.parallel), stats);
          try {
            await settleAt(child, n);
            // Unrecorded: the first cell on fresh connections cost up to 1.5× the
            // next in trials (collecting the handshakes' garbage, first writes).
            await runCell(child, subs, modes[0], options.payloads[0], { ...options, measureMs: 0 }, stats);
            for (const size of options.payloads) for (const mode of modes) samples.push(await runCell(child, subs, mode, size, options, stats));
          } finally {
            await subs.close();
          }
        }
      }
    }
    rounds.push(samples);
  }
  const key = (s: FanoutSample): string => `${s.transport} ${s.server} ${s.subscribers} ${s.payload}`;
  const cells = rounds[0].map((first) => medianSample(rounds.map((r) => r.find((s) => key(s) === key(first)) ?? first)));
  const ratios: FanoutRatio[] = [];
  for (const transport of ['tls', 'plain'] as const) {
    for (const n of options.subscribers) {
      for (const size of options.payloads) {
        const find = (server: FanoutServer, samples: FanoutSample[]): FanoutSample | undefined => samples.find((s) => s.transport === transport && s.server === server && s.subscribers === n && s.payload === size);
        const bareName = transport === 'tls' ? 'bare tls' : 'bare net';
        const us = (server: FanoutServer, samples: FanoutSample[]): number => find(server, samples)?.serverCpuUsPerDelivery ?? NaN;
        const publishVsBareRounds = rounds.map((r) => sig(us('wssd publish', r) / us(bareName, r)));
        const publishVsNaiveRounds = rounds.map((r) => sig(us('wssd publish', r) / us('wssd naive loop', r)));
        ratios.push({
          transport,
          subscribers: n,
          payload: size,
          publishUs: us('wssd publish', cells),
          naiveUs: us('wssd naive loop', cells),
          bareUs: us(bareName, cells),
          publishVsBare: sig(median(publishVsBareRounds)),
          publishVsBareRounds,
          publishVsNaive: sig(median(publishVsNaiveRounds)),
          publishVsNaiveRounds,
        });
      }
    }
  }
  return { cells, ratios, rounds };
}

// --workers N under the real command line.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (address !== null && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The CLI as the bench runs it: started, listening in every worker; stop() ends it with SIGTERM. */
async function startCli(workers: number, plain: boolean, pin: Pinning | undefined): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const args = [...nodeFlags(), '--import', 'tsx', cliEntry, '--workers', String(workers), '--host', '127.0.0.1', '--port', String(port), '--app', appEntry, '--ping-interval', '0', '--log-format', 'json'];
  if (plain) args.push('--plain');
  // Both CPUs: this process (pinned to the client's) would pass its own mask on.
  const [command, argv] = pin !== undefined ? ['taskset', ['-c', `${pin.server},${pin.client}`, process.execPath, ...args]] : [process.execPath, args];
  const child = track(spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`wssd --workers ${workers} exited (${signal ?? code}): ${log}`)));
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if ((log.match(/wssd listening on/g) ?? []).length >= workers) resolve();
      });
    }),
    30_000,
    `starting wssd --workers ${workers}`,
    () => child.kill('SIGKILL'),
  );
  child.stderr?.resume();
  const pid = child.pid ?? 0;
  return {
    port,
    pid,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The control connection to bench/fanout/fanout-app.ts: masked text frames out, the server's text replies in. */
class Control {
  private readonly socket: tls.TLSSocket | net.Socket;
  private readonly replies: string[] = [];
  private waiter: (() => void) | undefined;
  private readonly decoder: FrameDecoder;

  constructor(socket: net.Socket, rest: Buffer) {
    this.socket = socket;
    this.decoder = new FrameDecoder(
      {
        onFrame: (opcode, _fin, data, start, end) => {
          if (opcode !== Opcode.Text) return;
          this.replies.push(data.toString('utf8', start, end));
          this.waiter?.();
        },
        onError: () => socket.destroy(),
      },
      { requireMask: false },
    );
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    if (rest.length > 0) this.decoder.push(rest);
    socket.resume();
  }

  send(text: string): void {
    this.socket.write(maskedFrame(Opcode.Text, Buffer.from(text), randomBytes(4)));
  }

  async ask(text: string, answer: string): Promise<string> {
    this.send(text);
    return withTimeout(
      new Promise<string>((resolve) => {
        const look = (): void => {
          const i = this.replies.findIndex((r) => r.startsWith(answer));
          if (i < 0) return;
          this.waiter = undefined;
          resolve(this.replies.splice(i, 1)[0]);
        };
        this.waiter = look;
        look();
      }),
      10_000,
      `control: ${text}`,
    );
  }
}

export interface WorkersSample {
  workers: number;
  transport: 'tls' | 'plain';
  subscribers: number;
  payload: number;
  /** Subscribers in the publisher's worker, of all. */
  local: number;
  deliveriesPerSec: number;
  /** All server processes (primary and workers) together, from /proc: µs per delivery and % of one CPU. */
  serverCpuUsPerDelivery: number;
  serverCpuPct: number;
  clientCpuPct: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WorkersPair {
  transport: 'tls' | 'plain';
  one: WorkersSample;
  two: WorkersSample;
  /** --workers 2 ÷ --workers 1, deliveries per second: median of the rounds' ratios (target ≥ 1.6). */
  ratio: number;
  ratioRounds: number[];
}

export interface WorkersOptions {
  subscribers: number;
  payload: number;
  rounds: number;
  warmMs: number;
  measureMs: number;
  ca: Buffer;
  parallel: number;
  /** Publications in flight beyond the client's last ack. */
  window: number;
  transports: readonly ('tls' | 'plain')[];
}

async function runWorkersCell(workers: number, transport: 'tls' | 'plain', options: WorkersOptions, pin: Pinning | undefined, stats: FanoutStats): Promise<WorkersSample> {
  const what = `wssd --workers ${workers} (${transport})`;
  const cli = await startCli(workers, transport === 'plain', pin);
  let subs: Subscribers | undefined;
  let control: Control | undefined;
  let acking: NodeJS.Timeout | undefined;
  try {
    const target: Target = { port: cli.port, tls: transport === 'tls', websocket: true, ca: options.ca };
    stats.reset();
    subs = new Subscribers(await openMany(target, options.subscribers, options.parallel), stats);
    subs.reset(options.payload);
    const c = await open(target, 10_000, '/control');
    control = new Control(c.socket, c.rest);
    const ctl = control;
    // Every subscriber is registered where it landed, and the publisher's worker has some, not all.
    const [, local, total] = (await ctl.ask('count', 'count')).split(' ').map(Number);
    if (total !== options.subscribers) throw new Error(`${what}: ${total} subscribers over all workers, expected ${options.subscribers}`);
    if (workers > 1 && (local === 0 || local === total)) throw new Error(`${what}: ${local} of ${total} subscribers in the publisher's worker: not spread`);
    await ctl.ask(`start ${options.payload} ${BURST} ${options.window}`, 'started');
    const s = subs;
    acking = setInterval(() => ctl.send(`ack ${s.minNext()}`), 2);
    await sleep(options.warmMs);
    if (stats.error !== undefined) throw stats.error;
    const cpu0 = treeCpuUs(cli.pid);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    stats.recording = true;
    await sleep(options.measureMs);
    stats.recording = false;
    const cpu1 = treeCpuUs(cli.pid);
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    const received = stats.recordedFrames;
    const published = Number((await ctl.ask('stop', 'stopped')).split(' ')[1]);
    await s.allReceived(published, what);
    const wallUs = (t1 - t0) * 1000;
    const [p50, p99] = stats.percentiles([0.5, 0.99]);
    return {
      workers,
      transport,
      subscribers: options.subscribers,
      payload: options.payload,
      local,
      deliveriesPerSec: Math.round((received * 1e6) / wallUs),
      serverCpuUsPerDelivery: sig((cpu1 - cpu0) / received),
      serverCpuPct: Math.round((100 * (cpu1 - cpu0)) / wallUs),
      clientCpuPct: Math.round((100 * (c1.user + c1.system)) / wallUs),
      p50Ms: sig(p50),
      p99Ms: sig(p99),
    };
  } finally {
    clearInterval(acking);
    await subs?.close();
    await cli.stop();
  }
}

/** --workers 1 and --workers 2, alternately, over TLS and plain TCP. */
export async function benchWorkers(options: WorkersOptions, pin: Pinning | undefined): Promise<{ pairs: WorkersPair[]; rounds: WorkersSample[][] }> {
  const stats = new FanoutStats();
  const rounds: WorkersSample[][] = [];
  for (let round = 0; round < options.rounds; round++) {
    const samples: WorkersSample[] = [];
    for (const transport of options.transports) {
      for (const workers of [1, 2]) samples.push(await runWorkersCell(workers, transport, options, pin, stats));
    }
    rounds.push(samples);
  }
  const pairs: WorkersPair[] = [];
  for (const transport of options.transports) {
    const get = (r: WorkersSample[], workers: number): WorkersSample | undefined => r.find((s) => s.transport === transport && s.workers === workers);
    const med = (workers: number): WorkersSample => {
      const all = rounds.map((r) => get(r, workers)).filter((s): s is WorkersSample => s !== undefined);
      const m = (f: (s: WorkersSample) => number): number => median(all.map(f));
      return {
        ...all[0],
        local: Math.round(m((s) => s.local)),
        deliveriesPerSec: Math.round(m((s) => s.deliveriesPerSec)),
        serverCpuUsPerDelivery: sig(m((s) => s.serverCpuUsPerDelivery)),
        serverCpuPct: Math.round(m((s) => s.serverCpuPct)),
        clientCpuPct: Math.round(m((s) => s.clientCpuPct)),
        p50Ms: sig(m((s) => s.p50Ms)),
        p99Ms: sig(m((s) => s.p99Ms)),
      };
    };
    const ratioRounds = rounds.map((r) => sig((get(r, 2)?.deliveriesPerSec ?? NaN) / (get(r, 1)?.deliveriesPerSec ?? NaN)));
    pairs.push({ transport, one: med(1), two: med(2), ratio: sig(median(ratioRounds)), ratioRounds });
  }
  return { pairs, rounds };
}
