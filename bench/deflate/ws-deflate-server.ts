// The `ws` package as the permessage-deflate bench's yardstick (bench/deflate/deflate.ts
// with --ws PATH): the same TLS echo and the same IPC as deflate-server.ts, with
// `perMessageDeflate: true` (ws's defaults). ws is not a dependency of this
// repository: PATH points at a copy installed elsewhere (`npm i ws` in a
// temporary directory), and it is loaded from there at run time.
//
//   node --import tsx --expose-gc bench/deflate/ws-deflate-server.ts /tmp/x/node_modules/ws
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { listenOnFreePort } from '../harness/bare-listener.js';
import { serveDeflateUsage } from './deflate-usage.js';
import { loadWs } from '../harness/ws-package.js';

const wsPath = process.argv[2];
if (wsPath === undefined) throw new Error('usage: ws-deflate-server.ts PATH_TO_WS');
const ws = loadWs(wsPath);
const certs = new URL('../../certs/', import.meta.url);
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
serveDeflateUsage(await listenOnFreePort(server, '127.0.0.1'), () => ({ connections: wss.clients.size, holders: -1, messages }));
