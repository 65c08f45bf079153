// The bare servers the benches hold wssd to: a node:tls or node:net listener
// with the socket options wssd uses (TLS 1.2+, ALPN http/1.1; the handler sets
// no-Nagle), so only the WebSocket layer differs. Listens on a free port.
import net from 'node:net';
import tls from 'node:tls';

/** Listens on a free port of `host` (any node server: net, tls, http, https); returns the port. */
export async function listenOnFreePort(server: net.Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function listenBare(secure: boolean, handle: (socket: net.Socket) => void, host: string, cert: Buffer, key: Buffer): Promise<{ server: net.Server; port: number }> {
  let server: net.Server;
  if (secure) {
    const s = tls.createServer({ cert, key, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }, handle);
    // A client that gives up mid-handshake is the load generator's business, not the server's.
    s.on('tlsClientError', () => {});
    server = s;
  } else {
    server = net.createServer(handle);
  }
  return { server, port: await listenOnFreePort(server, host) };
}
