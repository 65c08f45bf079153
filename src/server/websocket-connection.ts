// One accepted WebSocket connection as `ws` users know it: a `ws`-like API
// over a WebSocketSession (the protocol, sans-I/O) and a SocketWriter (the
// write side and flow control). It moves socket bytes into the session, runs
// the idle and close timers, and turns the session's events into its own.
// Connection (connection.ts) adds what a connection is to the server: its
// id and user, its topics, and the wssd.v1 protocol.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/constants.js';
import { connectionExits, type ProtocolError } from '../protocol/errors.js';
import { COPY_LIMIT } from '../protocol/frame-encoder.js';
import { SessionState, WebSocketSession, type MessageCompression, type SessionHost } from '../protocol/session.js';
import type { Clock, Timer } from '../io/clock.js';
import type { HeartbeatPeer } from '../io/heartbeat.js';
import { routeSocketEvents, type SocketOwner } from '../io/socket-events.js';
import { SendStatus, SocketWriter, type WriterHost } from '../io/socket-writer.js';
import type { UpgradeRequest } from '../http/upgrade.js';
import type { PresenceEvent } from '../gateway/presence.js';
import type { StreamPosition } from '../pubsub/history.js';
import type { ResumeResult } from '../pubsub/pubsub.js';
import type { ServerStats } from '../telemetry/stats.js';

/** What every connection of a server shares, at this level: one object, not a copy each. */
export interface WebSocketOptions {
  maxPayload: number;
  maxFragments: number;
  /** send() returns false, and reading pauses, once this many bytes wait to be written. */
  highWaterMark: number;
  /** Hard cap on bytes waiting to be written; past it `bufferPolicy` applies. */
  maxBuffered: number;
  /** 'close': fail with 1008; 'drop': refuse the message (nothing queued). */
  bufferPolicy: 'close' | 'drop';
  /** Close (1001) a connection that sent nothing for this long, in ms; 0 = never. */
  idleTimeout: number;
  /** For the message when the heartbeat terminates a silent peer, in ms. */
  pingTimeout: number;
  /** How long to wait for the peer's Close after ours, and for TCP to end after the handshake. */
  closeTimeout: number;
  clock: Clock;
  /** Server-wide counters this connection adds to. */
  counters: ServerStats;
  /** Where an exception from an application handler goes when nobody listens for 'error'. */
  reportHandlerError: (error: Error, connection: WebSocketConnection) => void;
}

export interface SendOptions {
  /** Send as a binary message. Default: true for bytes, false for strings. */
  binary?: boolean;
  /** With permessage-deflate negotiated, compress this message (if at least the threshold long). Default true. */
  compress?: boolean;
}

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

export interface ConnectionEvents {
  /** A complete message: a string for text, a Buffer (a view into received memory) for binary. */
  message: [data: string | Buffer, isBinary: boolean];
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  /** send() may go on: the bytes buffered when it returned false have been written. */
  drain: [];
  /** The peer broke the protocol (the connection is being failed) or the socket errored. */
  error: [error: Error];
  /** The connection is gone. `code` is the peer's Close code, 1005 if its Close had none, 1006 if none came. */
  close: [code: number, reason: string];
  /** A publication of `topic` was skipped for this connection: its buffer was above maxBackpressure (policy 'drop'). */
  drop: [topic: string, data: string | Buffer];
  /** A publication of a topic with history was sent to this connection, at this position (only emitted while listened to). */
  publication: [topic: string, position: StreamPosition];
  /** A member joined or left a topic this connection is in (topics under presencePrefix). */
  presence: [topic: string, event: PresenceEvent];
  /** subscribe(topic, { since }) has caught up: what was missed was replayed, or why not all of it. */
  resume: [topic: string, result: ResumeResult];
}

const EMPTY = Buffer.alloc(0);

export class WebSocketConnection extends EventEmitter<ConnectionEvents> implements SessionHost, WriterHost, HeartbeatPeer, SocketOwner {
  /** The request path (the full request, headers and all, comes with the 'connection' event; not kept here, to keep idle connections small). */
  readonly path: string;
  /** Whether the connection came over TLS. */
  readonly secure: boolean;
  /** The negotiated subprotocol, or '' when none. */
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  protected readonly session: WebSocketSession;
  protected readonly writer: SocketWriter;
  private readonly base: WebSocketOptions;
  private idleTimer: Timer | undefined;
  /** Something arrived since the last heartbeat ping. */
  private heardFrom = true;
  /** Messages refused by the 'drop' buffer policy. */
  droppedMessages = 0;
  private closeTimer: Timer | undefined;
  /** The socket is gone. */
  protected closed = false;
  private closeEmitted = false;

  constructor(socket: Socket, request: UpgradeRequest, protocol: string, options: WebSocketOptions, compression?: MessageCompression) {
    super();
    this.path = request.path;
    this.secure = request.secure;
    this.protocol = protocol;
    this.remoteAddress = request.remoteAddress;
    this.remotePort = request.remotePort;
    this.base = options;
    this.writer = new SocketWriter(socket, this, options.highWaterMark);
    this.session = new WebSocketSession(this, this.writer, { maxPayload: options.maxPayload, maxFragments: options.maxFragments, compression });
    if (options.idleTimeout > 0) {
      this.idleTimer = options.clock.setTimeout(() => this.onIdle(), options.idleTimeout).unref();
    }
    routeSocketEvents(socket, this);
  }

  get socket(): Socket {
    return this.writer.socket;
  }

  get readyState(): number {
    if (this.closed) return ReadyState.CLOSED;
    return this.session.state === SessionState.Open ? ReadyState.OPEN : ReadyState.CLOSING;
  }

  /** Bytes accepted by send() (and control frames) that the socket has not written yet. */
  get bufferedAmount(): number {
    return this.writer.bufferedAmount;
  }

  /**
   * Feeds bytes from the socket (also the bytes that followed the HTTP head).
   * Everything the session writes while handling them goes out in one batch.
   */
  receive(chunk: Buffer): void {
    this.heardFrom = true;
    this.idleTimer?.refresh();
    const wasBatching = this.writer.beginReceive();
    try {
      this.session.receive(chunk);
    } catch (error) {
      // A handler threw: the peer gets 1011 without details; the error goes to the application.
      this.session.fail(connectionExits.handlerThrew());
      const e = error instanceof Error ? error : new Error(String(error));
      if (this.listenerCount('error') > 0) this.emit('error', e);
      else this.base.reportHandlerError(e, this);
    }
    this.writer.endReceive(wasBatching);
  }

  /** Hands what was sent so far to the socket now rather than at the end of the chunk or tick. */
  flush(): void {
    this.writer.flush();
  }

  /**
   * Sends a message. Strings go as text, bytes as binary unless `binary` says
   * otherwise. Returns false when the bytes waiting to be written pass the
   * high-water mark (wait for 'drain'), or when nothing was sent (closing, or
   * the buffer is full): trySend() tells which. A payload above 16 KiB is not
   * copied: do not change it until 'drain' or the next tick.
   */
  send(data: string | Buffer | Uint8Array | ArrayBuffer, options?: SendOptions): boolean {
    return this.trySend(data, options) === SendStatus.Success;
  }

  /** send() with the outcome spelled out: Success, Backpressure (queued; wait for 'drain') or Dropped (not sent). */
  trySend(data: string | Buffer | Uint8Array | ArrayBuffer, options?: SendOptions): SendStatus {
    if (!this.session.canSend || this.writer.destroyed) return SendStatus.Dropped;
    if (typeof data === 'string' && options?.binary !== true) {
      const length = Buffer.byteLength(data, 'utf8');
      if (length <= COPY_LIMIT) {
        if (!this.hasRoomFor(length)) return this.overflow();
        this.session.sendText(data, length, options?.compress !== false);
        return this.sent(length);
      }
      return this.sendBytes(Buffer.from(data, 'utf8'), false, options?.compress !== false);
    }
    const bytes =
      typeof data === 'string'
        ? Buffer.from(data, 'utf8')
        : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.sendBytes(bytes, options?.binary !== false, options?.compress !== false);
  }

  /** Whether permessage-deflate was negotiated on this connection (RFC 7692). */
  get compressed(): boolean {
    return this.session.compression !== undefined;
  }

  private sendBytes(payload: Buffer, binary: boolean, compress: boolean): SendStatus {
    if (!this.hasRoomFor(payload.length)) return this.overflow();
    this.session.sendBytes(payload, binary, compress);
    return this.sent(payload.length);
  }

  private sent(payloadLength: number): SendStatus {
    const counters = this.base.counters;
    counters.messagesOut++;
    counters.bytesOut += payloadLength;
    return this.writer.status();
  }

  /** Whether a message of this size still fits under maxBuffered (headers are within the slack). */
  private hasRoomFor(payloadLength: number): boolean {
    return this.writer.bufferedAmount + payloadLength <= this.base.maxBuffered;
  }

  /**
   * The peer reads slower than we send and the buffer is full. Either refuse
   * this message, or fail the connection with 1008: never queue without bound.
   */
  protected overflow(): SendStatus {
    if (this.base.bufferPolicy === 'drop') {
      this.droppedMessages++;
      this.base.counters.lost('send-buffer-full');
    }
    else this.closeFor(connectionExits.sendBufferFull());
    return SendStatus.Dropped;
  }

  /**
   * Stops reading from the peer, e.g. while an async handler catches up: no
   * more messages arrive, the socket's receive window fills and TCP pushes
   * back on the client instead of wssd buffering its messages.
   */
  pause(): void {
    this.writer.pauseReading();
  }

  /** Reads again after pause() (unless the outgoing buffer still holds reading back). */
  resume(): void {
    this.writer.resumeReading();
  }

  /** Sends a Ping (§5.5.2); the answer arrives as a 'pong' event. */
  ping(data: string | Buffer = EMPTY): void {
    this.session.ping(controlPayload(data));
  }

  /** Sends an unsolicited Pong (§5.5.3), e.g. as a one-way heartbeat. */
  pong(data: string | Buffer = EMPTY): void {
    this.session.pong(controlPayload(data));
  }

  /**
   * Starts the closing handshake: sends a Close and waits (closeTimeout) for
   * the peer's, then ends TCP. The code must be one an endpoint may send
   * (1000, 1001…, 3000–4999) and the reason at most 123 bytes of UTF-8.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    this.closing(code, reason);
    this.session.close(code, reason);
  }

  /** Just before the server sends its Close (a subclass may say why first). */
  protected closing(_code: number, _reason: string): void {}

  /** @internal The server ends the connection for a cause from the catalogue: counted by its code, then closed with its close code. */
  closeFor(exit: ProtocolError): void {
    if (this.session.state !== SessionState.Open) return;
    this.base.counters.exitedWith(exit.code);
    this.closing(exit.closeCode, exit.message);
    this.session.close(exit.closeCode, exit.message);
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(): void {
    this.session.transportClosed();
    this.writer.socket.destroy();
  }

  // SessionHost.
  onMessage(data: Buffer, binary: boolean): void {
    const counters = this.base.counters;
    counters.messagesIn++;
    counters.bytesIn += data.length;
    this.received(data, binary);
  }

  /** A complete message from the peer: the 'message' event (a subclass may route it elsewhere). */
  protected received(data: Buffer, binary: boolean): void {
    this.emit('message', binary ? data : data.toString('utf8'), binary);
  }

  onPing(payload: Buffer): void {
    this.emit('ping', payload);
  }

  onPong(payload: Buffer): void {
    this.emit('pong', payload);
  }

  onCloseSent(): void {
    this.stopIdleTimer();
    this.armCloseTimer();
  }

  onClosed(error: ProtocolError | undefined): void {
    // §7.1.1: the server closes TCP first, after the Close has been flushed.
    this.writer.end();
    this.stopIdleTimer();
    this.armCloseTimer();
    if (error !== undefined) {
      this.base.counters.exitedWith(error.code);
      this.emitError(error);
    }
  }

  // WriterHost.
  onDrain(): void {
    this.emit('drain');
  }

  /**
   * @internal Heartbeat, driven by the server for all connections at once:
   * ping, and forget having heard from the peer. heartbeatCheck() follows
   * pingTimeout later.
   */
  heartbeatPing(): void {
    if (this.closed || this.session.state !== SessionState.Open) return;
    this.heardFrom = false;
    this.session.ping(EMPTY);
  }

  /**
   * @internal A peer from which nothing at all (pong or data) arrived since
   * the ping is gone — a pulled cable, a NAT that forgot us — and its socket
   * is freed.
   */
  heartbeatCheck(): void {
    if (this.heardFrom || this.closed || this.session.state !== SessionState.Open) return;
    const exit = connectionExits.noPong(this.base.pingTimeout);
    this.base.counters.exitedWith(exit.code);
    this.emitError(new Error(exit.message));
    this.terminate();
  }

  private onIdle(): void {
    this.idleTimer = undefined;
    this.closeFor(connectionExits.idle());
  }

  /** The idle timer ends with the open state. */
  private stopIdleTimer(): void {
    this.base.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private armCloseTimer(): void {
    const clock = this.base.clock;
    clock.clearTimeout(this.closeTimer);
    // A peer that never answers our Close, or never closes TCP, loses its socket.
    this.closeTimer = clock.setTimeout(() => this.writer.socket.destroy(), this.base.closeTimeout).unref();
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal the socket's 'error' (a reset, a broken pipe): the 'close' that follows reports 1006. */
  socketError(error: Error): void {
    this.emitError(error);
  }

  /** @internal the socket's 'close'. */
  socketClosed(): void {
    this.closed = true;
    this.writer.closed();
    this.base.clock.clearTimeout(this.closeTimer);
    this.stopIdleTimer();
    this.session.transportClosed();
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    const code = this.session.receivedCloseCode ?? CloseCode.Abnormal;
    this.base.counters.closedWith(code);
    const reason = this.session.receivedCloseReason;
    this.gone(code, reason);
    this.emit('close', code, reason);
  }

  /** The connection is gone, just before its 'close' event (a subclass does its bookkeeping). */
  protected gone(_code: number, _reason: string): void {}
}

function controlPayload(data: string | Buffer): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (payload.length > 125) throw new RangeError('a control frame payload is at most 125 bytes (RFC 6455 §5.5)');
  return payload;
}
