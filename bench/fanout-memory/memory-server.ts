// The server side of case 7d (fanout-memory.ts), one per child process, run
// as compiled JavaScript as a deployed server runs (bench/harness/compiled.ts):
// a publisher in the server process sends a paced stream of publications to
// every connection, and the parent reads the process's memory after each run.
//
//   node --expose-gc test-output/bench-servers/bench/fanout-memory/memory-server.js <kind> [ws path]
//   kind: wssd          — server.publish(topic, payload), glibc primed as the CLI primes it
//         wssd-unprimed — the same without the priming (src/cli/malloc-priming.ts)
//         wssd-send     — primed, and a loop of send() over server.connections instead
//                         of publish, as an application ported from ws would write it
//         ws            — the `ws` package on an https server, its README's broadcast:
//                         for each client, client.send(payload) (third argument: its path)
//
// Pacing: `burst` publications every `intervalMs` (a timer), a fixed offered
// load whatever the server, so every server gets the same stream in the same time.
//
// IPC (bench/harness/parent-link.ts): ready once listening; MemoryRequest in, MemoryReply out.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createServer, type Connection } from '../../src/index.js';
import { primeMalloc } from '../../src/cli/malloc-priming.js';
import { listenOnFreePort } from '../harness/bare-listener.js';
import { afterFullGc } from '../harness/measure.js';
import { memoryReading, reply, serveParent, type MemoryReading } from '../harness/parent-link.js';
import { publicationPayload } from '../harness/publications.js';
import { loadWs } from '../harness/ws-package.js';

export type MemoryServerKind = 'wssd' | 'wssd-unprimed' | 'wssd-send' | 'ws';
export const MEMORY_SERVER_KINDS: readonly MemoryServerKind[] = ['wssd', 'wssd-unprimed', 'wssd-send', 'ws'];

export type MemoryRequest = { type: 'run'; id: number; count: number; size: number; burst: number; intervalMs: number } | { type: 'usage'; id: number; gc: boolean };

export interface MemoryUsage extends MemoryReading {
  type: 'usage';
  id: number;
  /** The most RSS the process has had (VmHWM). */
  peakRss: number;
  connections: number;
  /** Publications skipped for a slow subscriber (wssd's 'drop'); ws has no such limit. */
  dropped: number;
}

export type MemoryReply = MemoryUsage | { type: 'ran'; id: number; published: number; ms: number };

const TOPIC = 'fanout-memory';
const certs = new URL('../../certs/', import.meta.url);
const cert = readFileSync(new URL('dev-cert.pem', certs));
const key = readFileSync(new URL('dev-key.pem', certs));
const host = '127.0.0.1';

function ignore(): void {}

let dropped = 0;
function countDrop(): void {
  dropped++;
}

function subscribe(conn: Connection): void {
  conn.on('error', ignore);
  conn.on('drop', countDrop);
  conn.subscribe(TOPIC);
}

interface Publisher {
  port: number;
  publish(payload: Buffer): void;
  connections(): number;
}

async function listen(kind: MemoryServerKind, wsPath: string | undefined): Promise<Publisher> {
  if (kind === 'ws') {
    if (wsPath === undefined) throw new Error('ws: the ws package path is missing');
    // As bench/harness/echo-server.ts runs it: the same TLS options as wssd, no compression, no Nagle.
    const server = https.createServer({ cert, key, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] });
    const wss = new (loadWs(wsPath).WebSocketServer)({ server, perMessageDeflate: false });
    wss.on('connection', (socket, request) => {
      request.socket.setNoDelay(true);
      socket.on('error', ignore);
    });
    const port = await listenOnFreePort(server, host);
    return {
      port,
      publish: (payload) => {
        for (const client of wss.clients) client.send(payload, { binary: true });
      },
      connections: () => wss.clients.size,
    };
  }
  if (kind !== 'wssd-unprimed') await primeMalloc();
  const server = createServer({ cert, key, host, port: 0, logger: false, pingInterval: 0 });
  server.on('connection', subscribe);
  const { port } = await server.listen();
  const publish =
    kind === 'wssd-send'
      ? (payload: Buffer): void => {
          for (const conn of server.connections) conn.send(payload);
        }
      : (payload: Buffer): void => {
          server.publish(TOPIC, payload);
        };
  return { port, publish, connections: () => server.connections.size };
}

const [kindArg, wsPath] = process.argv.slice(2);
if (!(MEMORY_SERVER_KINDS as readonly string[]).includes(kindArg ?? '')) throw new Error(`usage: memory-server.ts ${MEMORY_SERVER_KINDS.join('|')} [ws path], got ${process.argv.slice(2).join(' ')}`);
const publisher = await listen(kindArg as MemoryServerKind, wsPath);
// Sequence numbers go on across runs: the readers check every one.
let seq = 0;

function run(id: number, count: number, size: number, burst: number, intervalMs: number): void {
  const end = seq + count;
  const t0 = performance.now();
  const tick = (): void => {
    for (let i = 0; i < burst && seq < end; i++) publisher.publish(publicationPayload(seq++, size));
    if (seq < end) setTimeout(tick, intervalMs);
    else {
      const ran: MemoryReply = { type: 'ran', id, published: seq, ms: performance.now() - t0 };
      reply(ran);
    }
  };
  tick();
}

function peakRss(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? NaN : Number(match[1]) * 1024;
}

function usage(id: number): MemoryUsage {
  return { type: 'usage', id, ...memoryReading(), peakRss: peakRss(), connections: publisher.connections(), dropped };
}

serveParent<MemoryRequest>(publisher.port, (msg) => {
  if (msg.type === 'run') run(msg.id, msg.count, msg.size, msg.burst, msg.intervalMs);
  else afterFullGc(msg.gc, () => reply(usage(msg.id)), 50);
});
