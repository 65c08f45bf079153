// The `ws` package as the permessage-deflate bench's yardstick (bench/deflate.ts
// with --ws PATH): the same TLS echo and the same IPC as deflate-server.ts, with
// `perMessageDeflate: true` (ws's defaults). ws is not a dependency of this
// repository: PATH points at a copy installed elsewhere (`npm i ws` in a
// temporary directory), and it is loaded from there at run time.
//
//   node --import tsx --expose-gc bench/ws-deflate-server.ts /tmp/x/node_modules/ws
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { DeflateUsage } from './deflate-server.js';
import { afterFullGc } from './measure.js';
import { loadWs } from './ws-package.js';

const wsPath = process.argv[2];
if (wsPath === undefined) throw new Error('usage: ws-deflate-server.ts PATH_TO_WS');
const ws = loadWs(wsPath);
const certs = new URL('../certs/', import.meta.url);
const server = https.createServer({ cert: readFileSync(new URL('dev-cert.pem', certs)), key: readFileSync(new URL('dev-key.pem', certs)) });
const wss = new ws.WebSocketServer({ server, perMessageDeflate: true });
let messages = 0;
wss.on('connection', (socket) => {
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => {
    messages++;
    socket.send(data, { binary: isBinary });
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
process.send?.({ type: 'ready', port: typeof address === 'object' && address !== null ? address.port : 0 });
process.on('disconnect', () => process.exit(0));
process.on('message', (msg: { type: string; id: number; gc: boolean }) => {
  if (msg.type !== 'usage') return;
  const reply = (): void => {
    const cpu = process.cpuUsage();
    const m = process.memoryUsage();
    const usage: DeflateUsage = { type: 'usage', id: msg.id, cpuUs: cpu.user + cpu.system, rss: m.rss, heapUsed: m.heapUsed, external: m.external, connections: wss.clients.size, holders: -1, messages };
    process.send?.(usage);
  };
  afterFullGc(msg.gc, reply, 100);
});
