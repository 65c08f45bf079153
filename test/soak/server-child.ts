// The server under soak, in its own process so that its memory and handles
// are measured alone. Reports samples over IPC.
import { readFileSync } from 'node:fs';
import { createServer } from '../../src/index.js';

const certs = new URL('../../certs/', import.meta.url);
const server = createServer({
  cert: readFileSync(new URL('dev-cert.pem', certs)),
  key: readFileSync(new URL('dev-key.pem', certs)),
  host: '127.0.0.1',
  port: 0,
  logger: false,
  closeTimeout: 1000,
  handshakeTimeout: 2000,
  pingInterval: 0,
});
server.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
const { port } = await server.listen();

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (msg: unknown) => {
  if (msg === 'sample') {
    gc?.();
    const m = process.memoryUsage();
    const resources = process.getActiveResourcesInfo();
    process.send?.({
      kind: 'sample',
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external + m.arrayBuffers,
      handles: resources.length,
      // Accepted TCP sockets, upgraded or not (the listener is a TCPServerWrap).
      sockets: resources.filter((r) => r === 'TCPSocketWrap').length,
      connections: server.connections.size,
    });
  } else if (msg === 'stop') {
    void server.close().then(() => process.exit(0));
  }
});
process.send?.({ kind: 'ready', port });
