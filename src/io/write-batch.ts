// The frames one incoming chunk (or one tick of sends) causes, encoded back to
// back into one buffer and handed to the socket as a single write.
//
// Why: a socket.write() per frame costs more than the frame, even corked
// (Writable's request queue, then writev's array, and node:tls copies the
// pieces into one buffer again before encrypting). Building the batch
// ourselves makes a small frame cost its header and one copy of its payload.
//
// Batches are cut from a slab shared by all connections, the way Node's own
// Buffer pool works, so an idle connection holds no buffer. A batch claims a
// region of the slab and grows in place while its region is the slab's last
// one — the usual case, one connection answering one chunk, is contiguous and
// claims exactly what it uses. When other batches took the slab's edge in
// between (a loop of send() over many connections appends to each in turn),
// the batch moves to the edge and claims twice what it holds, so a
// connection's many small frames in one tick still leave in one write, each
// byte copied about twice at most. A batch handed on is never written again,
// so the socket may hold its view for as long as the peer takes to read it;
// a view holds its whole slab, so a socket that does not empty is handed
// copies after a few views (SocketWriter.write).
//
// Frames encoded once for many connections (a publication's) are not copied
// in: the batch keeps a view of them, behind its own bytes, and extends that
// view while the next shared frame starts where it ends — publications are
// cut back to back from a slab of their own (src/pubsub/publication.ts), so a
// tick of them is one view per subscriber. Copied in, they cost a slab region
// per subscriber per tick: garbage at the rate of subscribers × bytes
// published, tens of MiB between two scavenges, which glibc then keeps (bench
// case 7d, 50 subscribers, 20 publications of 1 KiB every 2 ms: RSS 103 MiB
// against 67 MiB).

import { COPY_LIMIT, headerSize, writeHeader } from '../protocol/frame-encoder.js';

// Larger writes than COPY_LIMIT bypass the batch: a copy would cost more
// than the write it saves. A slab holds at least four of the largest.
const SLAB_SIZE = 4 * COPY_LIMIT;

const EMPTY = Buffer.alloc(0);

let slab: Buffer = EMPTY;
/** Bytes of `slab` handed out; batches only ever grow at this edge. */
let slabUsed = 0;

function newSlab(): void {
  slab = Buffer.allocUnsafe(SLAB_SIZE);
  slabUsed = 0;
}

/** Where a batch goes when it cannot grow in place: the socket, or a bench's discarding writer. */
export interface ByteSink {
  write(bytes: Buffer): unknown;
}

/** The least a batch claims when it moves: room for a few small frames more. */
const MIN_CLAIM = 256;

export class WriteBatch {
  /** The slab this batch lives in; its bytes are buffer[start..end), its claimed room ends at `cap`. */
  buffer: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  private cap = 0;
  /** Shared frames behind the batch's own bytes, uncopied: `sharedLength` bytes from where `shared` starts. */
  private shared: Buffer | undefined;
  private sharedLength = 0;

  get length(): number {
    return this.end - this.start + this.sharedLength;
  }

  /**
   * Makes room for `n` (≤ COPY_LIMIT) more bytes and returns where they go
   * in `this.buffer`; -1 only when the batch would outgrow a slab.
   */
  private grow(n: number): number {
    if (this.end + n > this.cap) {
      if (this.end === this.start) {
        // Empty: start at the slab's edge, or in a new slab.
        if (slabUsed + n > slab.length) newSlab();
        this.buffer = slab;
        this.start = this.end = this.cap = slabUsed;
      }
      if (this.buffer === slab && this.cap === slabUsed && this.end + n <= slab.length) {
        // The slab's last region: extend it by exactly what is needed.
        this.cap = slabUsed = this.end + n;
      } else if (!this.move(n)) {
        return -1;
      }
    }
    const at = this.end;
    this.end = at + n;
    return at;
  }

  /** Moves the batch to the slab's edge with room for `n` more bytes and as many again; false if that outgrows a slab. */
  private move(n: number): boolean {
    const length = this.end - this.start;
    if (length + n > SLAB_SIZE) return false;
    const claim = Math.min(SLAB_SIZE, Math.max(MIN_CLAIM, 2 * (length + n)));
    if (slabUsed + claim > slab.length) newSlab();
    this.buffer.copy(slab, slabUsed, this.start, this.end);
    this.buffer = slab;
    this.start = slabUsed;
    this.end = this.start + length;
    this.cap = slabUsed = this.start + claim;
    return true;
  }

  /** Room for `n` bytes, passing the batch to `sink` first when it would outgrow a slab or shared frames wait; returns where they go in this.buffer. */
  reserve(n: number, sink: ByteSink): number {
    // Bytes of our own go after the shared frames: those leave first.
    if (this.shared !== undefined) this.writeTo(sink);
    const at = this.grow(n);
    if (at >= 0) return at;
    this.writeTo(sink);
    return this.grow(n);
  }

  /** A whole frame (§5.2, unmasked as a server sends it; `head` its first byte): header, then a copy of the payload (≤ COPY_LIMIT). */
  appendFrame(head: number, payload: Uint8Array, sink: ByteSink): void {
    const length = payload.length;
    const hl = headerSize(length);
    const at = this.reserve(hl + length, sink);
    writeHeader(this.buffer, at, head, length);
    this.buffer.set(payload, at + hl);
  }

  /** A whole text frame, the string encoded straight behind its header; `byteLength` is its UTF-8 length (≤ COPY_LIMIT). */
  appendText(head: number, text: string, byteLength: number, sink: ByteSink): void {
    const hl = headerSize(byteLength);
    const at = this.reserve(hl + byteLength, sink);
    writeHeader(this.buffer, at, head, byteLength);
    this.buffer.write(text, at + hl, byteLength, 'utf8');
  }

  /** The header of a frame whose payload the caller writes right after this batch. */
  appendHeader(head: number, payloadLength: number, sink: ByteSink): void {
    const at = this.reserve(headerSize(payloadLength), sink);
    writeHeader(this.buffer, at, head, payloadLength);
  }

  /**
   * Frames encoded once for many connections, which nobody writes again: kept
   * by reference, not copied. Joined to the shared frames before them when
   * they start where those end (publications cut back to back), so a tick of
   * them leaves as one view.
   */
  appendShared(frames: Buffer, sink: ByteSink): void {
    const shared = this.shared;
    if (shared !== undefined) {
      if (frames.buffer === shared.buffer && frames.byteOffset === shared.byteOffset + this.sharedLength) {
        this.sharedLength += frames.length;
        return;
      }
      this.writeTo(sink);
    }
    this.shared = frames;
    this.sharedLength = frames.length;
  }

  /** Hands the batched bytes to `sink` (the batch is then empty): its own frames, then the shared ones, at most two writes. */
  writeTo(sink: ByteSink): void {
    if (this.end > this.start) sink.write(this.buffer.subarray(this.start, this.end));
    this.forget();
    const shared = this.shared;
    if (shared === undefined) return;
    sink.write(this.sharedLength === shared.length ? shared : Buffer.from(shared.buffer, shared.byteOffset, this.sharedLength));
    this.shared = undefined;
    this.sharedLength = 0;
  }

  /** Forgets the batched bytes (the socket is gone). */
  clear(): void {
    this.forget();
    this.shared = undefined;
    this.sharedLength = 0;
  }

  private forget(): void {
    // Room claimed but not used goes back when nothing was claimed after it.
    if (this.buffer === slab && this.cap === slabUsed) slabUsed = this.end;
    this.buffer = EMPTY;
    this.start = this.end = this.cap = 0;
  }
}
