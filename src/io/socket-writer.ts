// The write side of one connection, and the flow control it implies: frames
// are laid out into a write batch (write-batch.ts) and the socket is corked
// from the first frame until the end of the incoming chunk that caused it, or
// the end of the tick, so everything sent meanwhile — replies, sends from a
// timer, any number of publishes — leaves in one socket write; large payloads
// go uncopied between the batched bytes under the same cork, and so do a
// publication's frames, shared by all its subscribers; a socket that does not
// empty is handed copies instead of views of shared slabs. It knows how
// many bytes wait (bufferedAmount), tells a sender when that passes the
// high-water mark (SendStatus.Backpressure), says when they have drained, and
// stops reading from a peer that does not read what we send — judged once the
// loop iteration's writes are done, so that a peer that does read is not
// stopped after every large answer.
import type { Socket } from 'node:net';
import { COPY_LIMIT } from '../protocol/frame-encoder.js';
import type { FrameSink } from '../protocol/frame-sink.js';
import { WriteBatch, type ByteSink } from './write-batch.js';

/**
 * What became of a message handed to a connection: written or queued
 * (Success), queued with more than the high-water mark now waiting
 * (Backpressure: wait for 'drain'), or not sent at all (Dropped: the
 * connection is closing, or a limit or policy refused it). `ws`-style
 * `send()` returns `status === Success`.
 */
export const SendStatus = {
  Success: 0,
  Backpressure: 1,
  Dropped: 2,
} as const;
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

/** What the writer tells its connection. */
export interface WriterHost {
  /** The bytes that were waiting when a send reported Backpressure have been written. */
  onDrain(): void;
}

// State bits, one field: every idle connection carries them.
/** The socket is corked and a flush is due: at the end of the receive, or on the next tick. */
const BATCHING = 1;
/** A send reported Backpressure: tell the host when the buffer empties. */
const NEED_DRAIN = 2;
/** An empty write is queued whose callback tells when the buffer has emptied. */
const WATCHING_DRAIN = 4;
/** Reading stopped because the peer does not read what we send (TCP pushes back on it). */
const READ_PAUSED = 8;
/** Reading stopped by the application (pause()). */
const USER_PAUSED = 16;
/** Past the high-water mark after a receive: whether the peer keeps up is judged at the end of the loop iteration. */
const CHECK_DUE = 32;

const EMPTY = Buffer.alloc(0);

/**
 * Slab views a socket may hold while it never empties, before what it is
 * handed is copied (see SocketWriter.write): node:tls reports a write done
 * only in the loop's check phase, so a socket that keeps up still holds its
 * first writes when a second chunk of the same iteration is answered.
 */
const MAX_VIEWS = 4;

function flushLater(writer: SocketWriter): void {
  writer.flush();
}

/** Writers whose peer is judged once this loop iteration's writes are done; one immediate for all of them. */
let dueChecks: SocketWriter[] = [];

function runDueChecks(): void {
  const writers = dueChecks;
  dueChecks = [];
  for (const writer of writers) writer.checkPeer();
}

export class SocketWriter implements FrameSink, ByteSink {
  readonly socket: Socket;
  private readonly host: WriterHost;
  private readonly highWaterMark: number;
  /** Frames waiting for the end of the chunk (or tick) that caused them; made on the first send. */
  private batch: WriteBatch | undefined;
  private flags = 0;
  /** Views of shared slabs handed to the socket since it last held nothing (see write). */
  private views = 0;

  constructor(socket: Socket, host: WriterHost, highWaterMark: number) {
    this.socket = socket;
    this.host = host;
    this.highWaterMark = highWaterMark;
  }

  /** Bytes accepted for sending that the socket has not written yet. */
  get bufferedAmount(): number {
    return this.socket.writableLength + (this.batch?.length ?? 0);
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /**
   * Starts handling an incoming chunk: everything written until endReceive
   * leaves in one batch. Returns whether a batch was already open (a nested
   * call), to pass to endReceive.
   */
  beginReceive(): boolean {
    if (this.flags & BATCHING) return true;
    this.flags |= BATCHING;
    // Corked too, though the batch is one write: over TLS, uncorking at the
    // end lets node:tls take the writes of chunks decrypted in a row
    // together (measured: 1.6× the 32-byte echoes per second without it).
    this.socket.cork();
    return false;
  }

  endReceive(wasBatching: boolean): void {
    if (!wasBatching) this.flush();
    // Backpressure on the peer: while it does not read our answers, we do not
    // read its requests, so neither side's buffers grow without bound.
    if (this.flags & (READ_PAUSED | CHECK_DUE) || this.socket.destroyed) return;
    const buffered = this.socket.writableLength;
    if (buffered < this.highWaterMark) return;
    if (buffered >= 2 * this.highWaterMark) {
      this.pauseForPeer();
      return;
    }
    // Not yet: node:tls reports every write done only in the loop's check
    // phase, however much the kernel took at once, so a large answer is
    // still "waiting" here even when the peer reads everything. Stopping now
    // made each large echo over TLS a pause, a write of its own, an empty
    // write to watch it and a resume: 64 KiB × 16 in flight on 64
    // connections, 1.1 write calls per message (`ws`: 0.2) and 1.4× the CPU
    // per message of judging at the end of the iteration (0.26 writes).
    // The immediate runs after node's own (native ones first), when what
    // remains is what the kernel did not take; twice the mark stops reading
    // at once, so what one iteration can add stays bounded.
    this.flags |= CHECK_DUE;
    if (dueChecks.length === 0) setImmediate(runDueChecks);
    dueChecks.push(this);
  }

  /** @internal The end of the loop iteration after a receive left the high-water mark passed: stop reading if it still is. */
  checkPeer(): void {
    this.flags &= ~CHECK_DUE;
    if (!(this.flags & READ_PAUSED) && this.socket.writableLength >= this.highWaterMark && !this.socket.destroyed) this.pauseForPeer();
  }

  /** The peer does not read what we send: stop reading it until our buffer has drained. */
  private pauseForPeer(): void {
    this.flags |= READ_PAUSED;
    this.socket.pause();
    this.watchDrain();
  }

  /** Hands the batch to the socket and uncorks it: what this chunk or tick caused leaves in one write. */
  flush(): void {
    if (!(this.flags & BATCHING)) return;
    this.flags &= ~BATCHING;
    this.writeBatch();
    this.socket.uncork();
  }

  /** Flushes, then ends our side of TCP once everything is written (§7.1.1: the server closes first). */
  end(): void {
    this.flush();
    this.socket.end();
  }

  /** The socket is gone: no drain will come. */
  closed(): void {
    this.flags &= ~NEED_DRAIN;
  }

  // FrameSink: the session's frames.
  frame(head: number, payload: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (payload.length <= COPY_LIMIT) {
      this.openBatch().appendFrame(head, payload, this);
      return;
    }
    // The header ends the batch and the payload follows it under the same
    // cork: one write, and the payload is not copied.
    this.openBatch().appendHeader(head, payload.length, this);
    this.writeAfterBatch(payload);
  }

  textFrame(head: number, text: string, byteLength: number): void {
    if (this.socket.destroyed) return;
    if (byteLength <= COPY_LIMIT) {
      // Encoded straight into the batch: no intermediate buffer.
      this.openBatch().appendText(head, text, byteLength, this);
      return;
    }
    this.frame(head, Buffer.from(text, 'utf8'));
  }

  /** Frames encoded once for many connections (a publication's), never written again: batched by reference, uncopied. */
  encoded(frames: Buffer): void {
    if (this.socket.destroyed) return;
    this.openBatch().appendShared(frames, this);
  }

  /**
   * What a message just handed over amounts to: Success, or Backpressure
   * once the bytes waiting reach the high-water mark (the host then hears
   * onDrain when they are written).
   */
  status(): SendStatus {
    if (this.bufferedAmount < this.highWaterMark) return SendStatus.Success;
    this.flags |= NEED_DRAIN;
    this.watchDrain();
    return SendStatus.Backpressure;
  }

  /**
   * @internal The batch's way to the socket (ByteSink). What a batch hands
   * on is a view of a slab that other connections' batches, or other
   * publications, were cut from too, and the socket holds that view, and the
   * whole slab behind it, until the peer has read it: a peer that does not
   * read would hold a 64 KiB slab per write (a send() loop over 50
   * connections: 6 MiB queued for one held 318 MiB of slabs). So once the
   * socket has held bytes through MAX_VIEWS writes in a row, each further
   * write is a copy of exactly its bytes. A peer that reads empties the socket
   * within a loop iteration or two, and its writes stay uncopied.
   */
  write(bytes: Buffer): void {
    const socket = this.socket;
    if (socket.writableLength === 0) {
      this.views = 0;
    } else if (this.views >= MAX_VIEWS) {
      const copy = Buffer.allocUnsafeSlow(bytes.length);
      bytes.copy(copy);
      socket.write(copy);
      return;
    }
    this.views++;
    socket.write(bytes);
  }

  /** Stops reading from the peer at the application's request. */
  pauseReading(): void {
    this.flags |= USER_PAUSED;
    this.socket.pause();
  }

  /** Reads again after pauseReading(), unless the outgoing buffer still holds reading back. */
  resumeReading(): void {
    this.flags &= ~USER_PAUSED;
    if (!(this.flags & READ_PAUSED)) this.socket.resume();
  }

  /**
   * The batch to append to, the socket corked. Outside a receive (a send
   * from a timer, a publish), it is flushed on the next tick, so a loop of
   * sends still leaves in one write.
   */
  private openBatch(): WriteBatch {
    if (!(this.flags & BATCHING)) {
      this.flags |= BATCHING;
      this.socket.cork();
      process.nextTick(flushLater, this);
    }
    return (this.batch ??= new WriteBatch());
  }

  /** Passes the batched frames to the socket, ahead of whatever is written next. */
  private writeBatch(): void {
    const batch = this.batch;
    if (batch !== undefined && batch.length > 0) {
      if (this.socket.destroyed) batch.clear();
      else batch.writeTo(this);
    }
  }

  /**
   * Writes a large buffer right behind what is batched, uncopied. The socket
   * is corked (openBatch), so both still leave in the flush's one writev.
   */
  private writeAfterBatch(bytes: Buffer | Uint8Array): void {
    this.writeBatch();
    this.socket.write(bytes);
  }

  /** Queues an empty write: its callback runs once everything queued before it is written. */
  private watchDrain(): void {
    if (this.flags & WATCHING_DRAIN || this.socket.destroyed) return;
    this.flags |= WATCHING_DRAIN;
    // After the batch, so the callback waits for its bytes too.
    this.writeBatch();
    // A bound callback only when backpressure happens, not one per connection.
    this.socket.write(EMPTY, (error?: Error | null) => this.onWriteDone(error));
  }

  private onWriteDone(error?: Error | null): void {
    this.flags &= ~WATCHING_DRAIN;
    if (error != null || this.socket.destroyed) return;
    if (this.socket.writableLength >= this.highWaterMark) {
      this.watchDrain();
      return;
    }
    if (this.flags & READ_PAUSED) {
      this.flags &= ~READ_PAUSED;
      if (!(this.flags & USER_PAUSED)) this.socket.resume();
    }
    if (this.flags & NEED_DRAIN) {
      this.flags &= ~NEED_DRAIN;
      this.host.onDrain();
    }
  }
}
