// `npm run bench [-- --quick] [-- --out FILE] [-- --only decoder,mask,encoder,echo,handshake,idle,fanout,fanout-memory,deflate,redis,api,client,gatewayworker]
//   [-- --payloads 32,1024 --conns 64 --windows 16]` (a subset of case 4, for A/B runs)
//   [-- --subscribers 1000,10000]` (case 7's subscriber counts) [-- --pace 1/1,20/2] (case 7d's publications per tick / ms)
//   [-- --ws PATH/node_modules/ws]` (the ws package, installed elsewhere, beside wssd in cases 4, 7d and 8):
// every case, a markdown table each, and last one JSON line with every figure.
// How to read them: bench/README.md. Each case's settings and tables are in
// its folder's case.ts; what they share in harness/.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { primeMalloc } from '../src/cli/malloc-priming.js';
import { killRedisServers } from '../test/helpers/redis-server.js';
import { runApiCase } from './api/case.js';
import { runClientCase } from './client/case.js';
import { runDeflateCase } from './deflate/case.js';
import { runEchoCase } from './echo/case.js';
import { runFanoutCase } from './fanout/case.js';
import { FanoutChild } from './fanout/fanout-child.js';
import { runFanoutMemoryCase } from './fanout-memory/case.js';
import { runGatewayWorkerCase } from './gatewayworker/case.js';
import { runHandshakeCase } from './handshakes/case.js';
import { killAllChildren } from './harness/children.js';
import { pinningPlan, pinSelf } from './harness/os.js';
import { PACKAGE_SERVERS, SERVERS, startServers, type BareMode, type ServerKind, type ServerProcess } from './harness/server-process.js';
import { runIdleCase } from './idle/case.js';
import { decoderTargetRows, runDecoderCase, runEncoderCase, runMaskCase } from './micro/case.js';
import type { DecoderResult } from './micro/decoder.js';
import { runRedisCase } from './redis/case.js';

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
    // The `ws` package installed outside this repository (its node_modules/ws), measured beside wssd (cases 4, 7d and 8).
    ws: { type: 'string' },
    // Case 7d: publications per timer tick / the tick's ms, one or more (e.g. 1/1,20/2).
    pace: { type: 'string' },
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

// Cases 1–3 run in this process: glibc primed as the CLI primes every server
// process (src/cli/malloc-priming.ts), or the decoder's fresh payload buffers are
// faulted in page by page whenever glibc has just trimmed its heap.
await primeMalloc();

let decoderRows: DecoderResult[] | undefined;
if (want('decoder')) {
  decoderRows = runDecoderCase(quick, minMs);
  results.decoder = decoderRows;
  lap('decoder');
}

if (want('mask')) {
  results.mask = runMaskCase(minMs);
  lap('mask');
}

if (want('encoder')) {
  results.encoder = runEncoderCase(minMs);
  lap('encoder');
}

// Cases 4–12 run servers in child processes (cases 9 and 10 a redis-server too, case 12 Workerman's process trees): none may outlive the bench.
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

const e2e = ['echo', 'handshake', 'idle', 'fanout', 'fanout-memory'].some(want);
const ca = readFileSync(new URL('../certs/dev-ca.pem', import.meta.url));
// Where taskset exists: server children on the first CPU this process may use, this process (the load client) on the second.
// Read before anything is pinned: cases 10–12 pin their own children and this process, last.
const pinned = e2e || want('gatewayworker');
const pin = pinned || want('api') || want('client') ? pinningPlan() : undefined;
const pinNote = pin === undefined ? 'not pinned' : `server on CPU ${pin.server}, client on CPU ${pin.client}`;
if (pinned) results.pinning = pin ?? null;

// The children of cases 4 and 5 start at once, before any measurement, on
// both CPUs, and are shared (the bare servers switch from echoing to ending
// each connection); case 6 starts fresh ones for each of its rounds, so that
// no allocator has served megabytes of echoes, or an earlier round, before
// it counts memory.
// With --ws, the ws package's echo servers too (case 4).
const traffic: [ServerKind, BareMode][] = want('echo') || want('handshake') ? [...SERVERS, ...(want('echo') && values.ws !== undefined ? PACKAGE_SERVERS : [])].map((kind) => [kind, 'echo']) : [];
const children: ServerProcess[] = traffic.length > 0 ? await startServers(traffic, pin, values.ws) : [];
// Case 7's servers start with the others, before any measurement.
const fanoutChildren: FanoutChild[] = want('fanout') ? await Promise.all((['wss', 'ws', 'tls', 'net'] as const).map((kind) => FanoutChild.start(kind, pin))) : [];
if (e2e && pin !== undefined) pinSelf(pin.client);
if (e2e) lap('start servers');

try {
  if (want('echo')) {
    const decoderTargets = decoderRows === undefined ? [] : decoderTargetRows(decoderRows);
    results.echo = await runEchoCase({ quick, servers: children, ca, pinNote, payloads: values.payloads, conns: values.conns, windows: values.windows, ws: values.ws, decoderTargets });
    lap('echo');
  }

  if (want('handshake')) {
    results.handshakes = await runHandshakeCase(quick, children, ca, pinNote);
    lap('handshake');
  }

  if (want('idle')) {
    results.idleMemory = await runIdleCase(quick, values.connections, pin, ca);
    lap('idle');
  }
  if (want('fanout')) {
    results.fanout = await runFanoutCase({ quick, subscribersAsked: values.subscribers, children: fanoutChildren, ca, pin, pinNote, lap });
  }

  if (want('fanout-memory')) {
    // 7d: where memory goes under fan-out; its own children, fresh each round, started together and run interleaved.
    results.fanoutMemory = await runFanoutMemoryCase({ quick, paceAsked: values.pace, ws: values.ws, ca, pin });
    lap('fanout-memory');
  }
} finally {
  await Promise.all(children.map((c) => c.stop()));
  await Promise.all(fanoutChildren.map((c) => c.stop()));
}

if (want('deflate')) {
  // Its own server children (deflate on and off), after the shared ones are gone.
  results.deflate = await runDeflateCase({ quick, connections: values.connections === undefined ? 1000 : Number(values.connections), ws: values.ws });
  lap('deflate');
}

if (want('redis')) {
  // Its own children (two nodes, one redis-server), after the others are gone.
  results.redis = await runRedisCase(quick);
  lap('redis');
}

if (want('api')) {
  // Its own children (one node; then two nodes and one redis-server). It pins this process to the client's CPU.
  results.api = await runApiCase(quick, pin);
  lap('api');
}

if (want('client')) {
  // Its own children (two nodes and a client process; then a node, a client process and one redis-server). It pins this process to the client's CPU too.
  results.client = await runClientCase(quick, pin, ca);
  lap('client');
}

if (want('gatewayworker')) {
  // Its own children (PHP's Register, BusinessWorker and Gateway, wssd's command line, Workerman's echo), after the others are gone,
  // each started with taskset on its CPU; this process, the clients, on the client's.
  if (pin !== undefined) pinSelf(pin.client);
  results.gatewayworker = await runGatewayWorkerCase({ quick, pin, pinNote, ca });
  lap('gatewayworker');
}

results.seconds = seconds;
const json = JSON.stringify(results);
if (values.out !== undefined) writeFileSync(values.out, json + '\n');
process.stdout.write('\n' + json + '\n');
