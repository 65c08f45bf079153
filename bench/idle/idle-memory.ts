// Case 6: memory per idle connection. N connections opened (wssd: upgraded)
// and left idle; the server child's RSS, V8 heap and external memory before
// and after, each read after a full GC, divided by N. Beside wssd, a bare
// server of the same transport that just holds its sockets: the difference is
// what a WebSocket connection costs beyond its socket (and TLS state).
//
// Fresh server children: a process that has echoed megabytes has freed memory
// in its allocator that new connections would reuse without growing RSS.
import type net from 'node:net';
import { closeAll, openMany, sleep, withTimeout } from '../harness/load-client.js';
import { median, sig } from '../harness/measure.js';
import { pick, targetOf, type ServerKind, type ServerProcess, type UsageReply } from '../harness/server-process.js';

export interface IdleSample {
  server: ServerKind;
  connections: number;
  /** WebSocket servers: connections that ended with the closing handshake (our Close, the server's Close, TCP end). */
  closedCleanly?: number;
  rssKiBPerConn: number;
  heapKiBPerConn: number;
  externalKiBPerConn: number;
  /**
   * V8's young generation before and after, MiB. It grows (up to a fixed
   * maximum) with the bytes that survive its collections while connections
   * are opened, and it is resident: part of the RSS delta that is not per connection.
   */
  newSpaceMiB: [number, number];
}

export interface IdlePair {
  transport: 'tls' | 'plain';
  wssd: IdleSample;
  bare: IdleSample;
  /** wssd − bare, KiB per connection. */
  extraRssKiB: number;
  extraHeapKiB: number;
}

export interface IdleOptions {
  connections: number;
  settleMs: number;
  ca: Buffer;
}

/** Polls the child (≤ 10 s) until it holds exactly `n` connections. */
async function settleAt(server: ServerProcess, n: number): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const u = await server.usage();
    if (u.connections === n) return;
    if (performance.now() > deadline) throw new Error(`${server.kind}: ${u.connections} connections open, expected ${n}`);
    await sleep(50);
  }
}

async function measure(server: ServerProcess, options: IdleOptions): Promise<IdleSample> {
  const target = targetOf(server, options.ca);
  // Warm-up: the first connections load code, fill the TLS context's caches and tune the JIT.
  await closeAll((await openMany(target, 50, 10)).map((o) => o.socket));
  await settleAt(server, 0);
  await sleep(options.settleMs);
  const before: UsageReply = await server.usage(true);
  const opened = await openMany(target, options.connections, 50);
  const sockets = opened.map((o) => o.socket);
  try {
    // Read (and drop) what the server sends, such as TLS 1.3 session tickets, as a live client would.
    for (const s of sockets) s.resume();
    await settleAt(server, options.connections);
    await sleep(options.settleMs);
    const after = await server.usage(true);
    const perConn = (bytes: number): number => sig(bytes / options.connections / 1024);
    const sample: IdleSample = {
      server: server.kind,
      connections: options.connections,
      rssKiBPerConn: perConn(after.rss - before.rss),
      heapKiBPerConn: perConn(after.heapUsed - before.heapUsed),
      externalKiBPerConn: perConn(after.external - before.external),
      newSpaceMiB: [sig(before.newSpace / 1048576), sig(after.newSpace / 1048576)],
    };
    if (server.kind === 'wss' || server.kind === 'ws') {
      sample.closedCleanly = await closeCleanly(sockets);
      await settleAt(server, 0);
    }
    return sample;
  } finally {
    await closeAll(sockets);
  }
}

/**
 * The closing handshake on every connection (RFC 6455 §7): a masked Close
 * 1000, then the server's Close and its end of TCP. Returns how many
 * completed it within 20 s.
 */
async function closeCleanly(sockets: net.Socket[]): Promise<number> {
  const close = Buffer.from([0x88, 0x82, 0x11, 0x22, 0x33, 0x44, 0x03 ^ 0x11, 0xe8 ^ 0x22]);
  const done = sockets.map(
    (s) =>
      new Promise<boolean>((resolve) => {
        let sawClose = false;
        s.removeAllListeners('data');
        s.on('data', (chunk: Buffer) => {
          // The server's Close frame: 0x88, length 2, code 1000.
          if (chunk.includes(Buffer.from([0x88, 0x02, 0x03, 0xe8]))) sawClose = true;
        });
        s.once('close', () => resolve(sawClose));
        s.write(close);
      }),
  );
  const results = await withTimeout(Promise.all(done), 20_000, 'closing handshakes').catch(() => [] as boolean[]);
  return results.filter(Boolean).length;
}

/**
 * `servers`: a wss, ws, tls and net child each that have served nothing yet
 * (bare ones are switched to holding their sockets).
 */
export async function benchIdleMemory(all: readonly ServerProcess[], options: IdleOptions): Promise<IdlePair[]> {
  const servers = pick(all, ['wss', 'tls', 'ws', 'net']);
  for (const s of servers) if (s.kind === 'tls' || s.kind === 'net') await s.setMode('hold');
  const samples = new Map<ServerKind, IdleSample>();
  for (const server of servers) samples.set(server.kind, await measure(server, options));
  const pair = (transport: 'tls' | 'plain', w: ServerKind, b: ServerKind): IdlePair => {
    const wssd = samples.get(w) as IdleSample;
    const bare = samples.get(b) as IdleSample;
    return { transport, wssd, bare, extraRssKiB: sig(wssd.rssKiBPerConn - bare.rssKiBPerConn), extraHeapKiB: sig(wssd.heapKiBPerConn - bare.heapKiBPerConn) };
  };
  return [pair('tls', 'wss', 'tls'), pair('plain', 'ws', 'net')];
}

/** Field by field, the median over rounds of each transport's wssd and bare samples (young generation: the median round's). */
export function medianIdlePairs(rounds: readonly IdlePair[][]): IdlePair[] {
  const mid = (xs: number[]): number => sig(median(xs));
  const sample = (samples: IdleSample[]): IdleSample => {
    const byRss = [...samples].sort((a, b) => a.rssKiBPerConn - b.rssKiBPerConn);
    const result: IdleSample = {
      server: samples[0].server,
      connections: samples[0].connections,
      rssKiBPerConn: mid(samples.map((s) => s.rssKiBPerConn)),
      heapKiBPerConn: mid(samples.map((s) => s.heapKiBPerConn)),
      externalKiBPerConn: mid(samples.map((s) => s.externalKiBPerConn)),
      newSpaceMiB: byRss[Math.floor(byRss.length / 2)].newSpaceMiB,
    };
    if (samples[0].closedCleanly !== undefined) result.closedCleanly = Math.min(...samples.map((s) => s.closedCleanly ?? 0));
    return result;
  };
  return rounds[0].map((first, i) => {
    const wssd = sample(rounds.map((r) => r[i].wssd));
    const bare = sample(rounds.map((r) => r[i].bare));
    return {
      transport: first.transport,
      wssd,
      bare,
      extraRssKiB: mid(rounds.map((r) => r[i].extraRssKiB)),
      extraHeapKiB: mid(rounds.map((r) => r[i].extraHeapKiB)),
    };
  });
}
