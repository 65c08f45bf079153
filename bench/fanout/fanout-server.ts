// Case 7's servers, one per child process (its CPU time measured alone, as
// in bench/harness/echo-server.ts): the publisher runs here, in the server process,
// and sends one stream of publications to every connection.
//
//   node --import tsx bench/fanout/fanout-server.ts <kind>
//   kind: wss | ws (wssd over TLS / plain TCP), tls | net (bare node:tls / node:net)
//
// wssd publishes in one of two ways, switched per cell:
//   publish — server.publish(topic, payload): every connection subscribed to
//             the topic when it opened; the publication is framed once.
//   naive   — for (const ws of server.connections) ws.send(payload): what an
//             application wrote before topics.
// A bare server (mode 'bare') builds the tick's frames once, into one buffer,
// and writes that same buffer to every socket: the floor for one write and its
// encryption per socket, with no WebSocket layer at all.
//
// Pacing: a burst of `burst` publications per tick (a setImmediate loop, so
// the sockets' I/O runs between bursts), and a burst only while the bytes
// buffered for all subscribers together — wssd: each connection's
// bufferedAmount, bare: each socket's writableLength — stay under
// `bound(burst × frame size)` per subscriber on average. Over it, the loop waits 1 ms and
// looks again, so a client that reads slower than the server writes slows
// the publisher down instead of letting queues grow. (The sum is one pass
// over the connections per burst: a few ns per connection, next to the burst's
// `burst` deliveries to each.) The kernel's socket buffers on loopback still
// hold up to a few MiB per connection before Node buffers anything.
//
// IPC (bench/harness/parent-link.ts): ready once listening; FanoutRequest in, FanoutReply out.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createServer, type Connection } from '../../src/index.js';
import { listenBare } from '../harness/bare-listener.js';
import { reply as sendToParent, serveParent } from '../harness/parent-link.js';
import { clockReading } from '../harness/clock.js';
import { publicationPayload } from '../harness/publications.js';
import { FANOUT_TOPIC, fanoutFrames, pacingBound } from './fanout-frames.js';

export type FanoutKind = 'wss' | 'ws' | 'tls' | 'net';
export type FanoutMode = 'publish' | 'naive' | 'bare';

export type FanoutRequest =
  | { type: 'start'; id: number; mode: FanoutMode; size: number; burst: number; subscribers: number }
  | { type: 'usage'; id: number }
  | { type: 'stop'; id: number }
  /** Reads this process's monotonic clock (for the clock check). */
  | { type: 'clock'; id: number };

export interface FanoutUsage {
  type: 'usage';
  id: number;
  /** process.cpuUsage() user + system, µs since start. */
  cpuUs: number;
  /** Deliveries since the cell started: publications × the subscribers each reached. */
  deliveries: number;
  published: number;
  /** Bursts held back by the pacing bound since the cell started. */
  waits: number;
  /** performance.now() when read, ms: counts and CPU are read in the same instant. */
  time: number;
  connections: number;
}

export type FanoutReply =
  | FanoutUsage
  | { type: 'started'; id: number; error?: string }
  | { type: 'stopped'; id: number; published: number }
  /** mono: monoMs(); wall: performance.timeOrigin + performance.now(), read together. */
  | { type: 'clock'; id: number; mono: number; wall: number };

const certs = new URL('../../certs/', import.meta.url);
const cert = readFileSync(new URL('dev-cert.pem', certs));
const key = readFileSync(new URL('dev-key.pem', certs));
const host = '127.0.0.1';

function ignore(): void {}

// One of the two is used, by kind.
let wssd: ReturnType<typeof createServer> | undefined;
const bareSockets = new Set<net.Socket>();
function bareClosed(this: net.Socket): void {
  bareSockets.delete(this);
}

function subscribeFanout(conn: Connection): void {
  conn.on('error', ignore);
  conn.subscribe(FANOUT_TOPIC);
}

async function listen(kind: FanoutKind): Promise<number> {
  if (kind === 'wss' || kind === 'ws') {
    wssd = createServer(kind === 'wss' ? { cert, key, host, port: 0, logger: false, pingInterval: 0 } : { plain: true, host, port: 0, logger: false, pingInterval: 0 });
    wssd.on('connection', subscribeFanout);
    return (await wssd.listen()).port;
  }
  // The socket options wssd uses (no Nagle, TLS 1.2+, ALPN http/1.1).
  const handle = (socket: net.Socket): void => {
    bareSockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', ignore);
    socket.on('close', bareClosed);
    socket.resume();
  };
  const { port } = await listenBare(kind === 'tls', handle, host, cert, key);
  return port;
}

function connectionCount(): number {
  return wssd !== undefined ? wssd.connections.size : bareSockets.size;
}

function buffered(): number {
  let sum = 0;
  if (wssd !== undefined) for (const c of wssd.connections) sum += c.bufferedAmount;
  else for (const s of bareSockets) sum += s.writableLength;
  return sum;
}

// The running cell.
let running = false;
let mode: FanoutMode = 'publish';
let size = 32;
let burst = 1;
let bound = 0;
let seq = 0;
let deliveries = 0;
let waits = 0;

function publishBurst(): void {
  if (mode === 'bare') {
    // Built once per tick, for every socket: the frames' bytes are the same.
    const frames = fanoutFrames(seq, burst, size);
    seq += burst;
    for (const s of bareSockets) s.write(frames);
    deliveries += burst * bareSockets.size;
    return;
  }
  const server = wssd;
  if (server === undefined) return;
  for (let i = 0; i < burst; i++) {
    const payload = publicationPayload(seq++, size);
    if (mode === 'publish') {
      deliveries += server.publish(FANOUT_TOPIC, payload);
    } else {
      for (const c of server.connections) c.send(payload);
      deliveries += server.connections.size;
    }
  }
}

function tick(): void {
  if (!running) return;
  if (buffered() > bound * connectionCount()) {
    waits++;
    setTimeout(tick, 1);
    return;
  }
  publishBurst();
  setImmediate(tick);
}

function usage(id: number): FanoutUsage {
  const cpu = process.cpuUsage();
  return { type: 'usage', id, cpuUs: cpu.user + cpu.system, deliveries, published: seq, waits, time: performance.now(), connections: connectionCount() };
}

const kind = process.argv[2];
if (kind !== 'wss' && kind !== 'ws' && kind !== 'tls' && kind !== 'net') throw new Error(`usage: fanout-server.ts wss|ws|tls|net, got ${process.argv.slice(2).join(' ')}`);
const port = await listen(kind);
const reply = (message: FanoutReply): void => sendToParent(message);

serveParent<FanoutRequest>(port, (msg) => {
  switch (msg.type) {
    case 'clock':
      reply({ type: 'clock', id: msg.id, ...clockReading() });
      return;
    case 'usage':
      reply(usage(msg.id));
      return;
    case 'stop':
      running = false;
      reply({ type: 'stopped', id: msg.id, published: seq });
      return;
    case 'start': {
      const bare = kind === 'tls' || kind === 'net';
      let error: string | undefined;
      if (running) error = 'a cell is already running';
      else if ((msg.mode === 'bare') !== bare) error = `mode ${msg.mode} on a ${kind} server`;
      else if (connectionCount() !== msg.subscribers) error = `${connectionCount()} connections open, expected ${msg.subscribers}`;
      else if (wssd !== undefined && msg.mode === 'publish' && wssd.subscriberCount(FANOUT_TOPIC) !== msg.subscribers) error = `${wssd.subscriberCount(FANOUT_TOPIC)} subscribers, expected ${msg.subscribers}`;
      if (error === undefined) {
        mode = msg.mode;
        size = msg.size;
        burst = msg.burst;
        bound = pacingBound(burst, size);
        seq = 0;
        deliveries = 0;
        waits = 0;
        // Every cell starts from a collected heap (the child runs with --expose-gc).
        (globalThis as { gc?: () => void }).gc?.();
        running = true;
        setImmediate(tick);
      }
      reply(error === undefined ? { type: 'started', id: msg.id } : { type: 'started', id: msg.id, error });
      return;
    }
    default:
      return;
  }
});
