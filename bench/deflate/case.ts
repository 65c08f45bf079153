// Case 8 as `npm run bench` (and main.ts, alone) runs it, and its tables: 8
// (echo) and 8b (memory per connection).
import { formatBytes, markdownTable, print, round } from '../harness/measure.js';
import { benchDeflate, type DeflateEchoCell, type DeflateMemory } from './deflate.js';

/** Measures and prints case 8 (its own server children); returns its figures for the JSON line. */
export async function runDeflateCase(options: { quick: boolean; connections: number; ws?: string }): Promise<{ echo: DeflateEchoCell[]; memory: DeflateMemory }> {
  const result = await benchDeflate(options);
  printDeflate(result);
  return result;
}

function printDeflate(result: { echo: DeflateEchoCell[]; memory: DeflateMemory }): void {
  print(
    '8. permessage-deflate: echo over TLS, 64 connections (server in a child process; median of the rounds)',
    markdownTable(
      ['payload', 'server', 'deflate', 'negotiated', 'msgs/s', 'server CPU µs/msg', 'server → client wire ÷ payload'],
      result.echo.map((c) => [c.payload, c.server, c.deflate ? 'on' : 'off', c.extensions || '—', c.msgsPerSec.toLocaleString('en'), c.serverCpuUsPerMsg, c.ratio]),
    ),
  );
  const m = result.memory;
  const ws = m.ws;
  print(
    `8b. permessage-deflate: memory per connection above an uncompressed wssd one (${m.connections.toLocaleString('en')} connections, RSS after GC; target: idle ≤ 64 KiB and ≤ ⅓ of ws)`,
    markdownTable(
      ['state', 'wssd KiB per connection', 'wssd connections holding a zlib context', ...(ws === undefined ? [] : ['ws KiB per connection', 'wssd ÷ ws'])],
      [
        ['negotiated, idle', m.negotiatedIdleKiB, 0, ...(ws === undefined ? [] : [ws.negotiatedIdleKiB, '—'])],
        ['after one compressed message each', m.afterOneMessageKiB, m.holdersAfterOneMessage, ...(ws === undefined ? [] : [ws.afterOneMessageKiB, round(m.afterOneMessageKiB / ws.afterOneMessageKiB, 2)])],
        ['after the idle release (ws: the same wait)', m.afterReleaseKiB, m.holdersAfterRelease, ...(ws === undefined ? [] : [ws.afterReleaseKiB, round(m.afterReleaseKiB / ws.afterReleaseKiB, 2)])],
        [`(uncompressed connection: ${formatBytes(Math.round(m.plainKiBPerConn * 1024))} each)`, '', '', ...(ws === undefined ? [] : ['', ''])],
      ],
    ),
  );
}
