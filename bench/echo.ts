// Case 4: end-to-end echo on loopback. wssd over TLS (wss://) and plain TCP
// (ws://) beside the floors it cannot beat: a bare node:tls server and a bare
// node:net server that pipe each socket to itself. Each server runs in its own
// child process (pinned to one CPU, the load client to the other), so the
// headline — server CPU time per echoed message — is the server's alone.
//
// Servers are interleaved config by config within each round (wss, ws, tls,
// net), so a slow moment of the machine hits all four alike; figures are the
// medians over the rounds.
import { payloadPattern } from './client-frames.js';
import { closeAll, EchoStats, EchoStream, openMany, sleep, withTimeout, type Target } from './load-client.js';
import { median, sig } from './measure.js';
import { startServers, type Pinning, type ServerKind, type ServerProcess } from './server-process.js';

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
  /** Messages echoed in the measured window. */
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
  wssUsPerMsg: number;
  tlsUsPerMsg: number;
  /** wssd over TLS ÷ bare TLS echo, server CPU per message. */
  wssVsTls: number;
  wsUsPerMsg: number;
  netUsPerMsg: number;
  /** wssd over plain TCP ÷ bare TCP echo, server CPU per message. */
  wsVsNet: number;
}

export interface EchoOptions {
  configs: EchoConfig[];
  rounds: number;
  warmMs: number;
  measureMs: number;
  pin: Pinning | undefined;
  ca: Buffer;
}

/** 16 in flight for small messages, fewer for large ones (64 connections × 2 × 1 MiB is already 128 MiB). */
export function windowFor(payload: number): number {
  return payload <= 1024 ? 16 : payload <= 64 * 1024 ? 4 : 2;
}

export const SERVERS: readonly ServerKind[] = ['wss', 'ws', 'tls', 'net'];

export function targetOf(server: ServerProcess, ca: Buffer): Target {
  return { port: server.port, tls: server.kind === 'wss' || server.kind === 'tls', websocket: server.kind === 'wss' || server.kind === 'ws', ca };
}

async function runCell(server: ServerProcess, config: EchoConfig, payloads: Buffer[], options: EchoOptions, stats: EchoStats): Promise<EchoSample> {
  stats.reset();
  const target = targetOf(server, options.ca);
  const opened = await openMany(target, config.connections, 16);
  const sockets = opened.map((o) => o.socket);
  try {
    const streams = opened.map((o, i) => new EchoStream(o.socket, o.rest, target.websocket, payloads[i], config.window, stats));
    for (const s of streams) s.start();
    await sleep(options.warmMs);
    if (stats.error !== undefined) throw stats.error;

    // The window opens when the child's CPU reading arrives, and closes likewise.
    const u0 = await server.usage();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const e0 = stats.echoed;
    stats.recorded = 0;
    stats.recording = true;
    await sleep(options.measureMs);
    const u1 = await server.usage();
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    const e1 = stats.echoed;
    stats.recording = false;

    await withTimeout(Promise.all(streams.map((s) => s.stop())), 30_000, `${server.kind}: waiting for the last echoes`);
    if (stats.error !== undefined) throw stats.error;
    if (stats.echoed !== stats.sent) throw new Error(`${server.kind}: ${stats.sent} messages sent, ${stats.echoed} echoed`);
    const messages = e1 - e0;
    if (messages === 0) throw new Error(`${server.kind}: nothing echoed in ${options.measureMs} ms`);
    const wallUs = (t1 - t0) * 1000;
    const [p50, p99] = stats.percentiles([0.5, 0.99]);
    return {
      server: server.kind,
      payload: config.payload,
      connections: config.connections,
      window: config.window,
      messages,
      msgsPerSec: (messages * 1e6) / wallUs,
      mibPerSec: (messages * config.payload * 1e6) / wallUs / (1024 * 1024),
      serverCpuUsPerMsg: (u1.cpuUs - u0.cpuUs) / messages,
      serverCpuPct: (100 * (u1.cpuUs - u0.cpuUs)) / wallUs,
      clientCpuPct: (100 * (c1.user + c1.system)) / wallUs,
      p50Ms: p50,
      p99Ms: p99,
    };
  } finally {
    await closeAll(sockets);
  }
}

function medianSample(samples: EchoSample[]): EchoSample {
  const m = (f: (s: EchoSample) => number): number => median(samples.map(f));
  const first = samples[0];
  return {
    server: first.server,
    payload: first.payload,
    connections: first.connections,
    window: first.window,
    messages: Math.round(m((s) => s.messages)),
    msgsPerSec: Math.round(m((s) => s.msgsPerSec)),
    mibPerSec: sig(m((s) => s.mibPerSec)),
    serverCpuUsPerMsg: sig(m((s) => s.serverCpuUsPerMsg)),
    serverCpuPct: Math.round(m((s) => s.serverCpuPct)),
    clientCpuPct: Math.round(m((s) => s.clientCpuPct)),
    p50Ms: sig(m((s) => s.p50Ms)),
    p99Ms: sig(m((s) => s.p99Ms)),
  };
}

export async function benchEcho(options: EchoOptions): Promise<{ cells: EchoSample[]; ratios: EchoRatio[] }> {
  const servers = await startServers(
    SERVERS.map((kind) => [kind, 'echo']),
    options.pin,
  );
  try {
    // Each connection echoes its own pattern, so bytes crossing between connections would show.
    const payloads = new Map<number, Buffer[]>();
    for (const c of options.configs) {
      const have = payloads.get(c.payload) ?? [];
      for (let i = have.length; i < c.connections; i++) have.push(payloadPattern(i + 1, c.payload));
      payloads.set(c.payload, have);
    }
    const stats = new EchoStats();
    const samples = new Map<string, EchoSample[]>();
    const key = (kind: ServerKind, c: EchoConfig): string => `${kind} ${c.payload} ${c.connections} ${c.window}`;
    for (let round = 0; round < options.rounds; round++) {
      for (const config of options.configs) {
        for (const server of servers) {
          const sample = await runCell(server, config, payloads.get(config.payload) ?? [], options, stats);
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
      for (const kind of SERVERS) {
        const cell = medianSample(samples.get(key(kind, config)) ?? []);
        byKind.set(kind, cell);
        cells.push(cell);
      }
      const us = (kind: ServerKind): number => byKind.get(kind)?.serverCpuUsPerMsg ?? NaN;
      ratios.push({
        payload: config.payload,
        connections: config.connections,
        wssUsPerMsg: us('wss'),
        tlsUsPerMsg: us('tls'),
        wssVsTls: sig(us('wss') / us('tls')),
        wsUsPerMsg: us('ws'),
        netUsPerMsg: us('net'),
        wsVsNet: sig(us('ws') / us('net')),
      });
    }
    return { cells, ratios };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
