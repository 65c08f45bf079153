// The server side of the permessage-deflate bench (bench/deflate/deflate.ts), in a
// child process so its CPU time and memory are measured alone: wssd over TLS
// echoing every message, with compression on or off.
//
//   node --import tsx --expose-gc bench/deflate/deflate-server.ts on|off [idleReleaseMs]
//
// IPC: sends {type:'ready', port}; answers {type:'usage', id, gc} with CPU
// time, memory, connections and how many hold zlib contexts of their own.
import { readFileSync } from 'node:fs';
import { createServer, type Connection } from '../../src/index.js';
import { serveDeflateUsage } from './deflate-usage.js';

const certs = new URL('../../certs/', import.meta.url);
const [onOff, idleArg] = process.argv.slice(2);
const deflate = onOff === 'on';
const server = createServer({
  cert: readFileSync(new URL('dev-cert.pem', certs)),
  key: readFileSync(new URL('dev-key.pem', certs)),
  host: '127.0.0.1',
  port: 0,
  logger: false,
  pingInterval: 0,
  perMessageDeflate: deflate ? { idleRelease: idleArg === undefined ? 10_000 : Number(idleArg) } : false,
});
let messages = 0;
function ignore(): void {}
function echo(this: Connection, data: string | Buffer, isBinary: boolean): void {
  messages++;
  this.send(data, { binary: isBinary });
}
server.on('connection', (conn) => {
  conn.on('error', ignore);
  conn.on('message', echo);
});
const { port } = await server.listen();
serveDeflateUsage(port, () => ({ connections: server.connections.size, holders: server.deflate?.holders ?? 0, messages }));
