// Case 5 as `npm run bench` runs it: its rounds, windows and client loops,
// and its tables, 5 and 5b (issue #14's targets).
import { markdownTable, met, print } from '../harness/measure.js';
import type { ServerProcess } from '../harness/server-process.js';
import { benchHandshakes, HANDSHAKE_TARGETS } from './handshakes.js';

/** Measures and prints case 5 on `servers` (a wss, ws, tls and net child each); returns its figures for the JSON line. */
export async function runHandshakeCase(quick: boolean, servers: readonly ServerProcess[], ca: Buffer, pinNote: string): Promise<Record<string, unknown>> {
  // Five short rounds rather than three long ones: the TLS figures swing
  // with the machine (a bare TLS handshake cost 835–1,192 µs of server CPU
  // in three runs within an hour), and the difference is taken within each round.
  const rounds = quick ? 1 : 5;
  const measureMs = quick ? 600 : 1200;
  const parallel = 4;
  const warmupMs = quick ? 600 : 3000;
  const { pairs, targets } = await benchHandshakes(servers, { rounds, warmMs: quick ? 150 : 400, measureMs, parallel, warmupMs, ca });
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
  return { rounds, measureMs, warmupMs, parallel, pairs, targets, goals: HANDSHAKE_TARGETS };
}
