// The micro benchmarks' own inputs and send path (bench/micro/), checked for
// correctness: a bench that measured a decoder producing wrong payloads, or
// an encoder producing wrong frames, would measure nothing. Same code as
// `npm run bench`, smaller sizes.
import { describe, expect, it } from 'vitest';
import { buildClientFrames, chunk, payloadPattern } from '../../../bench/harness/client-frames.js';
import { verifyDecode } from '../../../bench/micro/decoder.js';
import { sendPath } from '../../../bench/micro/encoder.js';
import { maskReference, unmask } from '../../../src/protocol/mask.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { WriteBatch } from '../../../src/io/write-batch.js';
import { parseServerFrames } from '../helpers/server-frames.js';

const SIZES = [0, 16, 125, 1024, 64 * 1024, 1024 * 1024];

describe('bench case 1: the decoder bench\'s frames decode to the right payloads', () => {
  for (const size of SIZES) {
    it(`payload ${size} B, in 16 KiB and 1,337-byte chunks`, () => {
      const batch = buildClientFrames(size, Math.max(3 * (size + 14), 64 * 1024));
      expect(batch.count).toBeGreaterThanOrEqual(1);
      // verifyDecode throws on a wrong payload, opcode, FIN or frame count.
      for (const chunkSize of [16 * 1024, 1337]) verifyDecode(batch, chunkSize);
      expect(chunk(batch.bytes, 1337).reduce((n, c) => n + c.length, 0)).toBe(batch.bytes.length);
    });
  }

  it('verifyDecode fails on a corrupted payload (the check can fail)', () => {
    const batch = buildClientFrames(125, 4096);
    batch.bytes[batch.bytes.length - 1] ^= 1;
    expect(() => verifyDecode(batch, 1337)).toThrow(/decoded wrong/);
  });
});

describe('bench case 2: the mask bench\'s fast path equals the reference at its sizes', () => {
  for (const size of [16, 64, 125, 1024, 16 * 1024, 64 * 1024]) {
    it(`${size} B at offset 1`, () => {
      const data = payloadPattern(7, size + 1).subarray(1);
      const a = Buffer.from(data);
      const b = Buffer.from(data);
      maskReference(a, Buffer.from([0x37, 0xfa, 0x21, 0x3d]), 0, size);
      const unaligned = Buffer.alloc(size + 1).subarray(1);
      b.copy(unaligned);
      unmask(unaligned, 0x37, 0xfa, 0x21, 0x3d, 0, size);
      expect(unaligned.equals(a)).toBe(true);
    });
  }
});

describe('bench case 3: the send path the encoder bench times produces the right frames', () => {
  for (const size of SIZES) {
    it(`payload ${size} B, binary and text`, () => {
      const out: Buffer[] = [];
      const sink = { write: (b: Buffer) => out.push(Buffer.from(b)) };
      const batch = new WriteBatch();
      const payload = payloadPattern(3, size);
      const text = 'é'.repeat(size >> 1);
      sendPath(batch, payload, 20, sink);
      sendPath(batch, text, 20, sink);
      const frames = parseServerFrames(Buffer.concat(out));
      expect(frames).toHaveLength(40);
      for (const f of frames.slice(0, 20)) {
        expect([f.opcode, f.fin]).toEqual([Opcode.Binary, true]);
        expect(f.payload.equals(payload)).toBe(true);
      }
      for (const f of frames.slice(20)) {
        expect([f.opcode, f.fin]).toEqual([Opcode.Text, true]);
        expect(f.payload.toString('utf8')).toBe(text);
      }
    });
  }
});
