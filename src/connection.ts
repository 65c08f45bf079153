// One accepted WebSocket connection: the I/O edge around a WebSocketSession.
// It moves socket bytes into the session, session bytes onto the socket
// (batched, so everything one incoming chunk causes leaves in one write), runs
// the close timer, and gives applications a `ws`-like API.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { CloseCode, Opcode } from './protocol/constants.js';
import { ProtocolError } from './protocol/errors.js';
import { COPY_LIMIT } from './protocol/frame-encoder.js';
import { WriteBatch } from './io/write-batch.js';
import { SessionState, WebSocketSession, type SessionHost } from './protocol/session.js';
import type { RequestHead } from './http/request-head.js';
import type { ServerStats } from './stats.js';

export interface ConnectionOptions {
  maxMessageSize: number;
  maxFragments: number;
  /** send() returns false, and reading pauses, once this many bytes wait to be written. */
  highWaterMark: number;
  /** Hard cap on bytes waiting to be written; past it `bufferPolicy` applies. */
  maxBuffered: number;
  /** 'close': fail with 1008; 'drop': refuse the message (send returns false, nothing queued). */
  bufferPolicy: 'close' | 'drop';
  /** Close (1001) a connection that sent nothing for this long, in ms; 0 = never. */
  idleTimeout: number;
  /** For the message when the heartbeat terminates a silent peer, in ms. */
  pingTimeout: number;
  /** Server-wide counters this connection adds to. */
  stats: ServerStats;
  /** Where an exception from an application handler goes when nobody listens for 'error'. */
  reportHandlerError: (error: Error, connection: Connection) => void;
  /** Called once when the connection is gone, before its 'close' event (the server's bookkeeping). */
  onGone: (connection: Connection) => void;
  /** How long to wait for the peer's Close after ours, and for TCP to end after the handshake. */
  closeTimeout: number;
}

/** What the client asked for, as the server saw it. */
export interface UpgradeRequest extends RequestHead {
  /** The client's address: the TCP peer, or the one a trusted proxy reported. */
  remoteAddress: string;
  /** The TCP peer's port (the proxy's, behind a proxy). */
  remotePort: number;
  /** The TCP peer's address: the proxy's, behind a trusted proxy; else remoteAddress. */
  peerAddress: string;
  /** Subprotocols the client offered, in its order. */
  protocols: string[];
  /** Whether the connection came over TLS. */
  secure: boolean;
}

export interface SendOptions {
  /** Send as a binary message. Default: true for bytes, false for strings. */
  binary?: boolean;
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
}

const EMPTY = Buffer.alloc(0);

const CONNECTION = Symbol('wssd.connection');
type SocketWithConnection = Socket & { [CONNECTION]: Connection };

function onSocketData(this: Socket, chunk: Buffer): void {
  (this as SocketWithConnection)[CONNECTION].receive(chunk);
}

function onSocketClose(this: Socket): void {
  (this as SocketWithConnection)[CONNECTION].socketClosed();
}

function onSocketError(this: Socket, error: Error): void {
  (this as SocketWithConnection)[CONNECTION].socketError(error);
}

// No 'end' listener: sockets here are never half-open (allowHalfOpen is false
// for net/tls servers' sockets, and handleUpgrade turns it off for node:http's),
// so Node ends our side itself when the peer ends TCP.

function flushLater(connection: Connection): void {
  connection.flush();
}

export class Connection extends EventEmitter<ConnectionEvents> implements SessionHost {
  readonly socket: Socket;
  /** The request path (the full request, headers and all, comes with the 'connection' event; not kept here, to keep idle connections small). */
  readonly path: string;
  /** Whether the connection came over TLS. */
  readonly secure: boolean;
  /** The negotiated subprotocol, or '' when none. */
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly session: WebSocketSession;
  private readonly options: ConnectionOptions;
  /** Frames waiting for the end of the chunk (or tick) that caused them; made on the first send. */
  private batch: WriteBatch | undefined;
  /** Frames are being batched and a flush is due: at the end of receive(), or on the next tick. */
  private batching = false;
  /** send() returned false: emit 'drain' when the buffer empties. */
  private needDrain = false;
  /** An empty write is queued whose callback tells when the buffer has emptied. */
  private watchingDrain = false;
  /** Reading stopped because the peer does not read what we send (TCP pushes back on it). */
  private readPaused = false;
  /** Reading stopped by the application (pause()). */
  private userPaused = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Something arrived since the last heartbeat ping. */
  private heardFrom = true;
  /** Messages refused by the 'drop' buffer policy. */
  droppedMessages = 0;
  private closeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closeEmitted = false;

  constructor(socket: Socket, request: UpgradeRequest, protocol: string, options: ConnectionOptions) {
    super();
    this.socket = socket;
    this.path = request.path;
    this.secure = request.secure;
    this.protocol = protocol;
    this.remoteAddress = request.remoteAddress;
    this.remotePort = request.remotePort;
    this.options = options;
    this.session = new WebSocketSession(this, {
      maxMessageSize: options.maxMessageSize,
      maxFragments: options.maxFragments,
    });
    if (options.idleTimeout > 0) {
      this.idleTimer = setTimeout(() => this.onIdle(), options.idleTimeout);
      this.idleTimer.unref();
    }
    // Shared listeners that find their Connection on the socket: no closures
    // per connection (they cost memory on every idle one).
    (socket as SocketWithConnection)[CONNECTION] = this;
    socket.on('data', onSocketData);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
  }

  get readyState(): number {
    if (this.closed) return ReadyState.CLOSED;
    return this.session.state === SessionState.Open ? ReadyState.OPEN : ReadyState.CLOSING;
  }

  /** Bytes accepted by send() (and control frames) that the socket has not written yet. */
  get bufferedAmount(): number {
    return this.socket.writableLength + (this.batch?.length ?? 0);
  }

  /**
   * Feeds bytes from the socket (also the bytes that followed the HTTP head).
   * Everything the session writes while handling them goes out in one batch.
   */
  receive(chunk: Buffer): void {
    this.heardFrom = true;
    this.idleTimer?.refresh();
    const alreadyBatching = this.batching;
    // Corked too, though the batch is one write: over TLS, uncorking at the
    // end lets node:tls take the writes of chunks decrypted in a row
    // together (measured: 1.6× the 32-byte echoes per second without it).
    if (!alreadyBatching) {
      this.batching = true;
      this.socket.cork();
    }
    try {
      this.session.receive(chunk);
    } catch (error) {
      // A handler threw: the peer gets 1011 without details; the error goes to the application.
      this.session.fail(new ProtocolError('WS_ERR_HANDLER', CloseCode.InternalError, 'internal error'));
      const e = error instanceof Error ? error : new Error(String(error));
      if (this.listenerCount('error') > 0) this.emit('error', e);
      else this.options.reportHandlerError(e, this);
    }
    if (!alreadyBatching) {
      this.flush();
      this.socket.uncork();
    }
    // Backpressure on the peer: while it does not read our answers, we do not
    // read its requests, so neither side's buffers grow without bound.
    if (!this.readPaused && this.socket.writableLength >= this.options.highWaterMark && !this.socket.destroyed) {
      this.readPaused = true;
      this.socket.pause();
      this.watchDrain();
    }
  }

  /** Hands the batch to the socket: what this chunk or tick caused leaves in one write. */
  flush(): void {
    if (!this.batching) return;
    this.batching = false;
    this.writeBatch();
  }

  /** Passes the batched frames to the socket, ahead of whatever is written next. */
  private writeBatch(): void {
    const batch = this.batch;
    if (batch !== undefined && batch.length > 0) {
      if (this.socket.destroyed) batch.clear();
      else this.socket.write(batch.take());
    }
  }

  /**
   * The batch to append to. Outside receive() (a send from a timer, say),
   * it is flushed on the next tick, so a loop of sends still leaves in one write.
   */
  private openBatch(): WriteBatch {
    if (!this.batching) {
      this.batching = true;
      process.nextTick(flushLater, this);
    }
    return (this.batch ??= new WriteBatch());
  }

  /** SessionHost: writes bytes for the peer, in order with everything batched before them. */
  write(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    if (bytes.length <= COPY_LIMIT) {
      const batch = this.openBatch();
      const at = batch.reserve(bytes.length, this.socket);
      bytes.copy(batch.buffer, at);
      return;
    }
    this.writeAfterBatch(bytes);
  }

  /**
   * Writes a large buffer right behind the batch, the two corked together so
   * they still leave in one write (one writev; node:tls joins them anyway).
   */
  private writeAfterBatch(bytes: Buffer): void {
    const batch = this.batch;
    if (batch === undefined || batch.length === 0) {
      this.socket.write(bytes);
      return;
    }
    this.socket.cork();
    this.socket.write(batch.take());
    this.socket.write(bytes);
    this.socket.uncork();
  }

  /**
   * Sends a message. Strings go as text, bytes as binary unless `binary` says
   * otherwise. Returns false when the bytes waiting to be written pass the
   * high-water mark (wait for 'drain'), or when the connection is closing and
   * nothing was sent. A payload above 16 KiB is not copied: do not change it
   * until 'drain' or the next tick.
   */
  send(data: string | Buffer | Uint8Array | ArrayBuffer, options?: SendOptions): boolean {
    if (this.session.state !== SessionState.Open || this.socket.destroyed) return false;
    if (typeof data === 'string' && options?.binary !== true) {
      const length = Buffer.byteLength(data, 'utf8');
      if (length <= COPY_LIMIT) {
        if (!this.hasRoomFor(length)) return this.overflow();
        this.options.stats.bytesOut += length;
        this.openBatch().appendText(Opcode.Text, data, length, this.socket);
        return this.afterSend();
      }
      return this.sendBytes(Opcode.Text, Buffer.from(data, 'utf8'));
    }
    const bytes =
      typeof data === 'string'
        ? Buffer.from(data, 'utf8')
        : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.sendBytes(options?.binary === false ? Opcode.Text : Opcode.Binary, bytes);
  }

  private sendBytes(opcode: number, payload: Buffer): boolean {
    if (!this.hasRoomFor(payload.length)) return this.overflow();
    this.options.stats.bytesOut += payload.length;
    if (payload.length <= COPY_LIMIT) {
      this.openBatch().appendFrame(opcode, true, payload, this.socket);
    } else {
      // The header ends the batch and the payload follows it under the same
      // cork: one write, and the payload is not copied.
      this.openBatch().appendHeader(opcode, true, payload.length, this.socket);
      this.writeAfterBatch(payload);
    }
    return this.afterSend();
  }

  /** Whether a message of this size still fits under maxBuffered (headers are within the slack). */
  private hasRoomFor(payloadLength: number): boolean {
    return this.bufferedAmount + payloadLength <= this.options.maxBuffered;
  }

  /**
   * The peer reads slower than we send and the buffer is full. Either refuse
   * this message, or fail the connection with 1008: never queue without bound.
   */
  private overflow(): boolean {
    if (this.options.bufferPolicy === 'drop') {
      this.droppedMessages++;
    } else {
      this.session.close(CloseCode.PolicyViolation, 'send buffer full: the client does not read');
    }
    return false;
  }

  private afterSend(): boolean {
    this.options.stats.messagesOut++;
    if (this.bufferedAmount < this.options.highWaterMark) return true;
    this.needDrain = true;
    this.watchDrain();
    return false;
  }

  /** Queues an empty write: its callback runs once everything queued before it is written. */
  private watchDrain(): void {
    if (this.watchingDrain || this.socket.destroyed) return;
    this.watchingDrain = true;
    // After the batch, so the callback waits for its bytes too.
    this.writeBatch();
    // A bound callback only when backpressure happens, not one per connection.
    this.socket.write(EMPTY, (error?: Error | null) => this.onWriteDone(error));
  }

  private onWriteDone(error?: Error | null): void {
    this.watchingDrain = false;
    if (error != null || this.socket.destroyed) return;
    if (this.socket.writableLength >= this.options.highWaterMark) {
      this.watchDrain();
      return;
    }
    if (this.readPaused) {
      this.readPaused = false;
      if (!this.userPaused) this.socket.resume();
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /**
   * Stops reading from the peer, e.g. while an async handler catches up: no
   * more messages arrive, the socket's receive window fills and TCP pushes
   * back on the client instead of wssd buffering its messages.
   */
  pause(): void {
    this.userPaused = true;
    this.socket.pause();
  }

  /** Reads again after pause() (unless the outgoing buffer still holds reading back). */
  resume(): void {
    this.userPaused = false;
    if (!this.readPaused) this.socket.resume();
  }

  /** Sends a Ping (§5.5.2); the answer arrives as a 'pong' event. */
  ping(data: string | Buffer = Buffer.alloc(0)): void {
    this.session.ping(controlPayload(data));
  }

  /** Sends an unsolicited Pong (§5.5.3), e.g. as a one-way heartbeat. */
  pong(data: string | Buffer = Buffer.alloc(0)): void {
    this.session.pong(controlPayload(data));
  }

  /**
   * Starts the closing handshake: sends a Close and waits (closeTimeout) for
   * the peer's, then ends TCP. The code must be one an endpoint may send
   * (1000, 1001…, 3000–4999) and the reason at most 123 bytes of UTF-8.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    this.session.close(code, reason);
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(): void {
    this.session.transportClosed();
    this.socket.destroy();
  }

  // SessionHost events.
  onMessage(data: Buffer, binary: boolean): void {
    const stats = this.options.stats;
    stats.messagesIn++;
    stats.bytesIn += data.length;
    this.emit('message', binary ? data : data.toString('utf8'), binary);
  }

  onPing(payload: Buffer): void {
    this.emit('ping', payload);
  }

  onPong(payload: Buffer): void {
    this.emit('pong', payload);
  }

  onCloseSent(): void {
    this.stopTimers();
    this.armCloseTimer();
  }

  onClosed(error: ProtocolError | undefined): void {
    // §7.1.1: the server closes TCP first, after the Close has been flushed.
    this.flush();
    this.socket.end();
    this.stopTimers();
    this.armCloseTimer();
    if (error !== undefined) this.emitError(error);
  }

  /**
   * @internal Heartbeat, driven by the server for all connections at once
   * (one timer, not one per connection): ping, and forget having heard from
   * the peer. heartbeatCheck() follows pingTimeout later.
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
    this.emitError(new Error(`no pong within ${this.options.pingTimeout} ms: connection terminated`));
    this.terminate();
  }

  private onIdle(): void {
    this.idleTimer = undefined;
    this.session.close(CloseCode.GoingAway, 'idle timeout');
  }

  /** The idle timer ends with the open state. */
  private stopTimers(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    // A peer that never answers our Close, or never closes TCP, loses its socket.
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.options.closeTimeout);
    this.closeTimer.unref();
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal the socket's 'error' (a reset, a broken pipe): the 'close' that follows reports 1006. */
  socketError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal the socket's 'close'. */
  socketClosed(): void {
    this.closed = true;
    this.needDrain = false;
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.stopTimers();
    this.session.transportClosed();
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    const code = this.session.receivedCloseCode ?? CloseCode.Abnormal;
    this.options.stats.closedWith(code);
    this.options.onGone(this);
    this.emit('close', code, this.session.receivedCloseReason);
  }
}

function controlPayload(data: string | Buffer): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (payload.length > 125) throw new RangeError('a control frame payload is at most 125 bytes (RFC 6455 §5.5)');
  return payload;
}
