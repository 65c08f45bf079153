// RFC 6455 §5.2 framing of what the server sends: unmasked (§5.1), minimal
// length encodings. Round trips go encoder → masked by the test's own
// client-frame helper → decoder, so neither side checks only itself.
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/protocol/constants.js';
import { FrameDecoder, type FrameDecoderOptions, type FrameHandler } from '../../../src/protocol/frame-decoder.js';
import { COPY_LIMIT, encodeFrame, encodeHeader, encodeTextFrame, headerSize, writeHeader, frameHead } from '../../../src/protocol/frame-encoder.js';
import type { ProtocolError } from '../../../src/protocol/errors.js';
import { hex, pattern, toHex } from '../helpers/bytes.js';
import { bytewise, randomChunks } from '../helpers/chunking.js';
import { maskServerFrame } from '../helpers/client-frame.js';
import { rng } from '../helpers/prng.js';

function decodeAll(chunks: Buffer[], options?: FrameDecoderOptions): { frames: { opcode: number; fin: boolean; payload: Buffer }[]; errors: ProtocolError[] } {
  const frames: { opcode: number; fin: boolean; payload: Buffer }[] = [];
  const errors: ProtocolError[] = [];
  const handler: FrameHandler = {
    onFrame: (opcode, fin, data, start, end) => frames.push({ opcode, fin, payload: data.subarray(start, end) }),
    onError: (e) => errors.push(e),
  };
  const decoder = new FrameDecoder(handler, options);
  for (const c of chunks) decoder.push(c);
  return { frames, errors };
}

const TWO_32_PLUS_1 = 2 ** 32 + 1;

describe('frame encoder: §5.2 header sizes and bytes', () => {
  it('§5.2 headerSize: 7-bit up to 125, 16-bit 126–65535, 64-bit from 65536', () => {
    expect([0, 1, 125, 126, 65535, 65536, TWO_32_PLUS_1].map(headerSize)).toEqual([2, 2, 2, 4, 4, 10, 10]);
  });

  it('§5.2 encodeHeader bytes: FIN, opcode, no mask bit (§5.1), minimal length form', () => {
    const cases: [opcode: number, length: number, fin: boolean, header: string][] = [
      [Opcode.Text, 0, true, '81 00'],
      [Opcode.Binary, 125, true, '82 7d'],
      [Opcode.Binary, 126, false, '02 7e 00 7e'],
      [Opcode.Continuation, 65535, true, '80 7e ff ff'],
      [Opcode.Binary, 65536, true, '82 7f 00 00 00 00 00 01 00 00'],
      [Opcode.Binary, TWO_32_PLUS_1, true, '82 7f 00 00 00 01 00 00 00 01'],
      [Opcode.Close, 2, true, '88 02'],
      [Opcode.Pong, 5, true, '8a 05'],
    ];
    for (const [opcode, length, fin, want] of cases) {
      expect(toHex(encodeHeader(opcode, fin, length)), `opcode ${opcode} length ${length}`).toBe(want);
    }
  });

  it('§5.2 writeHeader writes at an offset and returns the header length', () => {
    const into = Buffer.alloc(16, 0xee);
    expect(writeHeader(into, 3, frameHead(Opcode.Text, true), 300)).toBe(4);
    expect(toHex(into.subarray(0, 9))).toBe('ee ee ee 81 7e 01 2c ee ee');
  });

  it('§5.7 encodeFrame gives the RFC\'s unmasked "Hello" and 256-byte / 64 KiB binary frames byte for byte', () => {
    expect(encodeFrame(Opcode.Text, true, Buffer.from('Hello'))).toEqual(hex('0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f'));
    expect(encodeFrame(Opcode.Ping, true, Buffer.from('Hello'))).toEqual(hex('0x89 0x05 0x48 0x65 0x6c 0x6c 0x6f'));
    expect(encodeFrame(Opcode.Text, false, Buffer.from('Hel'))).toEqual(hex('0x01 0x03 0x48 0x65 0x6c'));
    expect(encodeFrame(Opcode.Continuation, true, Buffer.from('lo'))).toEqual(hex('0x80 0x02 0x6c 0x6f'));
    const p256 = pattern(256);
    expect(encodeFrame(Opcode.Binary, true, p256)).toEqual(Buffer.concat([hex('0x82 0x7E 0x0100'), p256]));
    const p64k = pattern(65536);
    expect(encodeFrame(Opcode.Binary, true, p64k)).toEqual(Buffer.concat([hex('0x82 0x7F 0x0000000000010000'), p64k]));
  });

  it('§5.2 encodeFrame copies the payload (the caller may reuse its buffer) and accepts a plain Uint8Array', () => {
    const payload = new Uint8Array([1, 2, 3]);
    const frame = encodeFrame(Opcode.Binary, true, payload);
    payload[0] = 99;
    expect(toHex(frame)).toBe('82 03 01 02 03');
  });

  it('COPY_LIMIT is a size a whole frame can be built for', () => {
    expect(COPY_LIMIT).toBeGreaterThan(125);
    expect(encodeFrame(Opcode.Binary, true, pattern(COPY_LIMIT)).length).toBe(COPY_LIMIT + 4);
  });
});

describe('frame encoder: §5.2 round trips through the decoder', () => {
  for (const length of [0, 1, 125, 126, 65535, 65536]) {
    it(`§5.2 length ${length}: encode → mask (test helper) → decode gives the payload back, whole and in random chunks`, () => {
      const payload = pattern(length, length & 0xff);
      const wire = maskServerFrame(encodeFrame(Opcode.Binary, true, payload), [0x12, 0x34, 0x56, 0x78]);
      expect(wire.length).toBe(headerSize(length) + 4 + length);
      const r = rng(length);
      for (const chunks of [[Buffer.from(wire)], randomChunks(wire, r, 1000), randomChunks(wire, r, 3)]) {
        const { frames, errors } = decodeAll(chunks);
        expect(errors).toEqual([]);
        expect(frames).toHaveLength(1);
        expect(frames[0].opcode).toBe(Opcode.Binary);
        expect(frames[0].fin).toBe(true);
        expect(frames[0].payload.equals(payload)).toBe(true);
      }
      // The unmasked frame as a client decoder (requireMask: false) reads it.
      const { frames } = decodeAll([encodeFrame(Opcode.Binary, true, payload)], { requireMask: false });
      expect(frames[0].payload.equals(payload)).toBe(true);
    });
  }

  it('§5.2 length 2^32+1 (64-bit form, high word 1): the header carries exactly that length', () => {
    // 4 GiB of payload is not allocated: the header is read back by the test's
    // own §5.2 reading, and by the decoder through its size limit, which it
    // checks at the header (1009 one byte below the announced length).
    const header = encodeHeader(Opcode.Binary, true, TWO_32_PLUS_1);
    expect(header.length).toBe(10);
    expect(header[1]).toBe(127);
    expect(header.readBigUInt64BE(2)).toBe(2n ** 32n + 1n);
    const masked = maskServerFrame(header);
    expect(toHex(masked)).toBe('82 ff 00 00 00 01 00 00 00 01 37 fa 21 3d');
    const below = decodeAll([Buffer.from(masked)], { maxPayload: TWO_32_PLUS_1 - 1 });
    expect(below.errors.map((e) => e.closeCode)).toEqual([1009]);
    expect(below.frames).toEqual([]);
  });

  it('§5.6 encodeTextFrame with multibyte UTF-8 (2-, 3-, 4-byte code points) round-trips, across the 7/16/64-bit length forms', () => {
    const samples = ['', 'Hello', 'héllo wörld', '€ 日本語', '𝄞🎉 emoji', 'é'.repeat(63), 'é'.repeat(64), '日'.repeat(21845), '𝄞'.repeat(16384), 'a€𝄞'.repeat(9000)];
    for (const s of samples) {
      const byteLength = Buffer.byteLength(s);
      const frame = encodeTextFrame(s, byteLength);
      expect(frame.length).toBe(headerSize(byteLength) + byteLength);
      expect(frame.subarray(0, headerSize(byteLength))).toEqual(encodeHeader(Opcode.Text, true, byteLength));
      expect(frame.subarray(headerSize(byteLength)).toString('utf8')).toBe(s);
      const masked = maskServerFrame(frame);
      const { frames, errors } = decodeAll(masked.length < 100 ? bytewise(masked) : [masked]);
      expect(errors).toEqual([]);
      expect(frames[0].opcode).toBe(Opcode.Text);
      expect(frames[0].payload.toString('utf8')).toBe(s);
    }
  });
});
