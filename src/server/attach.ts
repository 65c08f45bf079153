// wssd inside an existing node:http or node:https server: one port serves
// both, the http server's TLS (if any) and its listen().
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerOptions } from '../options/server-options.js';
import { WebSocketServer } from './websocket-server.js';

/**
 * Adds WebSocket to an existing node:http or node:https server: wssd takes
 * its 'upgrade' events (on the paths in `options.path`, or all), so one port
 * serves both. TLS, if any, is the http server's; `listen()` is its too.
 */
export function attach(httpServer: http.Server, options: Omit<ServerOptions, 'cert' | 'key' | 'certFile' | 'keyFile' | 'plain' | 'noServer'> = {}): WebSocketServer {
  const wss = new WebSocketServer({ ...options, noServer: true });
  httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head));
  // node:http emits 'close' only after every socket is gone, upgraded ones
  // included, so waiting for it would wait for the WebSocket clients to leave
  // on their own. Closing the http server starts their closing handshake (1001).
  const close = httpServer.close.bind(httpServer);
  httpServer.close = ((callback?: (error?: Error) => void) => {
    void wss.close();
    return close(callback);
  }) as typeof httpServer.close;
  return wss;
}
