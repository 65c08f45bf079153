// The `ws` package, the yardstick of cases 4 and 8 (`--ws PATH`). It is not a
// dependency of this repository: PATH is a copy installed elsewhere (`npm i ws`
// in a temporary directory, with `bufferutil` beside it if ws is to use it),
// loaded from there at run time. Only what the bench servers use is typed here.
import type http from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

export interface WsSocket {
  on(event: 'message', listener: (this: WsSocket, data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: () => void): void;
  send(data: Buffer, options: { binary: boolean }): void;
}

export interface WsServer {
  clients: Set<WsSocket>;
  on(event: 'connection', listener: (ws: WsSocket, request: http.IncomingMessage) => void): void;
}

export interface WsModule {
  WebSocketServer: new (options: { server: http.Server; perMessageDeflate: boolean }) => WsServer;
}

/** ws from PATH (its node_modules/ws directory; a relative PATH is taken from the working directory, not from this file). */
export function loadWs(path: string): WsModule {
  return createRequire(import.meta.url)(resolve(path)) as WsModule;
}
