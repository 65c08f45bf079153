// The WebSocket connection as a pure state machine: bytes in (receive), frames
// out (through its FrameSink), events up (through the host). It owns the
// frame decoder, the message assembler and the closing handshake (§7), and
// every frame sent goes through it — data messages too — so the rules of what
// may be sent when (nothing after a Close, text vs binary, RSV1 for a
// compressed message) are decided in this one place. It knows nothing of sockets or
// timers, so tests and fuzzers drive it directly.
//
// Closing (§7.1): Open → Closing when we send a Close first, then Closed when
// the peer's Close arrives; Open → Closed directly when the peer closes first
// (we echo its Close) or when we fail the connection (§7.1.7). In both Closed
// paths the server then ends TCP first (§7.1.1); the host does that.
import { CloseCode, FrameBits, Opcode } from './constants.js';
import { encodeClosePayload, parseClosePayload } from './close.js';
import { ProtocolError, protocolErrors } from './errors.js';
import { FrameDecoder, type FrameHandler } from './frame-decoder.js';
import { frameHead } from './frame-encoder.js';
import type { FrameSink } from './frame-sink.js';
import { MessageAssembler } from './message-assembler.js';
import { isUtf8 } from './utf8.js';

export const SessionState = {
  Open: 0,
  /** We sent a Close and wait for the peer's. */
  Closing: 1,
  /** The closing handshake is done, or the connection failed; no more frames either way. */
  Closed: 2,
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** First bytes of the frames a server sends unfragmented (§5.2). */
const TEXT = frameHead(Opcode.Text, true);
const BINARY = frameHead(Opcode.Binary, true);
const CLOSE = frameHead(Opcode.Close, true);
const PING = frameHead(Opcode.Ping, true);
const PONG = frameHead(Opcode.Pong, true);

/**
 * permessage-deflate for one connection (RFC 7692), as the session uses it:
 * the zlib contexts live behind this (src/extensions/), the frame rules here.
 */
export interface MessageCompression {
  /** Messages shorter than this many bytes are sent uncompressed. */
  readonly threshold: number;
  /** The message's payload compressed, the 00 00 ff ff tail removed (§7.2.1). */
  compress(payload: Uint8Array): Buffer;
  /** Connections with the same key can be sent the same compressedFresh() output (the window it was made with). */
  readonly shareKey: number;
  /** The payload compressed with a fresh window, for every connection with this shareKey (a publication). */
  compressFresh(payload: Uint8Array): Buffer;
  /** A message compressed for many connections at once (with a fresh window) was sent on this one. */
  sharedSent(): void;
  /** The message inflated (§7.2.2); throws a ProtocolError: 1007 when it does not inflate, 1009 past `limit` bytes. */
  decompress(payload: Buffer, limit: number): Buffer;
  /** The connection is gone: give every context back. */
  close(): void;
}

/**
 * One message sent to many connections (a topic's publication): framed once,
 * compressed once per window size, and each connection takes the form its
 * session needs.
 */
export interface SharedMessage {
  readonly payload: Buffer;
  readonly binary: boolean;
  /** The whole frame, the same bytes for every connection and never changed, when it is small (≤ COPY_LIMIT); undefined for a large one. */
  readonly frame: Buffer | undefined;
  /** Whether connections that negotiated permessage-deflate get it compressed. */
  readonly compress: boolean;
  /** The payload compressed with a fresh window, made by `make` the first time a connection with this shareKey asks. */
  compressedFor(shareKey: number, make: (payload: Buffer) => Buffer): Buffer;
}

/** What the session tells the I/O layer around it. Its frames go to a FrameSink. */
export interface SessionHost {
  onMessage(data: Buffer, binary: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** We sent a Close first; the host bounds the wait for the peer's. */
  onCloseSent(): void;
  /** The session is Closed: the host ends the transport. `error` is set when we failed it. */
  onClosed(error: ProtocolError | undefined): void;
}

export interface SessionOptions {
  /** Largest message in bytes (all its fragments); larger → 1009. Default 16 MiB. */
  maxPayload?: number;
  maxFragments?: number;
  /** permessage-deflate, when the handshake negotiated it: RSV1 is then allowed on the first frame of a message. */
  compression?: MessageCompression;
}

export class WebSocketSession implements FrameHandler {
  private readonly host: SessionHost;
  private readonly sink: FrameSink;
  private readonly decoder: FrameDecoder;
  private readonly assembler: MessageAssembler;
  private readonly maxPayload: number;
  /** Undefined unless permessage-deflate was negotiated: then nothing here touches zlib. */
  readonly compression: MessageCompression | undefined;
  state: SessionState = SessionState.Open;
  /** Who sent the first Close: 'server', 'client', or undefined while none was. */
  closeInitiator: 'server' | 'client' | undefined;
  /** The code and reason of the peer's Close (1005 when it carried none); undefined until one arrives. */
  receivedCloseCode: number | undefined;
  receivedCloseReason = '';
  /** The code of the Close we sent, if any. */
  sentCloseCode: number | undefined;

  constructor(host: SessionHost, sink: FrameSink, options: SessionOptions = {}) {
    this.host = host;
    this.sink = sink;
    const maxPayload = options.maxPayload ?? 16 * 1024 * 1024;
    this.maxPayload = maxPayload;
    this.compression = options.compression;
    this.decoder = new FrameDecoder(this, { maxPayload, allowRsv1: options.compression !== undefined });
    this.assembler = new MessageAssembler({ maxPayload, maxFragments: options.maxFragments });
  }

  /** Bytes from the peer. Everything after a Close or a failure is discarded. */
  receive(chunk: Buffer): void {
    this.decoder.push(chunk);
  }

  // FrameHandler, called by the decoder.
  onFrame(opcode: number, fin: boolean, data: Buffer, start: number, end: number): void {
    if (opcode < Opcode.Close) {
      let message: Buffer | undefined;
      try {
        message = this.assembler.push(opcode, fin, data, start, end, this.decoder.rsv1);
        if (message !== undefined && this.assembler.compressed) message = this.inflate(message);
      } catch (error) {
        if (error instanceof ProtocolError) return this.fail(error);
        throw error;
      }
      if (message !== undefined) this.host.onMessage(message, this.assembler.binary);
      return;
    }
    // Control frames are rare: a view of their own.
    const payload = data.subarray(start, end);
    if (opcode === Opcode.Ping) {
      // §5.5.2: answer with the same payload, unless we already sent a Close.
      if (this.state === SessionState.Open) this.sink.frame(PONG, payload);
      this.host.onPing(payload);
    } else if (opcode === Opcode.Pong) {
      this.host.onPong(payload);
    } else {
      this.receiveClose(payload);
    }
  }

  onError(error: ProtocolError): void {
    this.fail(error);
  }

  /** A compressed message's bytes: inflated under maxPayload, text then checked as UTF-8 (RFC 7692 §6.2). */
  private inflate(payload: Buffer): Buffer {
    // RSV1 is only allowed (by the decoder) when compression was negotiated.
    const message = this.compression!.decompress(payload, this.maxPayload);
    if (!this.assembler.binary && !isUtf8(message)) throw protocolErrors.invalidUtf8();
    return message;
  }

  private receiveClose(payload: Buffer): void {
    let code: number;
    let reason: string;
    try {
      ({ code, reason } = parseClosePayload(payload));
    } catch (error) {
      if (error instanceof ProtocolError) return this.fail(error);
      throw error;
    }
    this.receivedCloseCode = code;
    this.receivedCloseReason = reason;
    // §5.5.1: nothing the peer sends after its Close is meaningful.
    this.decoder.stop();
    if (this.state === SessionState.Open) {
      this.closeInitiator = 'client';
      // §5.5.1: answer with a Close, echoing the code it sent (none if it sent none).
      this.writeClose(code, '');
    }
    this.state = SessionState.Closed;
    this.host.onClosed(undefined);
  }

  /**
   * Starts the closing handshake (§7.1.2). Returns false when a Close was
   * already sent or the session is closed. Throws for a code or reason that
   * may not be sent.
   */
  close(code: number = CloseCode.Normal, reason = ''): boolean {
    const payload = encodeClosePayload(code, reason);
    if (this.state !== SessionState.Open) return false;
    this.closeInitiator = 'server';
    this.sentCloseCode = code;
    this.sink.frame(CLOSE, payload);
    this.state = SessionState.Closing;
    this.host.onCloseSent();
    return true;
  }

  /**
   * Fails the connection (§7.1.7): sends a Close with the error's code unless
   * one was already sent, discards all further input, and closes.
   */
  fail(error: ProtocolError): void {
    if (this.state === SessionState.Closed) return;
    this.compression?.close();
    this.decoder.stop();
    this.assembler.reset();
    if (this.state === SessionState.Open) {
      this.closeInitiator = 'server';
      this.writeClose(error.closeCode, '');
    }
    this.state = SessionState.Closed;
    this.host.onClosed(error);
  }

  /** The transport is gone: stop decoding; no frame can be sent any more. */
  transportClosed(): void {
    this.decoder.stop();
    this.state = SessionState.Closed;
    this.compression?.close();
  }

  /** Whether data messages may be sent: only while Open (§5.5.1: nothing after our Close). */
  get canSend(): boolean {
    return this.state === SessionState.Open;
  }

  /**
   * §5.6: a text message, `byteLength` bytes of UTF-8. Returns false, sending
   * nothing, unless Open. Compressed (RFC 7692) when negotiated, at least the
   * threshold long, and `compress` is not false.
   */
  sendText(text: string, byteLength: number, compress = true): boolean {
    if (this.state !== SessionState.Open) return false;
    const compression = this.compression;
    if (compression !== undefined && compress && byteLength >= compression.threshold) {
      this.sink.frame(TEXT | FrameBits.Rsv1, compression.compress(Buffer.from(text, 'utf8')));
    } else this.sink.textFrame(TEXT, text, byteLength);
    return true;
  }

  /**
   * §5.6: a message of these bytes, binary or (the caller vouching that they
   * are UTF-8) text. Returns false, sending nothing, unless Open.
   */
  sendBytes(payload: Uint8Array, binary: boolean, compress = true): boolean {
    if (this.state !== SessionState.Open) return false;
    const compression = this.compression;
    if (compression !== undefined && compress && payload.length >= compression.threshold) {
      this.sink.frame((binary ? BINARY : TEXT) | FrameBits.Rsv1, compression.compress(payload));
    } else this.sink.frame(binary ? BINARY : TEXT, payload);
    return true;
  }

  /**
   * A message sent to many connections (a publication), in the form this
   * connection takes: the copy compressed for its window when it negotiated
   * compression and the message is long enough, else the shared frame, else
   * a header of its own before the shared payload. Returns false unless Open.
   */
  sendShared(message: SharedMessage): boolean {
    const compression = this.compression;
    if (compression !== undefined && message.compress && message.payload.length >= compression.threshold) {
      return this.sendCompressed(message.compressedFor(compression.shareKey, (p) => compression.compressFresh(p)), message.binary);
    }
    if (message.frame !== undefined) return this.sendEncoded(message.frame);
    return this.sendBytes(message.payload, message.binary, false);
  }

  /**
   * A message already compressed with a fresh window for many connections (a
   * publication): sent with RSV1, and our own compressor's window, which no
   * longer matches the peer's, starts afresh. Only with compression negotiated.
   */
  sendCompressed(compressed: Buffer, binary: boolean): boolean {
    if (this.state !== SessionState.Open || this.compression === undefined) return false;
    this.sink.frame((binary ? BINARY : TEXT) | FrameBits.Rsv1, compressed);
    this.compression.sharedSent();
    return true;
  }

  /**
   * Whole data messages already framed, e.g. encoded once for every
   * subscriber of a topic. The caller vouches that they are complete, valid
   * frames that need no extension bits this session did not negotiate, and
   * that they are not changed afterwards: the sink may send them uncopied.
   */
  sendEncoded(frames: Buffer): boolean {
    if (this.state !== SessionState.Open) return false;
    this.sink.encoded(frames);
    return true;
  }

  ping(payload: Buffer): void {
    if (this.state !== SessionState.Open) return;
    this.sink.frame(PING, payload);
  }

  pong(payload: Buffer): void {
    if (this.state !== SessionState.Open) return;
    this.sink.frame(PONG, payload);
  }

  private writeClose(code: number, reason: string): void {
    this.sentCloseCode = code;
    this.sink.frame(CLOSE, encodeClosePayload(code, reason));
  }
}
