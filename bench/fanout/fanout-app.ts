// Case 7 under the real command line, for --workers N:
//   node --import tsx src/server.ts --workers 2 --app bench/fanout/fanout-app.ts …
// Every connection on / subscribes to the fan-out topic. One connection on
// /control (the bench's) drives the publisher, which runs in whichever worker
// took that connection; the relay in the primary carries each publication to
// the other worker's subscribers.
//
// Control messages (text): "count" → "count LOCAL TOTAL" (subscribers in
// this worker, in all); "start SIZE BURST WINDOW" → "started";
// "ack SEQ" (every subscriber, in every worker, has all publications before
// SEQ); "stop" → "stopped PUBLISHED".
//
// Pacing as in bench/fanout/fanout-server.ts — a burst per tick while this worker's
// subscribers' buffered bytes stay under the bound — plus a credit from the
// client: at most WINDOW publications beyond the last "ack". The publisher
// cannot see the other worker's buffers, and the relay does not push back,
// so without the credit a slower worker would queue the difference in IPC.
// The one-worker reference runs this same code, credit included.
import type { Connection, UpgradeRequest } from '../../src/server/connection.js';
import type { WebSocketServer } from '../../src/server/websocket-server.js';
import { publicationPayload } from '../harness/publications.js';
import { FANOUT_TOPIC, pacingBound } from './fanout-frames.js';

let control: Connection | undefined;
let running = false;
let size = 32;
let burst = 1;
let window = 1;
let bound = 0;
let seq = 0;
let acked = 0;
let blocked = false;
let app: WebSocketServer | undefined;

function ignore(): void {}

function buffered(server: WebSocketServer): { bytes: number; subscribers: number } {
  let bytes = 0;
  let subscribers = 0;
  for (const c of server.connections) {
    if (c === control) continue;
    bytes += c.bufferedAmount;
    subscribers++;
  }
  return { bytes, subscribers };
}

function tick(): void {
  const server = app;
  if (!running || server === undefined) return;
  if (seq + burst - acked > window) {
    // Woken by the next ack.
    blocked = true;
    return;
  }
  const b = buffered(server);
  if (b.bytes > bound * b.subscribers) {
    setTimeout(tick, 1);
    return;
  }
  for (let i = 0; i < burst; i++) server.publish(FANOUT_TOPIC, publicationPayload(seq++, size));
  setImmediate(tick);
}

function onControl(this: Connection, data: string | Buffer): void {
  const [command, ...args] = String(data).split(' ');
  if (command === 'start') {
    [size, burst, window] = args.map(Number);
    bound = pacingBound(burst, size);
    seq = 0;
    acked = 0;
    blocked = false;
    running = true;
    setImmediate(tick);
    this.send('started');
  } else if (command === 'ack') {
    acked = Number(args[0]);
    if (blocked) {
      blocked = false;
      setImmediate(tick);
    }
  } else if (command === 'count') {
    // This worker's subscribers, and every worker's (asked through the primary).
    const server = app;
    if (server !== undefined) void server.totalSubscriberCount(FANOUT_TOPIC).then((total) => this.send(`count ${server.subscriberCount(FANOUT_TOPIC)} ${total}`));
  } else if (command === 'stop') {
    running = false;
    this.send(`stopped ${seq}`);
  }
}

export default function onConnection(ws: Connection, request: UpgradeRequest, server: WebSocketServer): void {
  app = server;
  ws.on('error', ignore);
  if (request.path === '/control') {
    control = ws;
    ws.on('message', onControl);
    ws.on('close', () => {
      running = false;
      control = undefined;
    });
    return;
  }
  ws.subscribe(FANOUT_TOPIC);
}
