// Case 11's wssd node, one per child process (its CPU time measured alone),
// compiled to JavaScript before it runs (bench/harness/compiled.ts), as a
// deployed server runs:
//
//   node test-output/bench-servers/bench/client/client-node.js tls|plain [redis://HOST:PORT HISTORY_SIZE]
//
// The server API on a port of its own (one key); wssd.v1 clients may
// subscribe themselves to topics under bench: (--client-subscribe-prefix);
// with a Redis URL, the Redis broker and every topic's history
// (--history-size). A connection that does not speak wssd.v1 is a raw
// subscriber: on /?topic=T the node subscribes it to T, as an application
// (--app) would.
//
// The publisher runs here, in the server process, as case 7's does, but at a
// fixed pace instead of as fast as the subscribers absorb: raw and wssd.v1
// subscribers then get the same publications per second, each one written
// to every socket on its own tick, so their CPU per delivery is compared at
// the same load. A tick every millisecond publishes what is due
// (publicationsDue), at most CATCH_UP at once.
//
// IPC (bench/harness/parent-link.ts): ready once listening (the WebSocket
// port); NodeRequest in, NodeReply out.
import { readFileSync } from 'node:fs';
import { primeMalloc } from '../../src/cli/malloc-priming.js';
import { createServer, type Connection, type UpgradeRequest } from '../../src/index.js';
import { clockReading } from '../harness/clock.js';
import { closeThenExit, cpuReading, reply as sendToParent, serveParent } from '../harness/parent-link.js';
import { publicationPayload } from '../harness/publications.js';
import { API_KEY, publicationsDue, TOPIC_PREFIX, type NodeReply, type NodeRequest } from './client-requests.js';

const [transport, redis, historySize] = process.argv.slice(2);
if ((transport !== 'tls' && transport !== 'plain') || (redis !== undefined && (!redis.startsWith('redis://') || !(Number(historySize) > 0)))) {
  throw new Error(`usage: client-node.js tls|plain [redis://HOST:PORT HISTORY_SIZE], got ${process.argv.slice(2).join(' ')}`);
}

// As the CLI does for every server process (see "Large messages and glibc" in the README).
await primeMalloc();

/** Publications a tick may make at most, when the publisher fell behind its pace. */
const CATCH_UP = 16;
const V1 = 'wssd.v1';

function ignore(): void {}

const certs = new URL('../../certs/', import.meta.url);
const server = createServer({
  ...(transport === 'tls' ? { cert: readFileSync(new URL('dev-cert.pem', certs)), key: readFileSync(new URL('dev-key.pem', certs)) } : { plain: true }),
  host: '127.0.0.1',
  port: 0,
  logger: false,
  pingInterval: 0,
  apiPort: 0,
  apiKey: [API_KEY],
  clientSubscribePrefix: [TOPIC_PREFIX],
  ...(redis === undefined ? {} : { redis, historySize: Number(historySize) }),
});
server.on('connection', (conn: Connection, request: UpgradeRequest) => {
  conn.on('error', ignore);
  if (conn.protocol === V1) return;
  for (const topic of new URLSearchParams(request.query).getAll('topic')) conn.subscribe(topic);
});
const { port } = await server.listen();
const apiPort = server.apiAddress?.port;
if (apiPort === undefined) throw new Error('the server API is not listening');

// The running cell.
let running = false;
let topic = '';
let size = 32;
let rate = 1;
let burst = 1;
let limit = Infinity;
let startedAt = 0;
let seq = 0;
let deliveries = 0;
let behind = 0;

function tick(): void {
  if (!running) return;
  const cap = Math.max(CATCH_UP, burst);
  const due = publicationsDue(rate, performance.now() - startedAt, seq, Infinity, burst);
  if (due > cap) behind++;
  for (let i = Math.min(due, cap, limit - seq); i > 0; i--) deliveries += server.publish(topic, publicationPayload(seq++, size));
  if (seq >= limit) running = false;
  else setTimeout(tick, 1);
}

const reply = (message: NodeReply): void => sendToParent(message);

serveParent<NodeRequest>(
  port,
  (msg) => {
    switch (msg.type) {
      case 'usage': {
        const { cpuUs, time } = cpuReading();
        const s = JSON.parse(server.statsJson()) as { topics: { dropped: number } };
        reply({ type: 'usage', id: msg.id, cpuUs, time, published: seq, deliveries, behind, connections: server.connections.size, dropped: s.topics.dropped });
        return;
      }
      case 'count':
        reply({ type: 'count', id: msg.id, subscribers: server.subscriberCount(msg.topic) });
        return;
      case 'start':
        if (running) {
          reply({ type: 'started', id: msg.id, error: 'a cell is already running' });
          return;
        }
        topic = msg.topic;
        size = msg.size;
        rate = msg.rate;
        burst = msg.burst ?? 1;
        limit = msg.count ?? Infinity;
        seq = 0;
        deliveries = 0;
        behind = 0;
        // Every cell starts from a collected heap (the child runs with --expose-gc).
        (globalThis as { gc?: () => void }).gc?.();
        running = true;
        startedAt = performance.now();
        setTimeout(tick, 1);
        reply({ type: 'started', id: msg.id });
        return;
      case 'stop':
        running = false;
        reply({ type: 'stopped', id: msg.id, published: seq });
        return;
      case 'api':
        reply({ type: 'api', id: msg.id, port: apiPort });
        return;
      case 'clock':
        reply({ type: 'clock', id: msg.id, ...clockReading() });
        return;
      default:
        return;
    }
  },
  closeThenExit(() => server.close()),
);
