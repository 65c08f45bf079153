// Case 8, the permessage-deflate bench (RFC 7692): `npm run bench -- --only
// deflate`, or alone (main.ts): `npm run bench:deflate` (10,000 connections)
// or `tsx bench/deflate/main.ts [--quick] [--connections N] [--ws PATH]`.
//
// --ws PATH (also `npm run bench -- --only deflate --ws PATH`): the `ws`
// package installed outside this repository (`npm i ws` in a temporary
// directory; PATH is its node_modules/ws) runs beside wssd in the same run,
// with `perMessageDeflate: true`, in both parts (bench/deflate/ws-deflate-server.ts).
//
// a. Echo over TLS, 64 connections, of a 1 KiB JSON-like text and of 64 KiB
//    of text: server CPU µs per message and the compression ratio of what the
//    server sent, beside the same server with compression off. The load client
//    offers what Chrome offers, sends precomputed compressed frames (wssd asks
//    for client_no_context_takeover, so every message compresses to the same
//    bytes) and only parses the replies' headers: it stays cheap.
// b. Memory per idle connection with deflate negotiated, beside an
//    uncompressed one: N connections upgraded and idle; then each exchanges
//    one compressed message (now holding a compressor), then the idle sweep
//    gives the contexts back.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { Opcode } from '../../src/protocol/constants.js';
import { Child, underTsx } from '../harness/children.js';
import { maskedFrame } from '../harness/client-frames.js';
import { sleep } from '../harness/load-client.js';
import { median, round } from '../harness/measure.js';
import { openConn, Pump, type Conn } from './deflate-client.js';
import type { DeflateUsage, DeflateUsageRequest } from './deflate-usage.js';

const SERVER = fileURLToPath(new URL('./deflate-server.ts', import.meta.url));
const WS_SERVER = fileURLToPath(new URL('./ws-deflate-server.ts', import.meta.url));

/** Which server a child runs: wssd without or with deflate, or the ws package (with its path). */
type Kind = 'off' | 'on' | { ws: string };

type DeflateChild = Child<DeflateUsageRequest, DeflateUsage>;

/** A server child, under tsx: wssd with deflate off or on (and its idle release), or the ws package. */
function startServer(kind: Kind, idleRelease = 10_000): Promise<DeflateChild> {
  const [script, args] = typeof kind === 'object' ? [WS_SERVER, [kind.ws]] : [SERVER, [kind, String(idleRelease)]];
  return Child.start<DeflateUsageRequest, DeflateUsage>({
    name: typeof kind === 'object' ? 'ws deflate server' : `deflate ${kind} server`,
    args: underTsx(script, ...args),
  });
}

/** Its CPU time, memory and counts (after a full GC when `gc`). */
function usage(server: DeflateChild, gc = false): Promise<DeflateUsage> {
  return server.request<'usage'>({ type: 'usage', gc });
}

/** A deterministic JSON-like chat message of about `size` bytes. */
export function jsonLike(size: number, seed0 = 7): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'hello', 'world', 'message', 'room', 'user', 'typing', 'online', 'status'];
  const items: string[] = [];
  let seed = seed0;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  let text = '';
  while (text.length < size) {
    items.push(JSON.stringify({ id: next() % 100000, user: `user${next() % 500}`, room: `room-${next() % 20}`, text: `${words[next() % words.length]} ${words[next() % words.length]} ${next() % 1000}`, ts: 1700000000000 + (next() % 1e6) }));
    text = `{"type":"batch","items":[${items.join(',')}]}`;
  }
  return text.slice(0, size - 2) + '}}';
}

/** `size` bytes of word-like text (about 3:1 with deflate, like prose). */
export function textLike(size: number, seed0 = 11): string {
  let seed = seed0;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'shi', 'po', 'ven', 'dor', 'el', 'an', 'is', 'ur'];
  let out = '';
  while (out.length < size) {
    const n = 1 + (next() % 4);
    for (let i = 0; i < n; i++) out += syllables[next() % syllables.length];
    out += next() % 12 === 0 ? '. ' : ' ';
  }
  return out.slice(0, size);
}

export interface DeflateEchoCell {
  payload: string;
  /** 'wssd' or 'ws'. */
  server: string;
  deflate: boolean;
  extensions: string;
  msgsPerSec: number;
  serverCpuUsPerMsg: number;
  /** Server → client payload bytes on the wire ÷ message bytes. */
  ratio: number;
}

async function echoCell(server: DeflateChild, serverName: string, deflate: boolean, name: string, messages: readonly string[], connections: number, window: number, warmMs: number, measureMs: number): Promise<DeflateEchoCell> {
  const conns = await Promise.all(Array.from({ length: connections }, () => openConn(server.port, deflate)));
  const compressed = conns[0].extensions.startsWith('permessage-deflate');
  const frames = messages.map((m) => {
    const raw = Buffer.from(m);
    if (!compressed) return maskedFrame(Opcode.Text, raw, randomBytes(4));
    const c = zlib.deflateRawSync(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return maskedFrame(Opcode.Text, c.subarray(0, c.length - 4), randomBytes(4), true);
  });
  const raw = Buffer.from(messages[0]);
  const pumps = conns.map((c) => new Pump(c, frames, window));
  await sleep(warmMs);
  const m0 = pumps.reduce((s, p) => s + p.messages, 0);
  const w0 = pumps.reduce((s, p) => s + p.wirePayload, 0);
  const u0 = await usage(server);
  const t0 = performance.now();
  await sleep(measureMs);
  const u1 = await usage(server);
  const t1 = performance.now();
  const m1 = pumps.reduce((s, p) => s + p.messages, 0);
  const w1 = pumps.reduce((s, p) => s + p.wirePayload, 0);
  for (const p of pumps) p.running = false;
  for (const c of conns) c.socket.destroy();
  const served = u1.messages - u0.messages;
  return {
    payload: name,
    server: serverName,
    deflate: compressed,
    extensions: conns[0].extensions,
    msgsPerSec: Math.round(((m1 - m0) * 1000) / (t1 - t0)),
    serverCpuUsPerMsg: round((u1.cpuUs - u0.cpuUs) / Math.max(1, served), 2),
    ratio: round((w1 - w0) / Math.max(1, (m1 - m0) * raw.length), 3),
  };
}

export interface DeflateMemory {
  connections: number;
  /** KiB per connection above an uncompressed wssd connection, after a GC, for the three states. */
  negotiatedIdleKiB: number;
  afterOneMessageKiB: number;
  afterReleaseKiB: number;
  holdersAfterOneMessage: number;
  holdersAfterRelease: number;
  /** The uncompressed server's RSS per connection, for scale. */
  plainKiBPerConn: number;
  /** The same for ws with perMessageDeflate: true, above the same uncompressed wssd (it never releases: its "after release" is the same wait). */
  ws?: { negotiatedIdleKiB: number; afterOneMessageKiB: number; afterReleaseKiB: number };
}

interface MemoryRun {
  idle: number;
  one: number;
  released: number;
  holdersOne: number;
  holdersReleased: number;
}

async function memoryRun(kind: Kind, connections: number, idleRelease: number): Promise<MemoryRun> {
  const deflate = kind !== 'off';
  const server = await startServer(kind, idleRelease);
  try {
    const base = await usage(server, true);
    const conns: Conn[] = [];
    for (let i = 0; i < connections; i += 100) conns.push(...(await Promise.all(Array.from({ length: Math.min(100, connections - i) }, () => openConn(server.port, deflate)))));
    const idle = await usage(server, true);
    // One compressed message each, and its echo (which the server compresses with a context of its own).
    const text = Buffer.from(jsonLike(1024));
    const c = zlib.deflateRawSync(text, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    let pending = conns.length;
    await new Promise<void>((resolve) => {
      for (const conn of conns) {
        conn.socket.once('data', () => {
          if (--pending === 0) resolve();
        });
        conn.socket.resume();
        conn.socket.write(maskedFrame(Opcode.Text, deflate ? c.subarray(0, c.length - 4) : text, randomBytes(4), deflate));
      }
    });
    const one = await usage(server, true);
    await sleep(idleRelease * 2 + 500);
    const released = await usage(server, true);
    for (const conn of conns) conn.socket.destroy();
    const kib = (u: DeflateUsage): number => (u.rss - base.rss) / 1024 / connections;
    return { idle: kib(idle), one: kib(one), released: kib(released), holdersOne: one.holders, holdersReleased: released.holders };
  } finally {
    await server.stop();
  }
}

async function memoryCase(connections: number, idleRelease: number, wsPath: string | undefined): Promise<DeflateMemory> {
  const off = await memoryRun('off', connections, idleRelease);
  const on = await memoryRun('on', connections, idleRelease);
  const ws = wsPath === undefined ? undefined : await memoryRun({ ws: wsPath }, connections, idleRelease);
  return {
    connections,
    negotiatedIdleKiB: round(on.idle - off.idle, 1),
    afterOneMessageKiB: round(on.one - off.one, 1),
    afterReleaseKiB: round(on.released - off.released, 1),
    holdersAfterOneMessage: on.holdersOne,
    holdersAfterRelease: on.holdersReleased,
    plainKiBPerConn: round(off.idle, 1),
    ws: ws === undefined ? undefined : { negotiatedIdleKiB: round(ws.idle - off.idle, 1), afterOneMessageKiB: round(ws.one - off.one, 1), afterReleaseKiB: round(ws.released - off.released, 1) },
  };
}

export async function benchDeflate(options: { quick: boolean; connections: number; ws?: string }): Promise<{ echo: DeflateEchoCell[]; memory: DeflateMemory }> {
  const rounds = options.quick ? 1 : 3;
  const measureMs = options.quick ? 600 : 2000;
  const servers: [DeflateChild, string, boolean][] = [
    [await startServer('off'), 'wssd', false],
    [await startServer('on'), 'wssd', true],
  ];
  if (options.ws !== undefined) servers.push([await startServer({ ws: options.ws }), 'ws', true]);
  const cells = new Map<string, DeflateEchoCell[]>();
  try {
    // 64 distinct messages per case (different seeds), sent in turn.
    const cases: [string, string[], number][] = [
      ['1 KiB JSON', Array.from({ length: 64 }, (_, i) => jsonLike(1024, 7 + i * 7919)), 16],
      ['64 KiB text', Array.from({ length: 8 }, (_, i) => textLike(64 * 1024, 11 + i * 7919)), 2],
    ];
    for (const [name, message, window] of cases) {
      for (let r = 0; r < rounds; r++) {
        // Interleaved within a round: the machine's state is shared by all.
        for (const [server, serverName, deflate] of servers) {
          const cell = await echoCell(server, serverName, deflate, name, message, 64, window, options.quick ? 200 : 500, measureMs);
          const key = `${name}/${serverName}/${deflate}`;
          cells.set(key, [...(cells.get(key) ?? []), cell]);
        }
      }
    }
  } finally {
    await Promise.all(servers.map(([server]) => server.stop()));
  }
  const echo = [...cells.values()].map((runs) => ({ ...runs[0], msgsPerSec: median(runs.map((c) => c.msgsPerSec)), serverCpuUsPerMsg: median(runs.map((c) => c.serverCpuUsPerMsg)), ratio: median(runs.map((c) => c.ratio)) }));
  // Long enough that opening and answering every connection ends before the first sweep (10 s for 10,000):
  // "after one message" then shows the contexts held, "after the idle release" what is left once they go.
  const memory = await memoryCase(options.connections, options.quick ? 500 : Math.max(1000, options.connections), options.ws);
  return { echo, memory };
}
