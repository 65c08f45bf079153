// Case 4 as `npm run bench` runs it: its cells (all of them, or the subset
// --payloads / --conns / --windows asks for; the quick run skips those with
// more than 256 MiB in flight), its rounds and windows, and its tables: 4,
// 4b (the ratios) and 4c (issue #14's targets).
import { formatBytes, markdownTable, met, print } from '../harness/measure.js';
import type { ServerProcess } from '../harness/server-process.js';
import { benchEcho, ECHO_TARGETS, windowsFor, type EchoConfig } from './echo.js';

export interface EchoCaseOptions {
  quick: boolean;
  /** The started server children: wss, ws, tls and net, and with --ws the ws package's. */
  servers: readonly ServerProcess[];
  ca: Buffer;
  /** How the processes are pinned, for the title. */
  pinNote: string;
  /** --payloads, --conns, --windows: comma-separated lists, for A/B runs of one change. */
  payloads?: string;
  conns?: string;
  windows?: string;
  /** --ws: the ws package's path (its servers are among `servers`). */
  ws?: string;
  /** Case 1's rows of the targets table (4c). */
  decoderTargets: (string | number)[][];
}

/** Measures and prints case 4; returns its figures for the JSON line. */
export async function runEchoCase(options: EchoCaseOptions): Promise<Record<string, unknown>> {
  const { quick, ca, pinNote } = options;
  const configs: EchoConfig[] = [];
  const list = (text: string | undefined, all: number[]): number[] => (text === undefined ? all : text.split(',').map(Number));
  let skipped = '';
  for (const payload of list(options.payloads, [32, 1024, 64 * 1024, 1024 * 1024])) {
    for (const connections of list(options.conns, [1, 64])) {
      for (const window of list(options.windows, windowsFor(payload, connections))) {
        // 1 GiB in flight takes seconds to fill and to drain, per server: the full run only, unless asked for.
        if (quick && options.windows === undefined && payload * connections * window > 256 * 1024 * 1024) {
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
  const echo = await benchEcho(options.servers, { configs, rounds, warmMs: quick ? 150 : 400, measureMs, ca });
  print(
    `4. End-to-end echo on loopback, server in a child process (${pinNote}; median of ${rounds} round${rounds > 1 ? 's' : ''} × ${measureMs / 1000} s)`,
    markdownTable(
      ['payload', 'conns × window', 'server', 'msgs/s', 'MiB/s', 'server CPU µs/msg', 'server CPU %', 'client CPU %', 'p50 ms', 'p99 ms'],
      echo.cells.map((c) => [formatBytes(c.payload), `${c.connections} × ${c.window}`, c.server, c.msgsPerSec.toLocaleString('en'), c.mibPerSec, c.serverCpuUsPerMsg, c.serverCpuPct, c.clientCpuPct, c.p50Ms, c.p99Ms]),
    ),
  );
  const pkg = options.ws !== undefined;
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
  const targetRows: (string | number)[][] = [];
  for (const t of ECHO_TARGETS) {
    const r = echo.ratios.find((x) => x.payload === t.payload && x.window === t.window && x.connections === 64);
    if (r === undefined) continue;
    const value = t.transport === 'tls' ? r.wssVsTls : r.wsVsNet;
    const rounds = t.transport === 'tls' ? r.wssVsTlsRounds : r.wsVsNetRounds;
    targetRows.push([`${t.transport === 'tls' ? 'TLS' : 'plain'} ${formatBytes(t.payload)} × w${t.window}: wssd ÷ bare ${t.transport === 'tls' ? 'TLS' : 'TCP'} echo`, value, rounds.join(' / '), `≤ ${t.atMost}`, met(value <= t.atMost)]);
  }
  targetRows.push(...options.decoderTargets);
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
  return { rounds, measureMs, ...echo };
}
