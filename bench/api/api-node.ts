// Case 10's wssd nodes, one per child process (each one's CPU time measured
// alone): plain ws://, the server API on a port of its own with one key, and
// with a Redis URL the Redis broker — as `--plain --api-port N --api-key K
// [--redis URL]` runs it. Compiled to JavaScript before it runs (compiled.ts).
//
//   node test-output/bench-servers/bench/api/api-node.js [redis://127.0.0.1:PORT]
//
// A connection on /?topic=T is subscribed to T, one on /?user=U bound to user
// U (setUser: what a token's sub or the connect proxy would do), so that a
// send to U reaches it wherever it is. Nothing publishes here: every
// publication and send comes through the API.
//
// IPC (bench/harness/parent-link.ts): ready once listening (the WebSocket
// port); NodeRequest in, NodeReply out.
import { primeMalloc } from '../../src/cli/malloc-priming.js';
import { userRoute } from '../../src/gateway/routes.js';
import { createServer, type Connection, type UpgradeRequest } from '../../src/index.js';
import { clockReading } from '../harness/clock.js';
import { closeThenExit, cpuReading, reply as sendToParent, serveParent } from '../harness/parent-link.js';
import { API_KEY, type NodeReply, type NodeRequest } from './api-requests.js';

const redis = process.argv[2];
if (redis !== undefined && !redis.startsWith('redis://')) throw new Error(`usage: api-node.js [redis://HOST:PORT], got ${process.argv.slice(2).join(' ')}`);

// As the CLI does for every server process (see "Large messages and glibc" in the README).
await primeMalloc();

function ignore(): void {}

const server = createServer({ plain: true, host: '127.0.0.1', port: 0, logger: false, pingInterval: 0, apiPort: 0, apiKey: [API_KEY], ...(redis === undefined ? {} : { redis }) });
server.on('connection', (conn: Connection, request: UpgradeRequest) => {
  conn.on('error', ignore);
  const query = new URLSearchParams(request.query);
  const user = query.get('user');
  if (user !== null) conn.setUser(user);
  for (const topic of query.getAll('topic')) conn.subscribe(topic);
});
const { port } = await server.listen();
const apiPort = server.apiAddress?.port;
if (apiPort === undefined) throw new Error('the server API is not listening');

interface Stats {
  messages: { out: number };
  api: { requests: number; errors: Record<string, number> };
  topics: { published: number; publishedElsewhere: number; dropped: number; undelivered: number };
}

const reply = (message: NodeReply): void => sendToParent(message);

serveParent<NodeRequest>(
  port,
  (msg) => {
    switch (msg.type) {
      case 'usage': {
        const { cpuUs, time } = cpuReading();
        const s = JSON.parse(server.statsJson()) as Stats;
        reply({
          type: 'usage',
          id: msg.id,
          cpuUs,
          time,
          published: s.topics.published,
          deliveries: s.messages.out,
          publishedElsewhere: s.topics.publishedElsewhere,
          apiRequests: s.api.requests,
          apiErrors: Object.values(s.api.errors).reduce((a, b) => a + b, 0),
          dropped: s.topics.dropped,
          undelivered: s.topics.undelivered,
        });
        return;
      }
      case 'count':
        reply({ type: 'count', id: msg.id, subscribers: server.subscriberCount(msg.topic) });
        return;
      case 'user':
        reply({ type: 'count', id: msg.id, subscribers: server.subscriberCount(userRoute(msg.user)) });
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
