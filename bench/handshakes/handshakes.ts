// Case 5: connections per second. A few client loops in parallel, each
// connecting, upgrading, closing (a masked Close, the server's Close, the
// server's TCP end) and starting over — against wssd, and against a bare
// server of the same transport that accepts (TLS: completes the TLS
// handshake) and ends at once. The difference in server CPU per connection
// is what wssd's HTTP upgrade, Connection set-up and closing handshake cost.
// Over TLS twice: full handshakes, and resumed ones (each loop offers the
// session ticket its previous connection got, as a reconnecting client does).
// Between the two, the same bare server in 'upgrade' mode: a canned 101 and
// a canned Close, the least any WebSocket server on node:tls / node:net must
// do (bench/harness/echo-server.ts). wssd − that floor is what wssd's own code costs; the
// floor − bare is what the upgrade exchange costs node and the kernel.
import { sleep, withTimeout } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import { pick, targetOf, type BareMode, type ServerKind, type ServerProcess } from '../harness/server-process.js';
import { handshakeOnce, resumedHandshakeOnce, type LoopState } from './handshake-client.js';

/** Issue #14's targets, server CPU per handshake. */
export const HANDSHAKE_TARGETS = {
  /** Full TLS handshake + upgrade: at most the bare TLS accept-and-close plus this, µs. */
  tlsOverBareUs: 150,
  /** A resumed TLS handshake + upgrade: at most this share of a full one. */
  resumedOverFull: 0.4,
  /** Plain TCP + upgrade: at most the bare TCP accept-and-close plus this, µs. */
  plainOverBareUs: 60,
};

export interface HandshakeSample {
  server: ServerKind;
  handshakes: number;
  handshakesPerSec: number;
  serverCpuUsPerHandshake: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

export interface HandshakePair {
  transport: 'tls' | 'plain' | 'tls resumed';
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
  /** Share of the measured connections that the client saw resumed (resumed cells; 0 otherwise). */
  wssdResumedShare: number;
  bareResumedShare: number;
  /** The bare server in 'upgrade' mode (resuming in the resumed pair): the floor for any WebSocket server on node. */
  minimal: HandshakeSample;
  /** wssd − the minimal upgrade, µs: the median of the rounds' differences, and each round's. */
  overMinimalUs: number;
  overMinimalUsRounds: number[];
}

/** The figures the targets are about, each with its per-round values and whether it holds. */
export interface HandshakeTargets {
  /** wss − bare tls, full handshakes, µs (median of rounds) ≤ tlsOverBareUs. */
  tlsExtraUs: number;
  tlsMet: boolean;
  /** wss resumed ÷ wss full, per round, median ≤ resumedOverFull. */
  resumedOverFull: number;
  resumedOverFullRounds: number[];
  resumedMet: boolean;
  /** wss resumed ÷ bare tls full handshake. */
  resumedOverBare: number;
  /** The same ratio for the minimal upgrade (resumed ÷ full): what node:tls allows any WebSocket server. */
  minimalResumedOverFull: number;
  minimalResumedOverFullRounds: number[];
  /** The minimal upgrade − bare accept-and-close, µs, full TLS and plain: the exchange's own cost in node and the kernel. */
  tlsMinimalOverBareUs: number;
  plainMinimalOverBareUs: number;
  /** ws − bare net, µs ≤ plainOverBareUs. */
  plainExtraUs: number;
  plainMet: boolean;
}

export interface HandshakeOptions {
  rounds: number;
  warmMs: number;
  measureMs: number;
  /** Client loops running at once. */
  parallel: number;
  /** The unrecorded warm-up round's window per cell. */
  warmupMs: number;
  ca: Buffer;
}

interface CellResult {
  sample: HandshakeSample;
  /** Share of the connections the client saw resumed (0 when not resuming). */
  resumedShare: number;
}

async function runCell(server: ServerProcess, options: HandshakeOptions, resume: boolean, mode: BareMode | undefined): Promise<CellResult> {
  if (mode !== undefined) await server.setMode(mode);
  // A bare server in 'upgrade' mode speaks WebSocket as far as a handshake goes.
  const target = { ...targetOf(server, options.ca), ...(mode === 'upgrade' ? { websocket: true } : {}) };
  let running = true;
  let done = 0;
  let failure: unknown;
  const states: LoopState[] = [];
  // Each loop stops at the end of the window; each connection is bounded by its own timeout.
  const loop = async (): Promise<void> => {
    const state: LoopState = { session: undefined, resumed: 0, full: 0 };
    states.push(state);
    while (running) {
      try {
        if (resume) await resumedHandshakeOnce(target, state, 5000);
        else await handshakeOnce(target, 5000);
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
    // Counted from here: the first connection of each loop is a full one.
    for (const s of states) s.resumed = s.full = 0;
    // Connections are counted by the child as it accepts them, in the same
    // instant as its CPU time is read (see bench/echo/echo.ts).
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
    const resumed = states.reduce((a, s) => a + s.resumed, 0);
    const full = states.reduce((a, s) => a + s.full, 0);
    const resumedShare = resume ? resumed / Math.max(1, resumed + full) : 0;
    // A resumed cell that mostly made full handshakes measures the wrong thing.
    if (resume && resumedShare < 0.9) throw new Error(`${server.kind}: only ${resumed} of ${resumed + full} connections resumed their session`);
    return {
      sample: {
        server: server.kind,
        handshakes: n,
        handshakesPerSec: (n * 1e6) / serverUs,
        serverCpuUsPerHandshake: cpuUs / n,
        serverCpuPct: (100 * cpuUs) / serverUs,
        clientCpuPct: (100 * (c1.user + c1.system)) / ((t1 - t0) * 1000),
      },
      resumedShare,
    };
  } finally {
    running = false;
    clearTimeout(stopAt);
  }
}

function medianSample(samples: HandshakeSample[]): HandshakeSample {
  return medianCell(samples, {
    handshakes: 'whole',
    handshakesPerSec: 'whole',
    serverCpuUsPerHandshake: 3,
    serverCpuPct: 'whole',
    clientCpuPct: 'whole',
  });
}

/** A cell: a server (a bare one in 'upgrade' mode: "minimal"), handshaking fully or resuming. */
type CellKey = `${ServerKind}` | `${ServerKind} resumed` | `${ServerKind} minimal` | `${ServerKind} minimal resumed`;

/** `servers`: a wss, ws, tls and net child each (bare ones are switched to accept-and-end). */
export async function benchHandshakes(all: readonly ServerProcess[], options: HandshakeOptions): Promise<{ pairs: HandshakePair[]; targets: HandshakeTargets }> {
  // Interleaved as below in each round. No bare accept-and-close resumed
  // cell: the bare server ends each connection inside node:tls's
  // handshake-done callback, before OpenSSL writes the TLS 1.3 tickets, so its
  // clients never get one; its full handshake stays the floor for both rows.
  // The minimal upgrade reads the request first, so its clients do resume.
  const [wss, tlsServer, ws, net] = pick(all, ['wss', 'tls', 'ws', 'net']);
  const cells: [CellKey, ServerProcess, boolean, BareMode | undefined][] = [
    ['wss', wss, false, undefined],
    ['tls minimal', tlsServer, false, 'upgrade'],
    ['tls', tlsServer, false, 'end'],
    ['wss resumed', wss, true, undefined],
    ['tls minimal resumed', tlsServer, true, 'upgrade'],
    ['ws', ws, false, undefined],
    ['net minimal', net, false, 'upgrade'],
    ['net', net, false, 'end'],
  ];
  const samples = new Map<CellKey, HandshakeSample[]>();
  const shares = new Map<CellKey, number[]>();
  // One unrecorded round first: a few hundred handshakes run each server's
  // handshake code often enough for V8 to optimize it. Without it the first
  // rounds measure the interpreter, and TurboFan compiling on a helper thread
  // (≈ 270 µs per TLS handshake of wssd's CPU in a profile of a cold
  // 8-second window), which a server that has run for a minute no longer pays.
  for (const [, server, resume, mode] of cells) await runCell(server, { ...options, measureMs: options.warmupMs }, resume, mode);
  for (let round = 0; round < options.rounds; round++) {
    for (const [key, server, resume, mode] of cells) {
      const { sample, resumedShare } = await runCell(server, options, resume, mode);
      samples.set(key, [...(samples.get(key) ?? []), sample]);
      shares.set(key, [...(shares.get(key) ?? []), resumedShare]);
    }
  }
  const cell = (key: CellKey): HandshakeSample => medianSample(samples.get(key) ?? []);
  const perRound = (key: CellKey): number[] => (samples.get(key) ?? []).map((s) => s.serverCpuUsPerHandshake);
  const differenceRounds = (a: CellKey, b: CellKey): number[] => {
    const bs = perRound(b);
    return perRound(a).map((us, r) => sig(us - (bs[r] ?? NaN)));
  };
  const pair = (transport: HandshakePair['transport'], wssd: CellKey, bare: CellKey, minimal: CellKey): HandshakePair => {
    const extraUsRounds = differenceRounds(wssd, bare);
    const overMinimalUsRounds = differenceRounds(wssd, minimal);
    return {
      transport,
      wssd: cell(wssd),
      bare: cell(bare),
      extraUs: sig(median(extraUsRounds)),
      extraUsRounds,
      wssdResumedShare: sig(median(shares.get(wssd) ?? [0])),
      bareResumedShare: sig(median(shares.get(bare) ?? [0])),
      minimal: cell(minimal),
      overMinimalUs: sig(median(overMinimalUsRounds)),
      overMinimalUsRounds,
    };
  };
  const pairs = [pair('tls', 'wss', 'tls', 'tls minimal'), pair('tls resumed', 'wss resumed', 'tls', 'tls minimal resumed'), pair('plain', 'ws', 'net', 'net minimal')];
  const ratioRounds = (a: CellKey, b: CellKey): number[] => {
    const bs = perRound(b);
    return perRound(a).map((x, r) => sig(x / (bs[r] ?? NaN)));
  };
  const resumedOverFullRounds = ratioRounds('wss resumed', 'wss');
  const [tlsPair, , plainPair] = pairs;
  const targets: HandshakeTargets = {
    tlsExtraUs: tlsPair.extraUs,
    tlsMet: tlsPair.extraUs <= HANDSHAKE_TARGETS.tlsOverBareUs,
    resumedOverFull: sig(median(resumedOverFullRounds)),
    resumedOverFullRounds,
    resumedMet: median(resumedOverFullRounds) <= HANDSHAKE_TARGETS.resumedOverFull,
    resumedOverBare: sig(median(ratioRounds('wss resumed', 'tls'))),
    minimalResumedOverFull: sig(median(ratioRounds('tls minimal resumed', 'tls minimal'))),
    minimalResumedOverFullRounds: ratioRounds('tls minimal resumed', 'tls minimal'),
    tlsMinimalOverBareUs: sig(median(differenceRounds('tls minimal', 'tls'))),
    plainMinimalOverBareUs: sig(median(differenceRounds('net minimal', 'net'))),
    plainExtraUs: plainPair.extraUs,
    plainMet: plainPair.extraUs <= HANDSHAKE_TARGETS.plainOverBareUs,
  };
  return { pairs, targets };
}
