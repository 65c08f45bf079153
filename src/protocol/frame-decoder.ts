// RFC 6455 §5.2 base framing, decoded as a resumable state machine over the
// chunks a socket delivers.
//
// Why it looks like this: this is the hot path. A frame whose header and
// payload lie inside one chunk costs no allocation at all: its payload is a
// range of the chunk, unmasked in place, handed to the handler as (chunk,
// start, end). Not even a subarray view is made here — creating one costs
// more than decoding a small frame — so the handler makes the one view a
// message needs, and none for what it only inspects.
//
// Bytes are copied only when a header or a payload straddles chunks, and
// then once: the pieces are kept as views (still masked) and, when the last
// one comes, copied into one buffer of the payload's size and unmasked on the
// way (from 2 KiB through the WebAssembly SIMD kernel's scratch area; see
// joinUnmasked). A payload that starts exactly at a chunk boundary and lies
// inside that chunk is a view like any other. Memory held for a frame
// is what actually arrived, never what a (possibly hostile) header announced.
// Chunks are never reused, so every view stays valid for as long as the user
// keeps it.
//
// Frame rules (mask bit, RSV, opcode, control frames) and the size limit are
// checked as soon as the header is complete, before any payload is buffered.
// Message rules (continuation order, UTF-8) belong to the MessageAssembler.
import { constants } from 'node:buffer';
import { MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { ProtocolError, protocolErrors } from './errors.js';
import { joinUnmasked, unmask } from './mask.js';

export interface FrameHandler {
  /**
   * One complete frame; its payload, already unmasked, is data[start..end).
   * `data` is the received chunk (or, for a payload that straddled chunks,
   * a buffer of its own): bytes outside the range belong to other frames.
   */
  onFrame(opcode: number, fin: boolean, data: Buffer, start: number, end: number): void;
  /** The first violation; the decoder then discards all further input. */
  onError(error: ProtocolError): void;
}

export interface FrameDecoderOptions {
  /** Largest message in bytes (sum of a message's frames); larger → 1009. Default 16 MiB. */
  maxPayload?: number;
  /** Server side (default): client frames must be masked (§5.1). A client decodes unmasked frames. */
  requireMask?: boolean;
  /**
   * permessage-deflate was negotiated: RSV1 may mark the first frame of a
   * data message (RFC 7692 §6). Without it every RSV bit is a violation.
   */
  allowRsv1?: boolean;
}

/** A header's size in bytes, known from its second byte: §5.2 length forms plus the mask. */
function headerLengthOf(b1: number): number {
  const len7 = b1 & 0x7f;
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}

const enum State {
  Header = 0,
  Payload = 1,
  Failed = 2,
}

const EMPTY = Buffer.alloc(0);
/** 2 fixed bytes + 8 extended length + 4 mask. */
const MAX_HEADER = 14;

export class FrameDecoder {
  private readonly handler: FrameHandler;
  private readonly maxPayload: number;
  private readonly requireMask: boolean;
  private readonly allowRsv1: boolean;
  /** Wire bytes a compressed message may take: its inflated size is checked while inflating. */
  private readonly compressedLimit: number;

  private state: State = State.Header;
  // A header that straddles chunks is gathered here; allocated the first
  // time one does, so an idle connection carries no buffer for it.
  private headerBytes: Buffer = EMPTY;
  private headerFill = 0;
  // The frame whose payload is being gathered across chunks.
  private opcode = 0;
  private fin = false;
  private masked = false;
  private m0 = 0;
  private m1 = 0;
  private m2 = 0;
  private m3 = 0;
  /** Pieces of a straddling payload, still masked, and their total so far (no array until one straddles: idle connections are many). */
  private pieces: Buffer[] | undefined;
  private payloadFill = 0;
  private payloadLength = 0;
  // Bytes announced so far by the frames of the current data message, so a
  // fragmented message is refused at the header that pushes it over the limit.
  private messageBytes = 0;
  /** The current data message's first frame had RSV1 (it is compressed). */
  private messageCompressed = false;
  /** The RSV1 bit of the frame last passed to onFrame (only ever set with allowRsv1). */
  rsv1 = false;

  constructor(handler: FrameHandler, options: FrameDecoderOptions = {}) {
    this.handler = handler;
    // A message must fit in one Buffer, whatever the option says.
    this.maxPayload = Math.min(options.maxPayload ?? 16 * 1024 * 1024, constants.MAX_LENGTH);
    this.requireMask = options.requireMask ?? true;
    this.allowRsv1 = options.allowRsv1 ?? false;
    // Deflate can grow incompressible data a little (5 bytes per 16 KiB stored block, and some): that much slack on the wire.
    this.compressedLimit = Math.min(this.maxPayload + Math.ceil(this.maxPayload / 1024) + 1024, constants.MAX_LENGTH);
  }

  /** True once a violation was reported; input is then discarded. */
  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Nothing of a frame is held: what was pushed so far was whole frames (a client of bytes that must be whole asks). */
  get atFrameBoundary(): boolean {
    return this.state === State.Header && this.headerFill === 0;
  }

  /** Stop decoding: everything pushed afterwards is discarded (§7.1.7 "fail the connection"). */
  stop(): void {
    this.state = State.Failed;
    this.pieces = undefined;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    if (this.state !== State.Header) {
      if (this.state === State.Failed) return;
      pos = this.continuePayload(chunk);
      if (pos < 0) return;
    } else if (this.headerFill > 0) {
      pos = this.continueHeader(chunk);
      if (pos < 0) return;
    }

    // The fast loop: whole headers inside this chunk.
    while (pos < end) {
      const avail = end - pos;
      if (avail < 2) {
        this.stashHeader(chunk, pos, end);
        return;
      }
      const headerLength = headerLengthOf(chunk[pos + 1]);
      if (avail < headerLength) {
        this.stashHeader(chunk, pos, end);
        return;
      }
      const length = this.readHeader(chunk, pos);
      if (length < 0) return;
      pos = this.beginPayload(chunk, pos + headerLength, length);
      if (pos < 0) return;
    }
  }

  /**
   * The header is read; its payload starts at chunk[pos]. Delivers a view when
   * the payload lies inside the chunk, else starts gathering a copy. Returns
   * the position after the payload, or -1 when the chunk is used up or the
   * handler stopped the decoder.
   */
  private beginPayload(chunk: Buffer, pos: number, length: number): number {
    const end = chunk.length;
    if (end - pos >= length) {
      const stop = pos + length;
      if (this.masked && length > 0) unmask(chunk, this.m0, this.m1, this.m2, this.m3, pos, stop);
      this.handler.onFrame(this.opcode, this.fin, chunk, pos, stop);
      // The handler may have failed or stopped us (e.g. after a Close frame).
      return this.state === State.Header ? stop : -1;
    }
    this.payloadLength = length;
    this.payloadFill = 0;
    this.gather(chunk, pos, end);
    this.state = State.Payload;
    return -1;
  }

  /** Keeps chunk[from..to) as the next piece of the straddling payload. */
  private gather(chunk: Buffer, from: number, to: number): void {
    if (to === from) return;
    // A chunk that is all payload (most of them, for a large frame) is kept as it is: no view to make.
    (this.pieces ??= []).push(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
    this.payloadFill += to - from;
  }

  /** Gathers the rest of a straddling payload; returns the next position or -1. */
  private continuePayload(chunk: Buffer): number {
    const need = this.payloadLength - this.payloadFill;
    if (this.payloadFill === 0 && need <= chunk.length) {
      // The header ended its chunk and the payload lies inside this one: a view, no copy.
      this.state = State.Header;
      return this.beginPayload(chunk, 0, need);
    }
    const take = need < chunk.length ? need : chunk.length;
    this.gather(chunk, 0, take);
    if (this.payloadFill < this.payloadLength) return -1;
    const pieces = this.pieces ?? [];
    this.pieces = undefined;
    this.state = State.Header;
    const payload = this.join(pieces);
    this.handler.onFrame(this.opcode, this.fin, payload, 0, payload.length);
    return this.state === State.Header ? take : -1;
  }

  /** The one copy of a straddling payload: its pieces joined and unmasked in one pass. */
  private join(pieces: Buffer[]): Buffer {
    if (!this.masked) return Buffer.concat(pieces, this.payloadLength);
    return joinUnmasked(pieces, this.payloadLength, this.m0, this.m1, this.m2, this.m3);
  }

  /** Completes a straddling header; returns the next position or -1. */
  private continueHeader(chunk: Buffer): number {
    const hb = this.headerBytes;  // allocated by stashHeader
    let pos = 0;
    // Need the second byte to know the header's length.
    while (this.headerFill < 2 && pos < chunk.length) hb[this.headerFill++] = chunk[pos++];
    if (this.headerFill < 2) return -1;
    const headerLength = headerLengthOf(hb[1]);
    const take = Math.min(headerLength - this.headerFill, chunk.length - pos);
    chunk.copy(hb, this.headerFill, pos, pos + take);
    this.headerFill += take;
    pos += take;
    if (this.headerFill < headerLength) return -1;
    this.headerFill = 0;
    const length = this.readHeader(hb, 0);
    if (length < 0) return -1;
    return this.beginPayload(chunk, pos, length);
  }

  private stashHeader(chunk: Buffer, pos: number, end: number): void {
    if (this.headerBytes.length === 0) this.headerBytes = Buffer.alloc(MAX_HEADER);
    chunk.copy(this.headerBytes, 0, pos, end);
    this.headerFill = end - pos;
  }

  /**
   * Reads and checks a complete header starting at buf[pos]; sets the
   * frame fields and returns the payload length, or fails and returns -1.
   */
  private readHeader(buf: Buffer, pos: number): number {
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const masked = (b1 & 0x80) !== 0;
    if ((b0 & 0x70) !== 0) {
      // RFC 7692 §6.1: RSV1 only with deflate negotiated, only on the first frame of a data message.
      if ((b0 & 0x30) !== 0 || !this.allowRsv1) return this.fail(protocolErrors.rsv());
      if (opcode === Opcode.Continuation || opcode >= 0x8) return this.fail(protocolErrors.rsv1Misplaced());
    }
    if (this.requireMask && !masked) return this.fail(protocolErrors.unmasked());

    let length = b1 & 0x7f;
    let at = pos + 2;
    if (length === 126) {
      length = (buf[at] << 8) | buf[at + 1];
      at += 2;
      if (length < 126) return this.fail(protocolErrors.nonMinimalLength());
    } else if (length === 127) {
      const high = buf.readUInt32BE(at);
      const low = buf.readUInt32BE(at + 4);
      at += 8;
      if (high & 0x80000000) return this.fail(protocolErrors.lengthMsb());
      // Past 2^53 a JS number loses integers; any limit refuses it far sooner.
      length = high * 0x100000000 + low;
      if (length < 0x10000) return this.fail(protocolErrors.nonMinimalLength());
    }

    if (opcode >= 0x8) {
      if (opcode > Opcode.Pong) return this.fail(protocolErrors.opcode(opcode));
      if (!fin) return this.fail(protocolErrors.fragmentedControl());
      if (length > MAX_CONTROL_PAYLOAD) return this.fail(protocolErrors.controlTooLong());
    } else {
      if (opcode > Opcode.Binary) return this.fail(protocolErrors.opcode(opcode));
      // Ordering errors are the assembler's to report; here only the budget.
      let total = length;
      if (opcode === Opcode.Continuation) total += this.messageBytes;
      else this.messageCompressed = (b0 & 0x40) !== 0;
      if (total > this.maxPayload && (!this.messageCompressed || total > this.compressedLimit)) return this.fail(protocolErrors.tooBig(this.maxPayload));
      this.messageBytes = fin ? 0 : total;
    }
    if (this.allowRsv1) this.rsv1 = (b0 & 0x40) !== 0;

    this.opcode = opcode;
    this.fin = fin;
    this.masked = masked;
    if (masked) {
      this.m0 = buf[at];
      this.m1 = buf[at + 1];
      this.m2 = buf[at + 2];
      this.m3 = buf[at + 3];
    }
    return length;
  }

  private fail(error: ProtocolError): number {
    this.stop();
    this.handler.onError(error);
    return -1;
  }
}
