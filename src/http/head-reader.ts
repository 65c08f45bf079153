// Reads the HTTP head of a new socket under its limits and the handshake
// deadline: the I/O edge around the pure RequestHeadReader. Whatever ends the
// reading — the head complete, a refusal, the deadline, the socket closing —
// stops it first, so a head that completes after its 408 is never upgraded.
import type net from 'node:net';
import type { Clock } from '../io/clock.js';
import { HandshakeError, handshakeErrors } from '../protocol/errors.js';
import { RequestHeadReader, type HeadLimits } from './request-head.js';

export interface HeadHandler {
  /** The head is complete; `rest` is what came after it (the first frames). */
  onHead(socket: net.Socket, head: Buffer, rest: Buffer): void;
  /** The head broke a rule or a limit, or the deadline passed. */
  onRefuse(socket: net.Socket, error: HandshakeError): void;
  /** Reading ended, whichever way (the socket may have closed first). */
  onDone(socket: net.Socket): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Swallows socket errors until a Connection takes the socket over (the
 * 'close' that follows an error does the cleanup). Module-level on purpose:
 * a closure made per socket would share its context with the reader and the
 * timer and keep them alive for the connection's whole life.
 */
export function ignoreSocketErrors(): void {}

/** Reads one request head from `socket` until `deadline` (a time of `clock`). */
export function readHead(socket: net.Socket, deadline: number, limits: HeadLimits, clock: Clock, handler: HeadHandler): void {
  const reader = new RequestHeadReader(limits);
  const timer = clock.setTimeout(() => {
    done();
    handler.onRefuse(socket, handshakeErrors.timeout());
  }, Math.max(0, deadline - clock.now()));
  const done = (): void => {
    clock.clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', done);
    handler.onDone(socket);
  };
  const onData = (chunk: Buffer): void => {
    let complete: boolean;
    try {
      complete = reader.push(chunk);
    } catch (error) {
      done();
      if (error instanceof HandshakeError) handler.onRefuse(socket, error);
      else socket.destroy();
      return;
    }
    if (!complete) return;
    done();
    handler.onHead(socket, reader.head ?? EMPTY, reader.rest ?? EMPTY);
  };
  socket.on('data', onData);
  socket.on('close', done);
  socket.on('error', ignoreSocketErrors);
}
