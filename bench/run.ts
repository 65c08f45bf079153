// `npm run bench [-- --quick] [-- --out FILE] [-- --only decoder,mask,encoder,echo,handshake,idle,fanout,deflate,redis]
//   [-- --payloads 32,1024 --conns 64 --windows 16]` (a subset of case 4, for A/B runs)
//   [-- --subscribers 1000,10000]` (case 7's subscriber counts)
//   [-- --ws PATH/node_modules/ws]` (the ws package, installed elsewhere, beside wssd in cases 4 and 8):
// every case, a markdown table each, and last one JSON line with every figure.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { benchDecoder, type DecoderResult } from './micro/decoder.js';
import { benchDeflate, printDeflate } from './deflate/deflate.js';
import { benchEcho, ECHO_TARGETS, windowsFor, type EchoConfig } from './echo/echo.js';
import { benchEncoder } from './micro/encoder.js';
import { benchHandshakes, HANDSHAKE_TARGETS } from './handshakes/handshakes.js';
import { benchIdleMemory, medianIdlePairs, type IdlePair } from './idle/idle-memory.js';
import { benchMask } from './micro/mask.js';
import { benchFanout, clockCheck, BURST } from './fanout/fanout.js';
import { benchWorkers } from './fanout/workers.js';
import { FanoutChild } from './fanout/fanout-child.js';
import { formatBytes, markdownTable } from './harness/measure.js';
import { benchRedis, printRedis, type RedisBenchOptions } from './redis/redis.js';
import { killRedisServers } from '../test/helpers/redis-server.js';
import { primeMalloc } from '../src/cli/malloc-priming.js';
import { openFileLimit, pinningPlan, pinSelf } from './harness/os.js';
import { killAllChildren } from './harness/children.js';
import { PACKAGE_SERVERS, startServers, type BareMode, type ServerKind, type ServerProcess } from './harness/server-process.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    only: { type: 'string' },
    // Case 6's number of idle connections (`npm run bench:connections` opens 10,000).
    connections: { type: 'string' },
    // Case 4 subset for A/B runs of one change: payload sizes and connection counts to echo.
    payloads: { type: 'string' },
    conns: { type: 'string' },
    // Messages in flight per connection (default: windowsFor's).
    windows: { type: 'string' },
    // Case 7: subscriber counts.
    subscribers: { type: 'string' },
    // The `ws` package installed outside this repository (its node_modules/ws), measured beside wssd (cases 4 and 8).
    ws: { type: 'string' },
  },
});
const quick = values.quick === true;
const only = values.only === undefined ? undefined : new Set(values.only.split(','));
const want = (name: string): boolean => only === undefined || only.has(name);
const minMs = quick ? 150 : 600;
const results: Record<string, unknown> = { quick, node: process.version, date: new Date().toISOString() };

// Wall time of each case (and of starting the server children), for the time budget.
const seconds: Record<string, number> = {};
let lapStart = performance.now();
const lap = (name: string): void => {
  const t = performance.now();
  seconds[name] = Number(((t - lapStart) / 1000).toFixed(1));
  lapStart = t;
};

const print = (title: string, table: string): void => {
  process.stdout.write(`\n### ${title}\n\n${table}\n`);
};

// Cases 1–3 run in this process: glibc primed as the CLI primes every server
// process (src/cli/malloc-priming.ts), or the decoder's fresh payload buffers are
// faulted in page by page whenever glibc has just trimmed its heap.
await primeMalloc();

let decoderRows: DecoderResult[] | undefined;
if (want('decoder')) {
  const sizes = [0, 16, 125, 1024, 64 * 1024, 1024 * 1024];
  const decoder = benchDecoder(sizes, [16 * 1024, 1337], quick ? 16 * 1024 * 1024 : 64 * 1024 * 1024, minMs);
  results.decoder = decoder;
  decoderRows = decoder;
  print(
    `1. Decoder alone (${quick ? 16 : 64} MiB of masked client frames)`,
    markdownTable(
      ['payload', 'chunk', 'ns/frame', 'frames/s', 'payload GB/s', 'unmask-alone ns/frame', 'unmask GB/s', 'JS XOR GB/s', 'memcpy GB/s', 'fresh Buffer + copy GB/s', 'decoder ÷ unmask (time)', 'decoder ÷ JS XOR (GB/s)', 'decoder ÷ JS XOR (CPU time, interleaved)', 'decoder ÷ fresh copy (GB/s)', 'page faults / MiB'],
      decoder.map((r) => [
        formatBytes(r.payload),
        r.chunk,
        r.nsPerFrame,
        r.framesPerSec.toLocaleString('en'),
        r.payloadGBps,
        r.unmaskNsPerFrame,
        r.unmaskGBps,
        r.jsXorGBps,
        r.memcpyGBps,
        r.freshCopyGBps === 0 ? '' : r.freshCopyGBps,
        r.vsUnmask,
        r.payload === 0 ? '' : r.vsJsXor,
        r.payload === 0 ? '' : r.vsJsXorCpu,
        r.freshCopyGBps === 0 ? '' : r.vsFreshCopy,
        r.payload === 0 ? '' : r.faultsPerMiB,
      ]),
    ),
  );
  lap('decoder');
}

if (want('mask')) {
  const mask = benchMask([16, 64, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024], minMs);
  results.mask = mask;
  print('2. Masking: reference byte loop vs fast path (GB/s, unaligned start)', markdownTable(['size', 'reference', 'fast', 'speedup'], mask.map((r) => [formatBytes(r.size), r.referenceGBps, r.fastGBps, r.speedup])));
  lap('mask');
}

if (want('encoder')) {
  const encoder = benchEncoder([0, 16, 125, 1024, 64 * 1024, 1024 * 1024], minMs);
  results.encoder = encoder;
  print('3. Encoder / send path into a discarding writer (frames/s)', markdownTable(['payload', 'binary', 'text (string)'], encoder.map((r) => [formatBytes(r.payload), r.binaryFramesPerSec.toLocaleString('en'), r.textFramesPerSec.toLocaleString('en')])));
  lap('encoder');
}

// Cases 4–9 run servers in child processes (case 9 a redis-server too): none may outlive the bench.
const killChildren = (): void => {
  killAllChildren();
  killRedisServers();
};
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

const e2e = ['echo', 'handshake', 'idle', 'fanout'].some(want);
const ca = readFileSync(new URL('../certs/dev-ca.pem', import.meta.url));
// Where taskset exists: server children on the first CPU this process may use, this process (the load client) on the second.
const pin = e2e ? pinningPlan() : undefined;
const pinNote = pin === undefined ? 'not pinned' : `server on CPU ${pin.server}, client on CPU ${pin.client}`;
if (e2e) results.pinning = pin ?? null;

// The children of cases 4 and 5 start at once, before any measurement, on
// both CPUs, and are shared (the bare servers switch from echoing to ending
// each connection); case 6 starts fresh ones for each of its rounds, so that
// no allocator has served megabytes of echoes, or an earlier round, before
// it counts memory.
const kinds: ServerKind[] = ['wss', 'ws', 'tls', 'net'];
// With --ws, the ws package's echo servers too (case 4).
const traffic: [ServerKind, BareMode][] = want('echo') || want('handshake') ? [...kinds, ...(want('echo') && values.ws !== undefined ? PACKAGE_SERVERS : [])].map((kind) => [kind, 'echo']) : [];
const children: ServerProcess[] = traffic.length > 0 ? await startServers(traffic, pin, values.ws) : [];
const trafficServers = children;
// Case 7's servers start with the others, before any measurement.
const fanoutChildren: FanoutChild[] = want('fanout') ? await Promise.all((['wss', 'ws', 'tls', 'net'] as const).map((kind) => FanoutChild.start(kind, pin))) : [];
if (pin !== undefined) pinSelf(pin.client);
if (e2e) lap('start servers');

try {
  if (want('echo')) {
    const configs: EchoConfig[] = [];
    const list = (text: string | undefined, all: number[]): number[] => (text === undefined ? all : text.split(',').map(Number));
    let skipped = '';
    for (const payload of list(values.payloads, [32, 1024, 64 * 1024, 1024 * 1024])) {
      for (const connections of list(values.conns, [1, 64])) {
        for (const window of list(values.windows, windowsFor(payload, connections))) {
          // 1 GiB in flight takes seconds to fill and to drain, per server: the full run only, unless asked for.
          if (quick && values.windows === undefined && payload * connections * window > 256 * 1024 * 1024) {
            skipped += `${skipped === '' ? '' : ', '}${formatBytes(payload)} × ${connections} × ${window}`;
            continue;
          }
          configs.push({ payload, connections, window });
        }
      }
    }
    const rounds = quick ? 1 : 3;
    // Quick: 0.4 s windows, not more — 36 cells must fit a quick run of about two minutes.
    const measureMs = quick ? 400 : 3000;
    const echo = await benchEcho(trafficServers, { configs, rounds, warmMs: quick ? 150 : 400, measureMs, ca });
    results.echo = { rounds, measureMs, ...echo };
    print(
      `4. End-to-end echo on loopback, server in a child process (${pinNote}; median of ${rounds} round${rounds > 1 ? 's' : ''} × ${measureMs / 1000} s)`,
      markdownTable(
        ['payload', 'conns × window', 'server', 'msgs/s', 'MiB/s', 'server CPU µs/msg', 'server CPU %', 'client CPU %', 'p50 ms', 'p99 ms'],
        echo.cells.map((c) => [formatBytes(c.payload), `${c.connections} × ${c.window}`, c.server, c.msgsPerSec.toLocaleString('en'), c.mibPerSec, c.serverCpuUsPerMsg, c.serverCpuPct, c.clientCpuPct, c.p50Ms, c.p99Ms]),
      ),
    );
    const pkg = values.ws !== undefined;
    print(
      `4b. Server CPU per echoed message, wssd ÷ bare echo of the same transport${pkg ? ', and wssd ÷ the ws package' : ''} (each ratio taken within a round, then the median of the rounds')`,
      markdownTable(
        ['payload', 'conns × window', 'wss µs', 'bare tls µs', 'wss ÷ tls', 'per round', 'ws µs', 'bare net µs', 'ws ÷ net', 'per round', ...(pkg ? ['ws pkg TLS µs', 'wssd ÷ ws pkg, TLS', 'per round', 'ws pkg plain µs', 'wssd ÷ ws pkg, plain', 'per round'] : [])],
        echo.ratios.map((r) => [
          formatBytes(r.payload),
          `${r.connections} × ${r.window}`,
          r.wssUsPerMsg,
          r.tlsUsPerMsg,
          r.wssVsTls,
          r.wssVsTlsRounds.join(' / '),
          r.wsUsPerMsg,
          r.netUsPerMsg,
          r.wsVsNet,
          r.wsVsNetRounds.join(' / '),
          ...(r.pkg === undefined ? [] : [r.pkg.wssUsPerMsg, r.pkg.wssdVsPkgTls, r.pkg.wssdVsPkgTlsRounds.join(' / '), r.pkg.wsUsPerMsg, r.pkg.wssdVsPkgPlain, r.pkg.wssdVsPkgPlainRounds.join(' / ')]),
        ]),
      ),
    );
    // Issue #14's targets: each ratio of 4b that has one (64 connections), the decoder's (case 1), and "never above ws".
    const met = (ok: boolean): string => (ok ? 'met' : 'missed');
    const targetRows: (string | number)[][] = [];
    for (const t of ECHO_TARGETS) {
      const r = echo.ratios.find((x) => x.payload === t.payload && x.window === t.window && x.connections === 64);
      if (r === undefined) continue;
      const value = t.transport === 'tls' ? r.wssVsTls : r.wsVsNet;
      const rounds = t.transport === 'tls' ? r.wssVsTlsRounds : r.wsVsNetRounds;
      targetRows.push([`${t.transport === 'tls' ? 'TLS' : 'plain'} ${formatBytes(t.payload)} × w${t.window}: wssd ÷ bare ${t.transport === 'tls' ? 'TLS' : 'TCP'} echo`, value, rounds.join(' / '), `≤ ${t.atMost}`, met(value <= t.atMost)]);
    }
    for (const d of decoderRows ?? []) {
      if (d.chunk !== 16 * 1024 || (d.payload !== 64 * 1024 && d.payload !== 1024 * 1024)) continue;
      targetRows.push([`decoder ${formatBytes(d.payload)} in 16 KiB chunks ÷ JS XOR floor (GB/s; CPU time interleaved: ${d.vsJsXorCpu})`, d.vsJsXor, '', '≥ 0.9', met(d.vsJsXor >= 0.9)]);
    }
    const withPkg = echo.ratios.filter((r) => r.pkg !== undefined);
    if (withPkg.length > 0) {
      const worst = (f: (r: (typeof withPkg)[number]) => number): (typeof withPkg)[number] => withPkg.reduce((a, b) => (f(b) > f(a) ? b : a));
      const tlsWorst = worst((r) => r.pkg?.wssdVsPkgTls ?? 0);
      const plainWorst = worst((r) => r.pkg?.wssdVsPkgPlain ?? 0);
      const tlsValue = tlsWorst.pkg?.wssdVsPkgTls ?? NaN;
      const plainValue = plainWorst.pkg?.wssdVsPkgPlain ?? NaN;
      targetRows.push([`TLS, every cell: wssd ÷ ws package, the highest (${formatBytes(tlsWorst.payload)} × ${tlsWorst.connections} × ${tlsWorst.window})`, tlsValue, tlsWorst.pkg?.wssdVsPkgTlsRounds.join(' / ') ?? '', '≤ 1', met(tlsValue <= 1)]);
      targetRows.push([`plain, every cell: wssd ÷ ws package, the highest (${formatBytes(plainWorst.payload)} × ${plainWorst.connections} × ${plainWorst.window})`, plainValue, plainWorst.pkg?.wssdVsPkgPlainRounds.join(' / ') ?? '', '≤ 1', met(plainValue <= 1)]);
    }
    if (targetRows.length > 0) {
      print(`4c. Targets (issue #14), server CPU per message${withPkg.length === 0 ? '; the ws package is compared with --ws PATH' : ''}`, markdownTable(['figure', 'this run', 'per round', 'target', ''], targetRows));
    }
    if (skipped !== '') process.stdout.write(`\n(Case 4 with ${skipped} in flight runs in the full bench only.)\n`);
    lap('echo');
  }

  if (want('handshake')) {
    // Five short rounds rather than three long ones: the TLS figures swing
    // with the machine (a bare TLS handshake cost 835–1,192 µs of server CPU
    // in three runs within an hour), and the difference is taken within each round.
    const rounds = quick ? 1 : 5;
    const measureMs = quick ? 600 : 1200;
    const parallel = 4;
    const warmupMs = quick ? 600 : 3000;
    const { pairs, targets } = await benchHandshakes(trafficServers, { rounds, warmMs: quick ? 150 : 400, measureMs, parallel, warmupMs, ca });
    results.handshakes = { rounds, measureMs, warmupMs, parallel, pairs, targets, goals: HANDSHAKE_TARGETS };
    print(
      `5. Connections per second: connect + upgrade + close, ${parallel} client loops (${pinNote}; after an unrecorded ${warmupMs / 1000} s warm-up per cell, median of ${rounds} round${rounds > 1 ? 's' : ''} × ${measureMs / 1000} s); "tls resumed": each loop offers the session ticket of its previous connection`,
      markdownTable(
        ['transport', 'server', 'handshakes/s', 'server CPU µs/handshake', 'server CPU %', 'client CPU %', 'wssd − bare µs', 'per round', 'wssd − minimal upgrade µs', 'per round'],
        pairs.flatMap((p) => [
          [p.transport, `wssd (${p.wssd.server})`, p.wssd.handshakesPerSec.toLocaleString('en'), p.wssd.serverCpuUsPerHandshake, p.wssd.serverCpuPct, p.wssd.clientCpuPct, p.extraUs, p.extraUsRounds.join(' / '), p.overMinimalUs, p.overMinimalUsRounds.join(' / ')],
          [p.transport, `minimal upgrade on bare ${p.minimal.server} (canned 101 and Close)`, p.minimal.handshakesPerSec.toLocaleString('en'), p.minimal.serverCpuUsPerHandshake, p.minimal.serverCpuPct, p.minimal.clientCpuPct, '', '', '', ''],
          [p.transport, `bare ${p.bare.server} (${p.transport === 'tls resumed' ? 'full handshake, ' : ''}accept, end)`, p.bare.handshakesPerSec.toLocaleString('en'), p.bare.serverCpuUsPerHandshake, p.bare.serverCpuPct, p.bare.clientCpuPct, '', '', '', ''],
        ]),
      ),
    );
    const met = (ok: boolean): string => (ok ? 'met' : 'missed');
    print(
      "5b. Handshake targets (issue #14; each figure taken within a round, then the median of the rounds')",
      markdownTable(
        ['figure', 'this run', 'per round', 'target', ''],
        [
          ['full TLS + upgrade: wss − bare tls, µs', targets.tlsExtraUs, pairs[0].extraUsRounds.join(' / '), `≤ ${HANDSHAKE_TARGETS.tlsOverBareUs}`, met(targets.tlsMet)],
          ['resumed TLS + upgrade ÷ full (wss)', targets.resumedOverFull, targets.resumedOverFullRounds.join(' / '), `≤ ${HANDSHAKE_TARGETS.resumedOverFull}`, met(targets.resumedMet)],
          ['resumed TLS + upgrade (wss) ÷ bare tls full accept-and-close', targets.resumedOverBare, '', '', ''],
          ['floor: minimal upgrade, resumed ÷ full (node:tls)', targets.minimalResumedOverFull, targets.minimalResumedOverFullRounds.join(' / '), '', ''],
          ['floor: minimal upgrade − bare accept-and-close, TLS / plain, µs', `${targets.tlsMinimalOverBareUs} / ${targets.plainMinimalOverBareUs}`, '', '', ''],
          ['plain + upgrade: ws − bare net, µs', targets.plainExtraUs, pairs[2].extraUsRounds.join(' / '), `≤ ${HANDSHAKE_TARGETS.plainOverBareUs}`, met(targets.plainMet)],
        ],
      ),
    );
    lap('handshake');
  }

  if (want('idle')) {
    // Quick: 1,000, as opening each TLS connection costs this client ~1.5 ms of CPU (Node 20 / OpenSSL 3.0).
    const wanted = values.connections !== undefined ? Number(values.connections) : quick ? 1000 : 2000;
    // Each connection is a descriptor here and one in the server child; keep headroom for the rest.
    const limit = openFileLimit();
    const connections = limit === undefined || limit >= wanted + 200 ? wanted : Math.max(10, limit - 200);
    const settleMs = quick ? 300 : 1000;
    // RSS moves by a few KiB per connection from run to run (the allocator's
    // state, V8's young generation): the median of 3 rounds in the full run.
    const rounds = quick ? 1 : 3;
    const perRound: IdlePair[][] = [];
    for (let round = 0; round < rounds; round++) {
      const idleServers = await startServers(kinds.map((kind): [ServerKind, BareMode] => [kind, 'hold']), pin);
      try {
        perRound.push(await benchIdleMemory(idleServers, { connections, settleMs, ca }));
      } finally {
        await Promise.all(idleServers.map((c) => c.stop()));
      }
    }
    const pairs = medianIdlePairs(perRound);
    results.idleMemory = { connections, settleMs, rounds, openFileLimit: limit ?? null, pairs, perRound };
    const capped = connections < wanted ? ` (capped from ${wanted} by ulimit -n ${limit})` : quick && values.connections === undefined ? ' (2,000 in the full run)' : '';
    print(
      `6. Memory per idle connection: ${connections.toLocaleString('en')} idle connections${capped}, delta after a full GC ÷ N (KiB; median of ${rounds} round${rounds > 1 ? 's' : ''}, fresh servers each)`,
      markdownTable(
        ['transport', 'server', 'RSS KiB/conn', 'heap KiB/conn', 'external KiB/conn', 'young gen MiB', 'wssd − bare RSS', 'wssd − bare heap', 'closed cleanly'],
        pairs.flatMap((p) => [
          [p.transport, `wssd (${p.wssd.server})`, p.wssd.rssKiBPerConn, p.wssd.heapKiBPerConn, p.wssd.externalKiBPerConn, p.wssd.newSpaceMiB.join(' → '), p.extraRssKiB, p.extraHeapKiB, `${p.wssd.closedCleanly ?? 0} / ${p.wssd.connections}`],
          [p.transport, `bare ${p.bare.server} (holds sockets)`, p.bare.rssKiBPerConn, p.bare.heapKiBPerConn, p.bare.externalKiBPerConn, p.bare.newSpaceMiB.join(' → '), '', '', ''],
        ]),
      ),
    );
    lap('idle');
  }
  if (want('fanout')) {
    // Quick: 200 subscribers, 0.2 s windows, one round and no --workers cells
    // (starting the CLI and its workers under tsx takes seconds each): the
    // whole quick run has about a minute.
    const subscribers = values.subscribers !== undefined ? values.subscribers.split(',').map(Number) : quick ? [200] : [1000, 10_000];
    const limit = openFileLimit();
    const most = Math.max(...subscribers);
    if (limit !== undefined && limit < most + 200) throw new Error(`case 7 needs ${most} sockets here and in the server: ulimit -n is ${limit}`);
    const rounds = quick ? 1 : 2;
    const measureMs = quick ? 200 : 2000;
    const warmMs = quick ? 100 : 500;
    const clock = await clockCheck(fanoutChildren[0]);
    const fanout = await benchFanout(fanoutChildren, { subscribers, payloads: [32, 1024], rounds, warmMs, measureMs, ca, parallel: 32 });
    lap('fanout');
    const workersSubscribers = 1000;
    const workers = quick ? undefined : await benchWorkers({ subscribers: workersSubscribers, payload: 32, rounds, warmMs, measureMs, ca, parallel: 32, window: 64 * BURST, transports: ['tls', 'plain'] }, pin);
    if (!quick) lap('fanout workers');
    results.fanout = { rounds, measureMs, burst: BURST, clock, cells: fanout.cells, ratios: fanout.ratios, perRound: fanout.rounds, workers: workers ?? null };
    const timing = `${rounds} round${rounds > 1 ? 's' : ''} × ${measureMs / 1000} s${quick ? ', quick: fewer subscribers, shorter windows' : ''}`;
    print(
      `7. Fan-out: 1 publisher in the server process, ${BURST} publications per tick, to every subscriber (${pinNote}; median of ${timing}; clock check: monotonic skew ${clock.monotonicSkewMs} ms within a ${clock.roundTripMs} ms round trip, timeOrigin would be off by ${clock.timeOriginSkewMs} ms)`,
      markdownTable(
        ['transport', 'subscribers', 'payload', 'server', 'deliveries/s', 'server CPU µs/delivery', 'server CPU %', 'client CPU %', 'client received/s', 'publisher waits/s', 'p50 ms', 'p99 ms'],
        fanout.cells.map((c) => [c.transport, c.subscribers.toLocaleString('en'), formatBytes(c.payload), c.server, c.deliveriesPerSec.toLocaleString('en'), c.serverCpuUsPerDelivery, c.serverCpuPct, c.clientCpuPct, c.receivedPerSec.toLocaleString('en'), c.waitsPerSec, c.p50Ms, c.p99Ms]),
      ),
    );
    print(
      '7b. Server CPU per delivery: wssd publish ÷ bare floor (target ≤ 1.25) and ÷ naive send() loop (target ≤ 0.5), each ratio taken within a round, then the median',
      markdownTable(
        ['transport', 'subscribers', 'payload', 'publish µs', 'bare µs', 'naive µs', 'publish ÷ bare', 'per round', 'publish ÷ naive', 'per round'],
        fanout.ratios.map((r) => [r.transport, r.subscribers.toLocaleString('en'), formatBytes(r.payload), r.publishUs, r.bareUs, r.naiveUs, r.publishVsBare, r.publishVsBareRounds.join(' / '), r.publishVsNaive, r.publishVsNaiveRounds.join(' / ')]),
      ),
    );
    if (workers === undefined) process.stdout.write('\n(7c, --workers 2 against --workers 1, runs in the full bench only.)\n');
    else print(
      `7c. --workers 2 vs --workers 1 (the CLI, --app bench/fanout/fanout-app.ts): ${workersSubscribers.toLocaleString('en')} subscribers, 32 B, publisher in one worker, server processes on both CPUs (target: ratio ≥ 1.6; median of ${timing})`,
      markdownTable(
        ['transport', 'workers', "subscribers in the publisher's worker", 'deliveries/s', 'server CPU µs/delivery (all processes)', 'server CPU %', 'client CPU %', 'p50 ms', 'p99 ms', '2 ÷ 1 deliveries/s', 'per round'],
        workers.pairs.flatMap((p) => [
          [p.transport, 1, p.one.local, p.one.deliveriesPerSec.toLocaleString('en'), p.one.serverCpuUsPerDelivery, p.one.serverCpuPct, p.one.clientCpuPct, p.one.p50Ms, p.one.p99Ms, '', ''],
          [p.transport, 2, p.two.local, p.two.deliveriesPerSec.toLocaleString('en'), p.two.serverCpuUsPerDelivery, p.two.serverCpuPct, p.two.clientCpuPct, p.two.p50Ms, p.two.p99Ms, p.ratio, p.ratioRounds.join(' / ')],
        ]),
      ),
    );
  }
} finally {
  await Promise.all(children.map((c) => c.stop()));
  await Promise.all(fanoutChildren.map((c) => c.stop()));
}

if (want('deflate')) {
  // Its own server children (deflate on and off), after the shared ones are gone.
  const deflate = await benchDeflate({ quick, connections: values.connections === undefined ? 1000 : Number(values.connections), ws: values.ws });
  results.deflate = deflate;
  printDeflate(deflate, print);
  lap('deflate');
}

if (want('redis')) {
  // Its own children (two nodes, one redis-server), after the others are gone.
  // Quick: 200 subscribers per node, 0.5 s windows, one round.
  const options: RedisBenchOptions = quick
    ? { subscribers: 200, payloads: [32, 1024], rates: [10_000, 0], soloRate: 10_000, rounds: 1, warmMs: 200, measureMs: 500, parallel: 32 }
    : { subscribers: 1000, payloads: [32, 1024], rates: [10_000, 0], soloRate: 10_000, rounds: 2, warmMs: 500, measureMs: 2000, parallel: 32 };
  const redis = await benchRedis(options);
  results.redis = { ...options, ...redis };
  printRedis(redis, options, quick, print);
  lap('redis');
}

results.seconds = seconds;
const json = JSON.stringify(results);
if (values.out !== undefined) writeFileSync(values.out, json + '\n');
process.stdout.write('\n' + json + '\n');
