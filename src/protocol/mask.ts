// RFC 6455 §5.3: payload byte i is XORed with mask byte (i mod 4).
//
// Implementations that tests hold against each other: a reference byte loop,
// the definition itself; a JavaScript fast path that XORs 32 bits at a time
// through a Uint32Array laid over the buffer (received payloads are views at
// arbitrary offsets into socket chunks, so it walks bytes up to a 4-byte
// boundary, then words, then the tail bytes); and from SIMD_THRESHOLD bytes a
// WebAssembly SIMD kernel (mask-simd.ts) where the engine has one.
//
// The Uint32Array covers the whole ArrayBuffer and is kept for the next call:
// the frames of one chunk share its ArrayBuffer, and creating a typed-array
// view (~50 ns) costs as much as unmasking 250 bytes. Keeping it holds on to
// the last chunk's memory until another is unmasked; that is one chunk for
// the whole process.
import { endianness } from 'node:os';
import { randomFillSync } from 'node:crypto';
import { simd } from './mask-simd.js';

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Below this many bytes the Uint32Array view costs more to set up than the
 * word loop saves (measured: the two cross at about 64 bytes on x86-64).
 */
const WORD_THRESHOLD = 64;

/**
 * From here on the SIMD kernel's copy–XOR–copy clearly beats the word loop.
 * In a tight loop over one cached buffer they cross at ~512 B, but each pass
 * makes two typed-array views (~50 ns each), and profiles of the 1 KiB echo
 * and of the decoder over out-of-cache payloads show no gain at 1 KiB.
 */
const SIMD_THRESHOLD = 2048;

/** Whether payloads of SIMD_THRESHOLD bytes and more are masked with WebAssembly SIMD. */
export const simdMasking = simd !== undefined;

/** The mask as a little-endian word, its low byte applying first (WebAssembly memory is little-endian on every host). */
function maskWord(m0: number, m1: number, m2: number, m3: number): number {
  return m0 | (m1 << 8) | (m2 << 16) | (m3 << 24);
}

let wordsBuffer: ArrayBufferLike | undefined;
let words32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** A Uint32Array over all of `buffer` (its whole 4-byte words), reused while the buffer is the same. */
function wordsOf(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (buffer !== wordsBuffer) {
    words32 = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordsBuffer = buffer;
  }
  return words32;
}

/** The definition: XOR `length` bytes of `buf` from `start`, in place. */
export function maskReference(buf: Uint8Array, mask: Uint8Array, start = 0, end = buf.length): void {
  for (let i = start; i < end; i++) buf[i] ^= mask[(i - start) & 3];
}

/**
 * XOR buf[start..end) with the 4-byte mask in place, the mask's byte 0
 * applying at `start`. The mask is given as its 4 bytes. The fastest path
 * this engine has: SIMD from SIMD_THRESHOLD bytes, else the word loop.
 */
export function unmask(buf: Uint8Array, m0: number, m1: number, m2: number, m3: number, start: number, end: number): void {
  if (simd !== undefined && end - start >= SIMD_THRESHOLD) {
    // The SIMD part is a multiple of 64 bytes, so the tail starts at mask byte 0 again.
    start += simd.xor(buf, start, end, maskWord(m0, m1, m2, m3));
  }
  unmaskWords(buf, m0, m1, m2, m3, start, end);
}

/** The JavaScript word loop alone (the bench's "JS 32-bit XOR" floor, and what unmask runs below SIMD_THRESHOLD). */
export function unmaskWords(buf: Uint8Array, m0: number, m1: number, m2: number, m3: number, start: number, end: number): void {
  const length = end - start;
  if (length < WORD_THRESHOLD) {
    let i = start;
    const stop4 = end - 3;
    for (; i < stop4; i += 4) {
      buf[i] ^= m0;
      buf[i + 1] ^= m1;
      buf[i + 2] ^= m2;
      buf[i + 3] ^= m3;
    }
    if (i < end) buf[i++] ^= m0;
    if (i < end) buf[i++] ^= m1;
    if (i < end) buf[i] ^= m2;
    return;
  }
  // Lead bytes until the absolute address is 4-aligned: mask bytes 0..lead-1.
  let i = start;
  const lead = (4 - ((buf.byteOffset + start) & 3)) & 3;
  if (lead > 0) buf[i++] ^= m0;
  if (lead > 1) buf[i++] ^= m1;
  if (lead > 2) buf[i++] ^= m2;
  // From here byte j of each word gets mask byte (lead + j) & 3: the mask
  // rotated left by `lead`.
  let b0 = m0;
  let b1 = m1;
  let b2 = m2;
  let b3 = m3;
  for (let r = 0; r < lead; r++) {
    const t = b0;
    b0 = b1;
    b1 = b2;
    b2 = b3;
    b3 = t;
  }
  const word = LITTLE_ENDIAN
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  const words = (end - i) >>> 2;
  const view = wordsOf(buf.buffer);
  // buf.byteOffset + i is 4-aligned here, so it is a word index of the view.
  let w = (buf.byteOffset + i) >>> 2;
  const last = w + words;
  const stop = last - 3;
  for (; w < stop; w += 4) {
    view[w] ^= word;
    view[w + 1] ^= word;
    view[w + 2] ^= word;
    view[w + 3] ^= word;
  }
  for (; w < last; w++) view[w] ^= word;
  i += words << 2;
  if (i < end) buf[i++] ^= b0;
  if (i < end) buf[i++] ^= b1;
  if (i < end) buf[i] ^= b2;
}

/**
 * The one copy of a payload that straddled chunks: its masked `pieces`
 * joined into a new Buffer of `length` bytes (their total), unmasked on the
 * way, mask byte 0 at its first byte. From SIMD_THRESHOLD bytes the pieces are
 * gathered in the SIMD kernel's scratch area, XORed there and copied out: two
 * copies of each byte, where joining and then unmasking in place takes three.
 */
export function joinUnmasked(pieces: readonly Uint8Array[], length: number, m0: number, m1: number, m2: number, m3: number): Buffer {
  if (simd !== undefined && length >= SIMD_THRESHOLD) {
    const out = Buffer.allocUnsafe(length);
    simd.joinXor(pieces, out, maskWord(m0, m1, m2, m3));
    return out;
  }
  const out = Buffer.concat(pieces, length);
  unmaskWords(out, m0, m1, m2, m3, 0, length);
  return out;
}

/** Convenience form over a 4-byte mask buffer. */
export function unmaskWith(buf: Uint8Array, mask: Uint8Array, start = 0, end = buf.length): void {
  unmask(buf, mask[0], mask[1], mask[2], mask[3], start, end);
}

/** Where masking keys come from (§5.3 requires them unpredictable); injectable for deterministic tests. */
export type MaskSource = (into: Uint8Array) => void;

export const randomMaskSource: MaskSource = (into) => {
  randomFillSync(into, 0, 4);
};
