// Case 7c, --workers N under the real command line: src/server.ts under tsx,
// with --app bench/fanout/fanout-app.ts, --workers 1 and --workers 2; the
// subscribers spread by node:cluster over the workers and the publisher in
// the one that took the control connection. Those server processes run on
// both CPUs (a second worker needs one), sharing the client's; their CPU time
// comes from /proc, all of them together.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Opcode } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { freePort } from '../../test/helpers/free-port.js';
import { nodeFlags, ROOT, track } from '../harness/children.js';
import { maskedFrame } from '../harness/client-frames.js';
import { open, openMany, sleep, withTimeout, type Target } from '../harness/load-client.js';
import { median, sig } from '../harness/measure.js';
import { treeCpuUs, type Pinning } from '../harness/os.js';
import { PublicationStats } from '../harness/publications.js';
import { Subscribers } from '../harness/subscribers.js';
import { BURST } from './fanout.js';

const cliEntry = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
const appEntry = fileURLToPath(new URL('./fanout-app.ts', import.meta.url));

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

async function runWorkersCell(workers: number, transport: 'tls' | 'plain', options: WorkersOptions, pin: Pinning | undefined, stats: PublicationStats): Promise<WorkersSample> {
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
  const stats = new PublicationStats();
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
