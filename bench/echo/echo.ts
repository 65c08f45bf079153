// Case 4: end-to-end echo on loopback. wssd over TLS (wss://) and plain TCP
// (ws://) beside the floors it cannot beat: a bare node:tls server and a bare
// node:net server that pipe each socket to itself. Each server runs in its own
// child process (pinned to one CPU, the load client to the other), so the
// headline — server CPU time per echoed message — is the server's alone.
//
// With `--ws PATH`, the `ws` package over TLS and plain TCP runs beside them
// (kinds pkg-wss, pkg-ws): the yardstick wssd must never be above.
//
// Servers are interleaved config by config within each round (wss, ws, tls,
// net, then the ws package's), so a slow moment of the machine hits all four alike; figures are the
// medians over the rounds. A ratio is taken within each round, between cells
// measured back to back, and its median over the rounds is reported: the
// machine's speed drifts by up to 2x over minutes, and a ratio of medians
// from different rounds would carry that drift.
import { randomBytes } from 'node:crypto';
import { Opcode } from '../../src/protocol/constants.js';
import { maskedFrame, payloadPattern } from '../harness/client-frames.js';
import { closeAll, openMany, sleep, withTimeout } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import { PACKAGE_SERVERS, pick, SERVERS, targetOf, type ServerKind, type ServerProcess } from '../harness/server-process.js';
import { EchoStats, EchoStream } from '../harness/echo-stream.js';

export interface EchoConfig {
  payload: number;
  connections: number;
  /** Messages in flight per connection. */
  window: number;
}

export interface EchoSample {
  server: ServerKind;
  payload: number;
  connections: number;
  window: number;
  /** Messages the server received in the measured window. */
  messages: number;
  msgsPerSec: number;
  /** Payload bytes echoed per second (one direction). */
  mibPerSec: number;
  /** The server child's user+system CPU time over the window, per echoed message. */
  serverCpuUsPerMsg: number;
  /** Server and client CPU time over wall time (100 = one core busy). */
  serverCpuPct: number;
  clientCpuPct: number;
  p50Ms: number;
  p99Ms: number;
}

export interface EchoRatio {
  payload: number;
  connections: number;
  window: number;
  wssUsPerMsg: number;
  tlsUsPerMsg: number;
  /** wssd over TLS ÷ bare TLS echo, server CPU per message: the median of the rounds' ratios. */
  wssVsTls: number;
  /** The ratio in each round. */
  wssVsTlsRounds: number[];
  wsUsPerMsg: number;
  netUsPerMsg: number;
  /** wssd over plain TCP ÷ bare TCP echo, server CPU per message: the median of the rounds' ratios. */
  wsVsNet: number;
  wsVsNetRounds: number[];
  /** With --ws: the ws package's CPU per message, and wssd ÷ it (median of the rounds' ratios), over TLS and plain. */
  pkg?: {
    wssUsPerMsg: number;
    wssdVsPkgTls: number;
    wssdVsPkgTlsRounds: number[];
    wsUsPerMsg: number;
    wssdVsPkgPlain: number;
    wssdVsPkgPlainRounds: number[];
  };
}

/**
 * Issue #14's targets for case 4: wssd ÷ the bare echo of the same transport,
 * server CPU per message, at 64 connections.
 */
export const ECHO_TARGETS: readonly { transport: 'tls' | 'plain'; payload: number; window: number; atMost: number }[] = [
  { transport: 'tls', payload: 64 * 1024, window: 16, atMost: 0.6 },
  { transport: 'tls', payload: 1024 * 1024, window: 2, atMost: 0.65 },
  { transport: 'tls', payload: 1024, window: 16, atMost: 1.0 },
  { transport: 'tls', payload: 32, window: 16, atMost: 1.15 },
  { transport: 'plain', payload: 1024, window: 16, atMost: 1.15 },
  { transport: 'plain', payload: 64 * 1024, window: 16, atMost: 0.6 },
];

export interface EchoOptions {
  configs: EchoConfig[];
  rounds: number;
  warmMs: number;
  measureMs: number;
  ca: Buffer;
}

/** 16 in flight for small messages, fewer for large ones (64 connections × 2 × 1 MiB is already 128 MiB). */
export function windowFor(payload: number): number {
  return payload <= 1024 ? 16 : payload <= 64 * 1024 ? 4 : 2;
}

/**
 * The windows a (payload, connections) cell runs with: windowFor's, and for
 * large messages on 64 connections 16 in flight as well — the load where
 * writes queue behind a busy socket and node coalesces them (issue #14:
 * at 4 in flight the difference hides).
 */
export function windowsFor(payload: number, connections: number): number[] {
  const usual = windowFor(payload);
  return payload > 1024 && connections >= 64 && usual < 16 ? [usual, 16] : [usual];
}

/** What each connection sends and expects back: payload i, and (wssd) its masked frame. */
interface Messages {
  payloads: Buffer[];
  frames: Buffer[];
}

async function runCell(server: ServerProcess, config: EchoConfig, messages: Messages, options: EchoOptions, stats: EchoStats): Promise<EchoSample> {
  stats.reset();
  const target = targetOf(server, options.ca);
  const opened = await openMany(target, config.connections, 16);
  const sockets = opened.map((o) => o.socket);
  try {
    // Every server gets the same bytes: the masked frame. wssd echoes its
    // payload in a frame; a bare echo returns the frame's bytes as they came.
    // (Sending the bare ones only the payload would align their TLS records
    // differently: 16 × 1 KiB is one 16 KiB record, 16 frames are two.)
    const streams = opened.map((o, i) => {
      const frame = messages.frames[i];
      return new EchoStream(o.socket, o.rest, target.websocket, target.websocket ? messages.payloads[i] : frame, frame, config.window, stats);
    });
    for (const s of streams) s.start();
    await sleep(options.warmMs);
    // A deep window of large messages (64 × 16 × 1 MiB is 1 GiB in flight)
    // is not in a steady state after warmMs: wait until every connection's
    // window has gone round once (at most 20 s more).
    const deadline = performance.now() + 20_000;
    while (stats.echoed < config.connections * config.window && stats.error === undefined && performance.now() < deadline) await sleep(20);
    if (stats.error !== undefined) throw stats.error;

    // The child reads its CPU time and its message count in the same instant,
    // so the headline does not depend on how late its answer gets here (under
    // load, the IPC round trip can take a good part of the window).
    const u0 = await server.usage();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    stats.latencies.clear();
    stats.recording = true;
    await sleep(options.measureMs);
    const u1 = await server.usage();
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    stats.recording = false;

    await withTimeout(Promise.all(streams.map((s) => s.stop())), 30_000, `${server.kind}: waiting for the last echoes`);
    if (stats.error !== undefined) throw stats.error;
    if (stats.echoed !== stats.sent) throw new Error(`${server.kind}: ${stats.sent} messages sent, ${stats.echoed} echoed`);
    // A bare echo sees a byte stream: its messages are bytes ÷ frame size.
    const received = target.websocket ? u1.messages - u0.messages : (u1.bytes - u0.bytes) / messages.frames[0].length;
    if (received <= 0) throw new Error(`${server.kind}: nothing echoed in ${options.measureMs} ms`);
    const serverUs = (u1.time - u0.time) * 1000;
    const cpuUs = u1.cpuUs - u0.cpuUs;
    const [p50, p99] = stats.percentiles([0.5, 0.99]);
    return {
      server: server.kind,
      payload: config.payload,
      connections: config.connections,
      window: config.window,
      messages: received,
      msgsPerSec: (received * 1e6) / serverUs,
      mibPerSec: (received * config.payload * 1e6) / serverUs / (1024 * 1024),
      serverCpuUsPerMsg: cpuUs / received,
      serverCpuPct: (100 * cpuUs) / serverUs,
      clientCpuPct: (100 * (c1.user + c1.system)) / ((t1 - t0) * 1000),
      p50Ms: p50,
      p99Ms: p99,
    };
  } finally {
    await closeAll(sockets);
  }
}

function medianSample(samples: EchoSample[]): EchoSample {
  return medianCell(samples, {
    messages: 'whole',
    msgsPerSec: 'whole',
    mibPerSec: 3,
    serverCpuUsPerMsg: 3,
    serverCpuPct: 'whole',
    clientCpuPct: 'whole',
    p50Ms: 3,
    p99Ms: 3,
  });
}

/** `servers`: a wss, ws, tls and net child each (bare ones are switched to echo), and pkg-wss and pkg-ws if there are. */
export async function benchEcho(all: readonly ServerProcess[], options: EchoOptions): Promise<{ cells: EchoSample[]; ratios: EchoRatio[] }> {
  const withPackage = all.some((s) => s.kind === 'pkg-wss');
  const kinds = withPackage ? [...SERVERS, ...PACKAGE_SERVERS] : SERVERS;
  const servers = pick(all, kinds);
  for (const s of servers) if (s.kind === 'tls' || s.kind === 'net') await s.setMode('echo');
  // Each connection echoes its own pattern, so bytes crossing between
  // connections would show; its frame is masked once (with the reference
  // masker: the server's unmasking is what the echo check tests).
  const messages = new Map<number, Messages>();
  for (const c of options.configs) {
    const m = messages.get(c.payload) ?? { payloads: [], frames: [] };
    for (let i = m.payloads.length; i < c.connections; i++) {
      const payload = payloadPattern(i + 1, c.payload);
      m.payloads.push(payload);
      m.frames.push(maskedFrame(Opcode.Binary, payload, randomBytes(4)));
    }
    messages.set(c.payload, m);
  }
  const stats = new EchoStats();
  const samples = new Map<string, EchoSample[]>();
  const key = (kind: ServerKind, c: EchoConfig): string => `${kind} ${c.payload} ${c.connections} ${c.window}`;
  for (let round = 0; round < options.rounds; round++) {
    for (const config of options.configs) {
      for (const server of servers) {
        const sample = await runCell(server, config, messages.get(config.payload) ?? { payloads: [], frames: [] }, options, stats);
        const list = samples.get(key(server.kind, config)) ?? [];
        list.push(sample);
        samples.set(key(server.kind, config), list);
      }
    }
  }
  const cells: EchoSample[] = [];
  const ratios: EchoRatio[] = [];
  for (const config of options.configs) {
    const byKind = new Map<ServerKind, EchoSample>();
    for (const kind of kinds) {
      const cell = medianSample(samples.get(key(kind, config)) ?? []);
      byKind.set(kind, cell);
      cells.push(cell);
    }
    const us = (kind: ServerKind): number => byKind.get(kind)?.serverCpuUsPerMsg ?? NaN;
    // Round r's samples of all the servers were taken one after the other.
    const perRound = (a: ServerKind, b: ServerKind): number[] => {
      const x = samples.get(key(a, config)) ?? [];
      const y = samples.get(key(b, config)) ?? [];
      return x.map((s, r) => sig(s.serverCpuUsPerMsg / (y[r]?.serverCpuUsPerMsg ?? NaN)));
    };
    const wssVsTlsRounds = perRound('wss', 'tls');
    const wsVsNetRounds = perRound('ws', 'net');
    const pkgTlsRounds = withPackage ? perRound('wss', 'pkg-wss') : [];
    const pkgPlainRounds = withPackage ? perRound('ws', 'pkg-ws') : [];
    ratios.push({
      payload: config.payload,
      connections: config.connections,
      window: config.window,
      wssUsPerMsg: us('wss'),
      tlsUsPerMsg: us('tls'),
      wssVsTls: sig(median(wssVsTlsRounds)),
      wssVsTlsRounds,
      wsUsPerMsg: us('ws'),
      netUsPerMsg: us('net'),
      wsVsNet: sig(median(wsVsNetRounds)),
      wsVsNetRounds,
      pkg: withPackage
        ? {
            wssUsPerMsg: us('pkg-wss'),
            wssdVsPkgTls: sig(median(pkgTlsRounds)),
            wssdVsPkgTlsRounds: pkgTlsRounds,
            wsUsPerMsg: us('pkg-ws'),
            wssdVsPkgPlain: sig(median(pkgPlainRounds)),
            wssdVsPkgPlainRounds: pkgPlainRounds,
          }
        : undefined,
    });
  }
  return { cells, ratios };
}
