// Case 9's wssd nodes, one per child process (each one's CPU time measured
// alone): plain ws:// with the Redis broker, as `--plain --redis URL` runs it.
//
//   node --import tsx --expose-gc bench/redis/redis-node.ts redis://127.0.0.1:PORT
//
// A connection on / subscribes to the room topic, one on /solo to the solo
// topic. Node A also runs the publisher (started over IPC; pacing in
// bench/redis/redis-pacing.ts); node B only delivers what Redis brings it.
//
// IPC (bench/harness/parent-link.ts): ready once listening; NodeRequest in, NodeReply out.
import { createServer, type Connection, type UpgradeRequest } from '../../src/index.js';
import { clockReading } from '../harness/clock.js';
import { publicationPayload } from '../harness/publications.js';
import { closeThenExit, cpuReading, reply as sendToParent, serveParent } from '../harness/parent-link.js';
import { publicationsDue, ROOM_TOPIC, SOLO_PATH, SOLO_TOPIC, type NodeReply, type NodeRequest, type NodeUsage } from './redis-pacing.js';

const url = process.argv[2];
if (url === undefined || !url.startsWith('redis://')) throw new Error(`usage: redis-node.ts redis://HOST:PORT, got ${process.argv.slice(2).join(' ')}`);

function ignore(): void {}

const server = createServer({ plain: true, host: '127.0.0.1', port: 0, logger: false, pingInterval: 0, redis: url });
server.on('connection', (conn: Connection, request: UpgradeRequest) => {
  conn.on('error', ignore);
  conn.subscribe(request.path === SOLO_PATH ? SOLO_TOPIC : ROOM_TOPIC);
});
const { port } = await server.listen();

// The running cell.
let running = false;
let topic = ROOM_TOPIC;
let size = 32;
let rate = 0;
let window = 1;
let burst = 1;
let startedAt = 0;
let seq = 0;
let acked = 0;
let blocked = false;
let deliveries = 0;
/** Time the credit held the publisher back in the current cell: closed spells, and the open one's start. */
let heldMs = 0;
let heldSince: number | undefined;

function held(now: number): number {
  return heldMs + (heldSince === undefined ? 0 : now - heldSince);
}

function tick(): void {
  if (!running) return;
  const now = performance.now();
  const { count, heldBack } = publicationsDue({ rate, elapsedMs: now - startedAt, seq, acked, window, burst });
  if (heldBack) heldSince ??= now;
  else if (heldSince !== undefined) {
    heldMs += now - heldSince;
    heldSince = undefined;
  }
  for (let i = 0; i < count; i++) deliveries += server.publish(topic, publicationPayload(seq++, size));
  if (rate > 0) {
    // A fixed rate: what is due every millisecond (a timer, not a busy loop, which would bill its spinning to the node).
    setTimeout(tick, 1);
  } else if (heldBack) {
    // As fast as absorbed, and no credit left: the next ack wakes it.
    blocked = true;
  } else {
    setImmediate(tick);
  }
}

function usage(id: number): NodeUsage {
  const { cpuUs, time } = cpuReading();
  const topics = (JSON.parse(server.statsJson()) as { topics: { publishedElsewhere: number; dropped: number; undelivered: number } }).topics;
  return { type: 'usage', id, cpuUs, time, published: seq, deliveries, publishedElsewhere: topics.publishedElsewhere, dropped: topics.dropped, undelivered: topics.undelivered, heldMs: held(time), connections: server.connections.size };
}

const reply = (message: NodeReply): void => sendToParent(message);

serveParent<NodeRequest>(
  port,
  (msg) => {
    switch (msg.type) {
      case 'clock':
        reply({ type: 'clock', id: msg.id, ...clockReading() });
        return;
      case 'usage':
        reply(usage(msg.id));
        return;
      case 'count':
        reply({ type: 'count', id: msg.id, room: server.subscriberCount(ROOM_TOPIC), solo: server.subscriberCount(SOLO_TOPIC) });
        return;
      case 'ack':
        if (msg.seq > acked) acked = msg.seq;
        if (blocked) {
          blocked = false;
          setImmediate(tick);
        }
        return;
      case 'stop':
        running = false;
        blocked = false;
        reply({ type: 'stopped', id: msg.id, published: seq });
        return;
      case 'start': {
        if (running) {
          reply({ type: 'started', id: msg.id, error: 'a cell is already running' });
          return;
        }
        ({ topic, size, rate, window, burst } = msg);
        seq = 0;
        acked = 0;
        deliveries = 0;
        heldMs = 0;
        heldSince = undefined;
        blocked = false;
        // Every cell starts from a collected heap (the child runs with --expose-gc).
        (globalThis as { gc?: () => void }).gc?.();
        startedAt = performance.now();
        running = true;
        setImmediate(tick);
        reply({ type: 'started', id: msg.id });
        return;
      }
      default:
        return;
    }
  },
  closeThenExit(() => server.close()),
);
