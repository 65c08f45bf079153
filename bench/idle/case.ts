// Case 6 as `npm run bench` runs it (and `npm run bench:connections`, with
// --connections 10000): how many idle connections (capped by ulimit -n), its
// rounds, each on fresh server children, and its table.
import { markdownTable, print } from '../harness/measure.js';
import { openFileLimit, type Pinning } from '../harness/os.js';
import { SERVERS, startServers, type BareMode, type ServerKind } from '../harness/server-process.js';
import { benchIdleMemory, medianIdlePairs, type IdlePair } from './idle-memory.js';

/**
 * Measures and prints case 6; `connectionsAsked`: --connections, if given.
 * Returns its figures for the JSON line.
 */
export async function runIdleCase(quick: boolean, connectionsAsked: string | undefined, pin: Pinning | undefined, ca: Buffer): Promise<Record<string, unknown>> {
  // Quick: 1,000, as opening each TLS connection costs this client ~1.5 ms of CPU (Node 20 / OpenSSL 3.0).
  const wanted = connectionsAsked !== undefined ? Number(connectionsAsked) : quick ? 1000 : 2000;
  // Each connection is a descriptor here and one in the server child; keep headroom for the rest.
  const limit = openFileLimit();
  const connections = limit === undefined || limit >= wanted + 200 ? wanted : Math.max(10, limit - 200);
  const settleMs = quick ? 300 : 1000;
  // RSS moves by a few KiB per connection from run to run (the allocator's
  // state, V8's young generation): the median of 3 rounds in the full run.
  const rounds = quick ? 1 : 3;
  const perRound: IdlePair[][] = [];
  for (let round = 0; round < rounds; round++) {
    const idleServers = await startServers(SERVERS.map((kind): [ServerKind, BareMode] => [kind, 'hold']), pin);
    try {
      perRound.push(await benchIdleMemory(idleServers, { connections, settleMs, ca }));
    } finally {
      await Promise.all(idleServers.map((c) => c.stop()));
    }
  }
  const pairs = medianIdlePairs(perRound);
  const capped = connections < wanted ? ` (capped from ${wanted} by ulimit -n ${limit})` : quick && connectionsAsked === undefined ? ' (2,000 in the full run)' : '';
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
  return { connections, settleMs, rounds, openFileLimit: limit ?? null, pairs, perRound };
}
