// Case 12, second part: method 2 of Workerman's FAQ on wss:// — Workerman
// terminating TLS itself, websocket:// with transport 'ssl' (the sample echo,
// echo.php --tls, one worker) — beside wssd's own echo over TLS (the command
// line, no --app), the same certificate, one process each; and beside both
// the floor of any TLS server on node, case 4's bare node:tls echo
// (harness/echo-server.ts), which pipes each socket to itself. The load is
// case 4's (harness/echo-stream.ts): on each connection a window of binary
// messages in flight, every echo checked byte for byte (echo.php answers
// binary frames by default), the round trip recorded.
//
// The servers start once, pinned to the server's CPU (the client on the
// other), and take turns cell by cell, the order turning from round to round;
// each ratio is taken within a round. Not every server can report its own
// counts: CPU time comes from /proc (the scheduler's ns) for all three and
// the messages from the client, both read at the two ends of the window.
import { randomBytes } from 'node:crypto';
import { Opcode } from '../../src/protocol/constants.js';
import { freePort } from '../../test/helpers/free-port.js';
import { maskedFrame, payloadPattern } from '../harness/client-frames.js';
import { EchoStats, EchoStream } from '../harness/echo-stream.js';
import { closeAll, openMany, sleep, withTimeout } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import type { Pinning } from '../harness/os.js';
import { ServerProcess } from '../harness/server-process.js';
import { cpuUs, startWorkermanEcho, startWssdEcho } from './processes.js';

export type EchoServerKind = 'workerman' | 'wssd' | 'bare-tls';

export const ECHO_LABELS: Record<EchoServerKind, string> = {
  workerman: "Workerman websocket://, transport 'ssl'",
  wssd: 'wssd (command line, echo), TLS',
  'bare-tls': 'bare node:tls echo (the floor)',
};

/** A started echo server: where it listens, its CPU time, stop(). */
interface EchoServer {
  port: number;
  /** A WebSocket server (else a bare echo of the bytes). */
  websocket: boolean;
  cpuUs(): number;
  stop(): Promise<void>;
}

export interface Method2Options {
  payloads: number[];
  connections: number;
  /** Messages in flight per connection, for a payload size. */
  windowFor: (payload: number) => number;
  rounds: number;
  warmMs: number;
  measureMs: number;
  pin: Pinning | undefined;
  ca: Buffer;
}

export interface Method2Sample {
  server: EchoServerKind;
  payload: number;
  connections: number;
  window: number;
  msgsPerSec: number;
  mibPerSec: number;
  serverCpuUsPerMsg: number;
  serverCpuPct: number;
  clientCpuPct: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Method2Ratio {
  payload: number;
  /** wssd ÷ Workerman per round and the median: messages/s, and server CPU µs per message. */
  throughputRounds: number[];
  throughput: number;
  usPerMsgRounds: number[];
  usPerMsg: number;
  /** wssd ÷ the bare node:tls echo, server CPU µs per message, per round and the median. */
  vsBareRounds: number[];
  vsBare: number;
}

export interface Method2Result {
  cells: Method2Sample[];
  rounds: Method2Sample[][];
  ratios: Method2Ratio[];
}

interface Messages {
  payloads: Buffer[];
  frames: Buffer[];
}

async function runCell(kind: EchoServerKind, server: EchoServer, payload: number, messages: Messages, options: Method2Options, stats: EchoStats): Promise<Method2Sample> {
  stats.reset();
  const window = options.windowFor(payload);
  const target = { port: server.port, tls: true, websocket: server.websocket, ca: options.ca };
  const opened = await openMany(target, options.connections, 16);
  try {
    // Every server gets the same bytes, the masked frame: a WebSocket server echoes its payload in a frame, the bare echo the frame as it came.
    const streams = opened.map((o, i) => new EchoStream(o.socket, o.rest, server.websocket, server.websocket ? messages.payloads[i] : messages.frames[i], messages.frames[i], window, stats));
    for (const s of streams) s.start();
    await sleep(options.warmMs);
    const deadline = performance.now() + 20_000;
    while (stats.echoed < options.connections * window && stats.error === undefined && performance.now() < deadline) await sleep(20);
    if (stats.error !== undefined) throw stats.error;
    const e0 = stats.echoed;
    const s0 = server.cpuUs();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    stats.latencies.clear();
    stats.recording = true;
    await sleep(options.measureMs);
    const e1 = stats.echoed;
    const s1 = server.cpuUs();
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    stats.recording = false;
    await withTimeout(Promise.all(streams.map((s) => s.stop())), 30_000, `${ECHO_LABELS[kind]}: waiting for the last echoes`);
    if (stats.error !== undefined) throw stats.error;
    if (stats.echoed !== stats.sent) throw new Error(`${ECHO_LABELS[kind]}: ${stats.sent} messages sent, ${stats.echoed} echoed`);
    const echoed = e1 - e0;
    if (echoed <= 0) throw new Error(`${ECHO_LABELS[kind]}: nothing echoed in ${options.measureMs} ms`);
    const wallUs = (t1 - t0) * 1000;
    const cpuUs = s1 - s0;
    const [p50, p99] = stats.percentiles([0.5, 0.99]);
    return {
      server: kind,
      payload,
      connections: options.connections,
      window,
      msgsPerSec: (echoed * 1e6) / wallUs,
      mibPerSec: (echoed * payload * 1e6) / wallUs / (1024 * 1024),
      serverCpuUsPerMsg: cpuUs / echoed,
      serverCpuPct: (100 * cpuUs) / wallUs,
      clientCpuPct: (100 * (c1.user + c1.system)) / wallUs,
      p50Ms: p50,
      p99Ms: p99,
    };
  } finally {
    await closeAll(opened.map((o) => o.socket));
  }
}

function medianSample(samples: Method2Sample[]): Method2Sample {
  return medianCell(samples, {
    msgsPerSec: 'whole',
    mibPerSec: 3,
    serverCpuUsPerMsg: 3,
    serverCpuPct: 'whole',
    clientCpuPct: 'whole',
    p50Ms: 3,
    p99Ms: 3,
  });
}

const started = (port: number, s: { cpuUs(): number; stop(): Promise<void> }): EchoServer => ({ port, websocket: true, cpuUs: () => s.cpuUs(), stop: () => s.stop() });

/** Case 4's bare node:tls echo (compiled, pinned like the others). */
async function startBare(pin: Pinning | undefined): Promise<EchoServer> {
  const bare = await ServerProcess.start('tls', 'echo', pin);
  return { port: bare.port, websocket: false, cpuUs: () => cpuUs([bare.pid]), stop: () => bare.stop() };
}

export async function benchMethod2(options: Method2Options): Promise<Method2Result> {
  const kinds: EchoServerKind[] = ['workerman', 'wssd', 'bare-tls'];
  const servers = new Map<EchoServerKind, EchoServer>();
  const rounds: Method2Sample[][] = [];
  try {
    const [workerman, wssd] = [await freePort(), await freePort()];
    servers.set('workerman', started(workerman, await startWorkermanEcho(workerman, options.pin?.server)));
    servers.set('wssd', started(wssd, await startWssdEcho(wssd, options.pin?.server)));
    servers.set('bare-tls', await startBare(options.pin));
    // Each connection echoes its own pattern, so bytes crossing between connections would show.
    const messages = new Map<number, Messages>();
    for (const payload of options.payloads) {
      const m: Messages = { payloads: [], frames: [] };
      for (let i = 0; i < options.connections; i++) {
        m.payloads.push(payloadPattern(i + 1, payload));
        m.frames.push(maskedFrame(Opcode.Binary, m.payloads[i], randomBytes(4)));
      }
      messages.set(payload, m);
    }
    const stats = new EchoStats();
    for (let r = 0; r < options.rounds; r++) {
      const samples: Method2Sample[] = [];
      for (const payload of options.payloads) {
        for (const kind of kinds.map((_, i) => kinds[(i + r) % kinds.length])) {
          const server = servers.get(kind);
          if (server === undefined) throw new Error(`no ${kind} server`);
          samples.push(await runCell(kind, server, payload, messages.get(payload) ?? { payloads: [], frames: [] }, options, stats));
        }
      }
      rounds.push(samples);
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
  const cells: Method2Sample[] = [];
  const ratios: Method2Ratio[] = [];
  for (const payload of options.payloads) {
    for (const kind of kinds) cells.push(medianSample(rounds.map((samples) => samples.find((s) => s.server === kind && s.payload === payload)).filter((s): s is Method2Sample => s !== undefined)));
    const perRound = (f: (s: Method2Sample) => number, over: EchoServerKind): number[] =>
      rounds.map((samples) => {
        const w = samples.find((s) => s.server === 'wssd' && s.payload === payload);
        const p = samples.find((s) => s.server === over && s.payload === payload);
        return w === undefined || p === undefined ? NaN : sig(f(w) / f(p));
      });
    const throughputRounds = perRound((s) => s.msgsPerSec, 'workerman');
    const usPerMsgRounds = perRound((s) => s.serverCpuUsPerMsg, 'workerman');
    const vsBareRounds = perRound((s) => s.serverCpuUsPerMsg, 'bare-tls');
    ratios.push({ payload, throughputRounds, throughput: sig(median(throughputRounds)), usPerMsgRounds, usPerMsg: sig(median(usPerMsgRounds)), vsBareRounds, vsBare: sig(median(vsBareRounds)) });
  }
  return { cells, rounds, ratios };
}
