// Case 5: connections per second. A few client loops in parallel, each
// connecting, upgrading, closing (a masked Close, the server's Close, the
// server's TCP end) and starting over — against wssd, and against a bare
// server of the same transport that accepts (TLS: completes the TLS
// handshake) and ends at once. The difference in server CPU per connection
// is what wssd's HTTP upgrade, Connection set-up and closing handshake cost.
import { handshakeOnce, sleep, withTimeout } from './load-client.js';
import { median, sig } from './measure.js';
import { pick, targetOf } from './echo.js';
import type { ServerKind, ServerProcess } from './server-process.js';

export interface HandshakeSample {
  server: ServerKind;
  handshakes: number;
  handshakesPerSec: number;
  serverCpuUsPerHandshake: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

export interface HandshakePair {
  transport: 'tls' | 'plain';
  wssd: HandshakeSample;
  bare: HandshakeSample;
  /**
   * Server CPU per connection, wssd − bare, µs: the median of the rounds'
   * differences (each between cells measured back to back, so the machine's
   * drift between rounds cancels).
   */
  extraUs: number;
  /** The difference in each round. */
  extraUsRounds: number[];
}

export interface HandshakeOptions {
  rounds: number;
  warmMs: number;
  measureMs: number;
  /** Client loops running at once. */
  parallel: number;
  ca: Buffer;
}

async function runCell(server: ServerProcess, options: HandshakeOptions): Promise<HandshakeSample> {
  const target = targetOf(server, options.ca);
  let running = true;
  let done = 0;
  let failure: unknown;
  // Each loop stops at the end of the window; each connection is bounded by its own timeout.
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        await handshakeOnce(target, 5000);
        done++;
      } catch (error) {
        failure ??= error;
        running = false;
      }
    }
  };
  const loops = Array.from({ length: options.parallel }, loop);
  const stopAt = setTimeout(() => (running = false), options.warmMs + options.measureMs + 10_000);
  try {
    await sleep(options.warmMs);
    // Connections are counted by the child as it accepts them, in the same
    // instant as its CPU time is read (see echo.ts).
    const u0 = await server.usage();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(options.measureMs);
    const u1 = await server.usage();
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    running = false;
    await withTimeout(Promise.all(loops), 15_000, `${server.kind}: the last handshakes`);
    if (failure !== undefined) throw failure;
    const n = u1.accepted - u0.accepted;
    if (n === 0 || done === 0) throw new Error(`${server.kind}: no handshake completed in ${options.measureMs} ms`);
    const serverUs = (u1.time - u0.time) * 1000;
    const cpuUs = u1.cpuUs - u0.cpuUs;
    return {
      server: server.kind,
      handshakes: n,
      handshakesPerSec: (n * 1e6) / serverUs,
      serverCpuUsPerHandshake: cpuUs / n,
      serverCpuPct: (100 * cpuUs) / serverUs,
      clientCpuPct: (100 * (c1.user + c1.system)) / ((t1 - t0) * 1000),
    };
  } finally {
    running = false;
    clearTimeout(stopAt);
  }
}

function medianSample(samples: HandshakeSample[]): HandshakeSample {
  const m = (f: (s: HandshakeSample) => number): number => median(samples.map(f));
  return {
    server: samples[0].server,
    handshakes: Math.round(m((s) => s.handshakes)),
    handshakesPerSec: Math.round(m((s) => s.handshakesPerSec)),
    serverCpuUsPerHandshake: sig(m((s) => s.serverCpuUsPerHandshake)),
    serverCpuPct: Math.round(m((s) => s.serverCpuPct)),
    clientCpuPct: Math.round(m((s) => s.clientCpuPct)),
  };
}

/** `servers`: a wss, ws, tls and net child each (bare ones are switched to accept-and-end). */
export async function benchHandshakes(all: readonly ServerProcess[], options: HandshakeOptions): Promise<HandshakePair[]> {
  // Interleaved as wss, tls, ws, net in each round.
  const servers = pick(all, ['wss', 'tls', 'ws', 'net']);
  for (const s of servers) if (s.kind === 'tls' || s.kind === 'net') await s.setMode('end');
  const samples = new Map<ServerKind, HandshakeSample[]>();
  for (let round = 0; round < options.rounds; round++) {
    for (const server of servers) {
      const list = samples.get(server.kind) ?? [];
      list.push(await runCell(server, options));
      samples.set(server.kind, list);
    }
  }
  const cell = (kind: ServerKind): HandshakeSample => medianSample(samples.get(kind) ?? []);
  const pair = (transport: 'tls' | 'plain', wssd: ServerKind, bare: ServerKind): HandshakePair => {
    const bareRounds = samples.get(bare) ?? [];
    const extraUsRounds = (samples.get(wssd) ?? []).map((s, r) =>
      sig(s.serverCpuUsPerHandshake - (bareRounds[r]?.serverCpuUsPerHandshake ?? NaN)),
    );
    return { transport, wssd: cell(wssd), bare: cell(bare), extraUs: sig(median(extraUsRounds)), extraUsRounds };
  };
  return [pair('tls', 'wss', 'tls'), pair('plain', 'ws', 'net')];
}
