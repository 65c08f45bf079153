// Case 7: fan-out. One publisher, in the server process, sends a stream of
// publications to every connection — N = 1,000 and 10,000 subscribers, 32 B
// and 1 KiB payloads, over TLS and plain TCP on loopback — as fast as the
// subscribers absorb them (the pacing is described in bench/fanout/fanout-server.ts).
// Per cell: deliveries per second, server CPU µs per delivery (the child's
// process.cpuUsage(), read in the same instant as its delivery count), and
// the latency from publish to receipt (each payload carries its publish time
// on the machine's monotonic clock, see bench/harness/clock.ts).
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
// Last, --workers (workers.ts): the real command line with --workers 1 and
// --workers 2.
import type { ClockCheck } from '../harness/clock.js';
import { checkClock } from '../harness/clock.js';
import { openMany, sleep, type Target } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import { PublicationStats } from '../harness/publications.js';
import { Subscribers } from '../harness/subscribers.js';
import type { FanoutChild } from './fanout-child.js';
import type { FanoutKind, FanoutMode } from './fanout-server.js';

/** Publications per tick. Fixed for every cell, so the cells differ only in N, size and server. */
export const BURST = 4;

/** The clock check (bench/harness/clock.ts) against a fan-out server child. */
export function clockCheck(child: FanoutChild): Promise<ClockCheck> {
  return checkClock(() => child.request<'clock'>({ type: 'clock' }));
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

async function runCell(child: FanoutChild, subs: Subscribers, mode: FanoutMode, size: number, options: FanoutOptions, stats: PublicationStats): Promise<FanoutSample> {
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
  return medianCell(samples, {
    deliveriesPerSec: 'whole',
    serverCpuUsPerDelivery: 3,
    serverCpuPct: 'whole',
    clientCpuPct: 'whole',
    receivedPerSec: 'whole',
    waitsPerSec: 'whole',
    p50Ms: 3,
    p99Ms: 3,
  });
}

/** `children`: a wss, ws, tls and net fan-out server. */
export async function benchFanout(children: readonly FanoutChild[], options: FanoutOptions): Promise<{ cells: FanoutSample[]; ratios: FanoutRatio[]; rounds: FanoutSample[][] }> {
  const byKind = (kind: FanoutKind): FanoutChild => {
    const c = children.find((x) => x.kind === kind);
    if (c === undefined) throw new Error(`no fan-out ${kind} server`);
    return c;
  };
  const stats = new PublicationStats();
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
