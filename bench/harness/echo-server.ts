// The server side of the end-to-end cases (4–6), one per child process so its
// CPU time and memory are measured alone: wssd (wss:// or ws://) echoing every
// message, or a bare node:tls / node:net server, the floor wssd is held to.
//
//   node --expose-gc test-output/bench-servers/bench/echo-server.js <kind> <mode>
//   (compiled by server-process.ts; `node --import tsx` runs this file as it is)
//   kind: wss | ws | tls | net | pkg-wss | pkg-ws; mode (bare servers only):
//   echo | end | hold, switchable later over IPC; pkg-*: the `ws` package
//   (third argument: its path, see ws-package.ts) over TLS or plain TCP
//
// IPC (parent-link.ts): says it is ready on its port once listening; answers
// each UsageRequest with a UsageReply (process.cpuUsage(),
// process.memoryUsage(), open sockets), each ModeRequest with a ModeReply.
// Exits when the parent goes away (the IPC channel closes) or asks it to.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { acceptKey } from '../../src/http/handshake.js';
import { createServer, type Connection } from '../../src/index.js';
import { primeMalloc } from '../../src/cli/malloc-priming.js';
import { listenBare, listenOnFreePort } from './bare-listener.js';
import { afterFullGc } from './measure.js';
import { memoryReading, reply, serveParent, type MemoryReading } from './parent-link.js';
import { loadWs, type WsSocket } from './ws-package.js';

/** wssd over TLS / plain, bare node:tls / node:net, and the `ws` package over TLS / plain. */
export type ServerKind = 'wss' | 'ws' | 'tls' | 'net' | 'pkg-wss' | 'pkg-ws';
export const SERVER_KINDS: readonly ServerKind[] = ['wss', 'ws', 'tls', 'net', 'pkg-wss', 'pkg-ws'];
/**
 * What a bare server does with a connection: echo it (pipe to itself), end it
 * at once, hold it idle, or 'upgrade': the least a WebSocket server must do
 * (case 5's floor for wssd's handshake) — find the blank line, answer a
 * canned 101 with the key's accept value, answer the next bytes (the
 * client's Close) with a Close, and end. No parsing, no checks, no state.
 */
export type BareMode = 'echo' | 'end' | 'hold' | 'upgrade';

export interface UsageRequest {
  type: 'usage';
  id: number;
  /** Run the garbage collector first (the child runs with --expose-gc). */
  gc: boolean;
}

/** Bare servers: how to treat connections from now on (one child serves cases 4 and 5). */
export interface ModeRequest {
  type: 'mode';
  id: number;
  mode: BareMode;
}

export interface ModeReply {
  type: 'mode';
  id: number;
}

export interface UsageReply extends MemoryReading {
  type: 'usage';
  id: number;
  /** process.cpuUsage() user + system, µs since the child started. */
  cpuUs: number;
  /** Sockets (bare) or WebSocket connections (wssd) open now. */
  connections: number;
  /** Connections accepted since start: TLS-established or TCP (bare), upgraded (wssd). */
  accepted: number;
  /** Messages received since start (wssd only; a bare server sees bytes, not messages). */
  messages: number;
  /** Bytes received since start: payload bytes (wssd), stream bytes (bare). */
  bytes: number;
  /** performance.now() at the reading, ms: counts and CPU time are read in the same instant. */
  time: number;
}

const certs = new URL('../../certs/', import.meta.url);
const cert = readFileSync(new URL('dev-cert.pem', certs));
const key = readFileSync(new URL('dev-key.pem', certs));
const host = '127.0.0.1';

let mode: BareMode = 'echo';
// Counted here, not by the load client, so that they are read in the same instant as the CPU time.
let accepted = 0;
let messages = 0;
let bytes = 0;

// Every server's handlers are shared functions, not closures made per
// connection: what case 6 counts per idle connection is then the server's
// (wssd's, or node's socket's) and not a closure context of this harness.
function ignore(): void {}

function echo(this: Connection, data: string | Buffer, isBinary: boolean): void {
  messages++;
  bytes += data.length;
  this.send(data, { binary: isBinary });
}

function echoWs(this: WsSocket, data: Buffer, isBinary: boolean): void {
  messages++;
  bytes += data.length;
  this.send(data, { binary: isBinary });
}

function countBytes(chunk: Buffer): void {
  bytes += chunk.length;
}

let open = 0;
function closed(): void {
  open--;
}

const HEAD_END = '\r\n\r\n';
const KEY_FIELD = 'sec-websocket-key:';
// An unmasked Close with code 1000, the server's answer to the client's Close.
const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);

/** 'upgrade' mode, first bytes: the request head (one chunk on loopback; more are gathered). */
function minimalUpgrade(socket: net.Socket): void {
  let head = '';
  const onHead = (chunk: Buffer): void => {
    head += chunk.toString('latin1');
    if (head.length > 16 * 1024) return void socket.destroy();
    const end = head.indexOf(HEAD_END);
    if (end < 0) return;
    socket.off('data', onHead);
    const at = head.toLowerCase().indexOf(KEY_FIELD);
    const key = at < 0 ? '' : head.slice(at + KEY_FIELD.length, head.indexOf('\r\n', at)).trim();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    // Bytes after the head would be the Close already; otherwise it comes next.
    if (end + HEAD_END.length < head.length) closeMinimal(socket);
    else socket.once('data', () => closeMinimal(socket));
  };
  socket.on('data', onHead);
}

function closeMinimal(socket: net.Socket): void {
  socket.end(CLOSE_1000);
}

async function listen(kind: ServerKind, wsPath: string | undefined): Promise<{ port: number; connections: () => number }> {
  if (kind === 'pkg-wss' || kind === 'pkg-ws') {
    if (wsPath === undefined) throw new Error(`${kind}: the ws package's path is missing`);
    // ws as its README runs it: on an https / http server, no compression; the
    // same TLS options as wssd and the bare server, and no Nagle.
    const server = kind === 'pkg-wss' ? https.createServer({ cert, key, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }) : http.createServer();
    const wss = new (loadWs(wsPath).WebSocketServer)({ server, perMessageDeflate: false });
    wss.on('connection', (socket, request) => {
      accepted++;
      request.socket.setNoDelay(true);
      socket.on('error', ignore);
      socket.on('message', echoWs);
    });
    return { port: await listenOnFreePort(server, host), connections: () => wss.clients.size };
  }
  if (kind === 'wss' || kind === 'ws') {
    // As the CLI does at start (src/cli/malloc-priming.ts), and awaited here, so no cell measures it.
    await primeMalloc();
    const server = createServer(kind === 'wss' ? { cert, key, host, port: 0, logger: false, pingInterval: 0 } : { plain: true, host, port: 0, logger: false, pingInterval: 0 });
    server.on('connection', (conn) => {
      accepted++;
      conn.on('error', ignore);
      conn.on('message', echo);
    });
    const { port } = await server.listen();
    return { port, connections: () => server.connections.size };
  }
  // The same socket options wssd uses (no Nagle, TLS 1.2+, ALPN http/1.1), so only the WebSocket layer differs.
  const handle = (socket: net.Socket): void => {
    open++;
    accepted++;
    socket.setNoDelay(true);
    socket.on('error', ignore);
    socket.on('close', closed);
    if (mode === 'echo') {
      socket.on('data', countBytes);
      socket.pipe(socket);
    }
    else if (mode === 'end') socket.end();
    else if (mode === 'upgrade') minimalUpgrade(socket);
    // 'hold': keep it, reading (and dropping) whatever comes.
    else socket.resume();
  };
  const { port } = await listenBare(kind === 'tls', handle, host, cert, key);
  return { port, connections: () => open };
}

const [kindArg, modeArg, wsPath] = process.argv.slice(2);
if (!(SERVER_KINDS as readonly string[]).includes(kindArg ?? '') || !['echo', 'end', 'hold', 'upgrade'].includes(modeArg ?? 'echo')) {
  throw new Error(`usage: echo-server.ts ${SERVER_KINDS.join('|')} [echo|end|hold|upgrade] [ws path], got ${process.argv.slice(2).join(' ')}`);
}
mode = (modeArg ?? 'echo') as BareMode;
const { port, connections } = await listen(kindArg as ServerKind, wsPath);

function sendUsage(id: number): void {
  const cpu = process.cpuUsage();
  const usage: UsageReply = {
    type: 'usage',
    id,
    cpuUs: cpu.user + cpu.system,
    ...memoryReading(),
    connections: connections(),
    accepted,
    messages,
    bytes,
    time: performance.now(),
  };
  reply(usage);
}

serveParent<UsageRequest | ModeRequest>(port, (msg) => {
  if (msg.type === 'mode') {
    mode = msg.mode;
    const done: ModeReply = { type: 'mode', id: msg.id };
    reply(done);
    return;
  }
  afterFullGc(msg.gc, () => sendUsage(msg.id), 50);
});
