// Masked client frames for the benchmarks and the tests that reuse them, built
// with the reference masker so the bench input does not depend on the code it
// measures: one frame (maskedFrame, closeFrame), or a buffer of `count` frames
// with `payloadSize`-byte payloads for the decoder (buildClientFrames).
import { randomBytes } from 'node:crypto';
import { FrameBits, Opcode } from '../../src/protocol/constants.js';
import { headerSize, writeHeader, frameHead } from '../../src/protocol/frame-encoder.js';
import { maskReference } from '../../src/protocol/mask.js';

export interface FrameBatch {
  bytes: Buffer;
  count: number;
  payloadSize: number;
  /** The unmasked payload of frame i is pattern(i, size). */
  opcode: number;
}

/** A client frame (FIN set; RSV1 too when `compressed`, RFC 7692), masked with `mask` (§5.3), in one buffer. */
export function maskedFrame(opcode: number, payload: Buffer, mask: Buffer, compressed = false): Buffer {
  const hl = headerSize(payload.length);
  const frame = Buffer.allocUnsafe(hl + 4 + payload.length);
  writeHeader(frame, 0, frameHead(opcode, true) | (compressed ? FrameBits.Rsv1 : 0), payload.length);
  frame[1] |= 0x80;
  mask.copy(frame, hl, 0, 4);
  payload.copy(frame, hl + 4);
  maskReference(frame, mask, hl + 4, frame.length);
  return frame;
}

/** A masked Close frame with status 1000 (§5.5.1). */
export function closeFrame(): Buffer {
  const payload = Buffer.from([0x03, 0xe8]);
  return maskedFrame(Opcode.Close, payload, randomBytes(4));
}

export function payloadPattern(index: number, size: number): Buffer {
  const p = Buffer.allocUnsafe(size);
  for (let j = 0; j < size; j++) p[j] = (index * 31 + j) & 0xff;
  return p;
}

/** Frames totalling about `totalBytes`, at least one. Ping for payload 0, else binary. */
export function buildClientFrames(payloadSize: number, totalBytes: number): FrameBatch {
  const opcode = payloadSize === 0 ? Opcode.Ping : Opcode.Binary;
  const frameSize = headerSize(payloadSize) + 4 + payloadSize;
  const count = Math.max(1, Math.floor(totalBytes / frameSize));
  const bytes = Buffer.allocUnsafe(count * frameSize);
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  // One pattern for all frames keeps the build fast at 64 MiB; the index
  // varies the mask so frames differ.
  const pattern = payloadPattern(1, payloadSize);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const hl = writeHeader(bytes, at, frameHead(opcode, true), payloadSize);
    bytes[at + 1] |= 0x80;
    mask[0] = i & 0xff;
    mask.copy(bytes, at + hl);
    at += hl + 4;
    pattern.copy(bytes, at);
    maskReference(bytes, mask, at, at + payloadSize);
    at += payloadSize;
  }
  return { bytes, count, payloadSize, opcode };
}

/** Views of `bytes` in pieces of `size` (no copy), as a socket would deliver them. */
export function chunk(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, Math.min(i + size, bytes.length)));
  return out;
}
