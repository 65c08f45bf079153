// How a socket's events reach the object that owns it without a closure per
// socket: the listeners are module-level functions, shared by every socket,
// that find their owner on the socket itself. Idle connections are many, and
// three closures each would cost memory on every one of them.
import type { Socket } from 'node:net';

export interface SocketOwner {
  /** Bytes arrived. */
  receive(chunk: Buffer): void;
  /** The socket's 'close'. */
  socketClosed(): void;
  /** The socket's 'error' (a reset, a broken pipe); 'close' follows. */
  socketError(error: Error): void;
}

const OWNER = Symbol('wssd.owner');
type OwnedSocket = Socket & { [OWNER]: SocketOwner };

function onData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[OWNER].receive(chunk);
}

function onClose(this: Socket): void {
  (this as OwnedSocket)[OWNER].socketClosed();
}

function onError(this: Socket, error: Error): void {
  (this as OwnedSocket)[OWNER].socketError(error);
}

/**
 * Routes `socket`'s data, close and error events to `owner`. No 'end'
 * listener: sockets here are never half-open (allowHalfOpen is false for
 * net/tls servers' sockets, and the handshake turns it off for node:http's),
 * so Node ends our side itself when the peer ends TCP.
 */
export function routeSocketEvents(socket: Socket, owner: SocketOwner): void {
  (socket as OwnedSocket)[OWNER] = owner;
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', onError);
}
