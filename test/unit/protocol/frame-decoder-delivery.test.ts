// RFC 6455 §5.2 base framing, §5.5 control frames, §5.7 examples: the frame
// decoder fed hex fixtures whole, split at every byte offset, one byte at a
// time and in seeded random chunk sizes, which must all give the same frames;
// each payload a view of the chunk it arrived in (unmasked in place). What it
// refuses, its limits and stop() are in frame-decoder.test.ts.
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/protocol/constants.js';
import { FrameDecoder, type FrameDecoderOptions } from '../../../src/protocol/frame-decoder.js';
import { hex, pattern } from '../helpers/bytes.js';
import { bytewise, splitAt } from '../helpers/chunking.js';
import { clientFrame, RFC_MASK, text, xorMask } from '../helpers/client-frame.js';
import { expectAllChunkings, expected, feed, Recorder, summarize } from '../helpers/frame-recorder.js';
import { rng } from '../helpers/prng.js';

const PAYLOAD_256 = pattern(256, 1);
const PAYLOAD_64K = pattern(65536, 2);

// The §5.7 examples, byte for byte. The RFC prints them unmasked (server to
// client) except "Hello" and the Pong; a server must receive masked frames,
// so each unmasked one is also given in the masked form a client would send
// with the §5.7 key 37 fa 21 3d ("Hel" → 7f 9f 4d, "lo" → 5b 95).
const FIXTURES: { name: string; wire: Buffer; options?: FrameDecoderOptions; frames: [number, boolean, Uint8Array][] }[] = [
  { name: '§5.7 single-frame masked text "Hello"', wire: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), frames: [[Opcode.Text, true, text('Hello')]] },
  {
    name: '§5.7 single-frame unmasked text "Hello" (requireMask: false, the client side)',
    wire: hex('0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f'),
    options: { requireMask: false },
    frames: [[Opcode.Text, true, text('Hello')]],
  },
  {
    name: '§5.7 fragmented unmasked text "Hel" + "lo" (requireMask: false)',
    wire: hex('0x01 0x03 0x48 0x65 0x6c 0x80 0x02 0x6c 0x6f'),
    options: { requireMask: false },
    frames: [
      [Opcode.Text, false, text('Hel')],
      [Opcode.Continuation, true, text('lo')],
    ],
  },
  {
    name: '§5.7 fragmented text "Hel" + "lo", masked with 37 fa 21 3d',
    wire: hex('01 83 37 fa 21 3d 7f 9f 4d   80 82 37 fa 21 3d 5b 95'),
    frames: [
      [Opcode.Text, false, text('Hel')],
      [Opcode.Continuation, true, text('lo')],
    ],
  },
  { name: '§5.7 unmasked ping "Hello" (requireMask: false)', wire: hex('0x89 0x05 0x48 0x65 0x6c 0x6c 0x6f'), options: { requireMask: false }, frames: [[Opcode.Ping, true, text('Hello')]] },
  { name: '§5.7 ping "Hello", masked', wire: hex('89 85 37 fa 21 3d 7f 9f 4d 51 58'), frames: [[Opcode.Ping, true, text('Hello')]] },
  { name: '§5.7 masked pong "Hello"', wire: hex('0x8a 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58'), frames: [[Opcode.Pong, true, text('Hello')]] },
  {
    name: '§5.7 256-byte unmasked binary, 16-bit length 7E 01 00 (requireMask: false)',
    wire: Buffer.concat([hex('0x82 0x7E 0x0100'), PAYLOAD_256]),
    options: { requireMask: false },
    frames: [[Opcode.Binary, true, PAYLOAD_256]],
  },
  {
    name: '§5.7 256-byte binary, 16-bit length, masked',
    wire: Buffer.concat([hex('82 FE 01 00 37 fa 21 3d'), xorMask(PAYLOAD_256, RFC_MASK)]),
    frames: [[Opcode.Binary, true, PAYLOAD_256]],
  },
  {
    name: '§5.2 empty masked text and empty Close',
    wire: hex('81 80 37 fa 21 3d   88 80 01 02 03 04'),
    frames: [
      [Opcode.Text, true, new Uint8Array(0)],
      [Opcode.Close, true, new Uint8Array(0)],
    ],
  },
  {
    name: '§5.4 a ping between two fragments, 125-byte (largest 7-bit) and 126-byte (smallest 16-bit) payloads',
    wire: Buffer.concat([
      clientFrame({ opcode: Opcode.Binary, fin: false, payload: pattern(125, 3) }),
      clientFrame({ opcode: Opcode.Ping, payload: pattern(125, 4), mask: [1, 2, 3, 4] }),
      clientFrame({ opcode: Opcode.Continuation, payload: pattern(126, 5), mask: [0xff, 0, 0xff, 0] }),
    ]),
    frames: [
      [Opcode.Binary, false, pattern(125, 3)],
      [Opcode.Ping, true, pattern(125, 4)],
      [Opcode.Continuation, true, pattern(126, 5)],
    ],
  },
];

describe('FrameDecoder: §5.7 fixtures in every chunking', () => {
  for (const [i, f] of FIXTURES.entries()) {
    it(`${f.name}: same frames whole, split at every offset, bytewise and in random chunks`, () => {
      const runs = expectAllChunkings(f.wire, expected(f.frames), f.options, 1000 + i);
      expect(runs).toBeGreaterThan(f.wire.length);
    });
  }

  it('§5.7 64 KiB binary with the 64-bit length 7F 00 00 00 00 00 01 00 00, unmasked (requireMask: false) and masked', () => {
    const unmasked = Buffer.concat([hex('0x82 0x7F 0x0000000000010000'), PAYLOAD_64K]);
    const masked = Buffer.concat([hex('82 FF 00 00 00 00 00 01 00 00 37 fa 21 3d'), xorMask(PAYLOAD_64K, RFC_MASK)]);
    const want = expected([[Opcode.Binary, true, PAYLOAD_64K]]);
    // Every offset in the 14-byte header region and the tail, every 997th in between.
    const opts = { stride: 997, edge: 40, randomRuns: 6, maxChunk: 3000 };
    expectAllChunkings(unmasked, want, { requireMask: false }, 7, opts);
    expectAllChunkings(masked, want, undefined, 8, opts);
    expectAllChunkings(masked, want, undefined, 9, { ...opts, stride: 1 << 30, randomRuns: 2, maxChunk: 64 });
  });

  it('§5.2 the whole §5.7 set back to back in one stream, in every chunking', () => {
    const masked = FIXTURES.filter((f) => f.options === undefined);
    const wire = Buffer.concat(masked.map((f) => f.wire));
    expectAllChunkings(wire, expected(masked.flatMap((f) => f.frames)), undefined, 11);
  });

  it('§5.2 many frames in one chunk are all delivered, in order (and in random chunkings)', () => {
    const r = rng(12);
    const frames: [number, boolean, Uint8Array][] = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      const length = i % 50 === 0 ? r.int(126, 400) : r.int(0, 40);
      const opcode = i % 7 === 0 ? Opcode.Ping : i % 2 === 0 ? Opcode.Text : Opcode.Binary;
      const payload = r.bytes(Math.min(length, opcode === Opcode.Ping ? 125 : length));
      frames.push([opcode, true, payload]);
      parts.push(clientFrame({ opcode, payload, mask: [r.int(0, 255), r.int(0, 255), r.int(0, 255), r.int(0, 255)] }));
    }
    const wire = Buffer.concat(parts);
    const { recorder } = feed([Buffer.from(wire)]);
    expect(summarize(recorder)).toEqual(expected(frames));
    expectAllChunkings(wire, expected(frames), undefined, 13, { stride: 101, edge: 8, randomRuns: 10, maxChunk: 300 });
  });

  it('§5.2 a frame is delivered on the push that carries its last byte, not later', () => {
    const wire = Buffer.concat([
      clientFrame({ opcode: Opcode.Text, payload: text('abc') }),
      clientFrame({ opcode: Opcode.Ping }),
      clientFrame({ opcode: Opcode.Binary, payload: pattern(130) }),
    ]);
    const ends = [6 + 3, 6 + 3 + 6, 6 + 3 + 6 + 8 + 130];
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder);
    const deliveredAt: number[] = [];
    let pushed = 0;
    recorder.after = () => deliveredAt.push(pushed);
    for (const chunk of bytewise(wire)) {
      pushed++;
      decoder.push(chunk);
    }
    expect(deliveredAt).toEqual(ends);
  });

  it('§5.2 empty chunks anywhere change nothing', () => {
    const wire = FIXTURES[3].wire;
    for (let at = 0; at <= wire.length; at++) {
      const [a, b] = splitAt(wire, at);
      const { recorder } = feed([Buffer.alloc(0), a, Buffer.alloc(0), Buffer.alloc(0), b, Buffer.alloc(0)]);
      expect(summarize(recorder)).toEqual(expected(FIXTURES[3].frames));
    }
  });
});

describe('FrameDecoder: zero-copy views (STYLE.md principle 2)', () => {
  it('§5.2 a frame inside one chunk: the payload is a view of that chunk, unmasked in place', () => {
    const chunk = Buffer.concat([
      clientFrame({ opcode: Opcode.Text, payload: text('Hello') }),
      clientFrame({ opcode: Opcode.Binary, payload: pattern(300) }),
    ]);
    const { recorder } = feed([chunk]);
    const [a, b] = recorder.frames;
    expect(a.payload.buffer).toBe(chunk.buffer);
    expect(a.payload.byteOffset).toBe(chunk.byteOffset + 6);
    expect(a.payload.toString()).toBe('Hello');
    expect(b.payload.buffer).toBe(chunk.buffer);
    expect(b.payload.byteOffset).toBe(chunk.byteOffset + 11 + 8);
    expect(b.payload.equals(pattern(300))).toBe(true);
    // Unmasked in place: the chunk now holds the clear text.
    expect(chunk.subarray(6, 11).toString()).toBe('Hello');
  });

  it('§5.2 a header straddling two chunks with its payload inside the second: the payload is a view of the second chunk', () => {
    const wire = clientFrame({ opcode: Opcode.Binary, payload: pattern(200) });
    for (let at = 1; at < 8; at++) {
      const [a, b] = splitAt(wire, at);
      const { recorder } = feed([a, b]);
      expect(recorder.frames).toHaveLength(1);
      expect(recorder.frames[0].payload.equals(pattern(200))).toBe(true);
      expect(recorder.frames[0].payload.buffer, `split at ${at}`).toBe(b.buffer);
      expect(recorder.frames[0].payload.byteOffset).toBe(b.byteOffset + 8 - at);
    }
  });

  it('§5.2 a header that ends exactly at the end of its chunk, with the payload inside the next: the payload is a view of the next chunk', () => {
    for (const size of [1, 125, 200, 3000, 70_000]) {
      const frame = clientFrame({ opcode: Opcode.Binary, payload: pattern(size, 6) });
      const headerLength = frame.length - size;
      const after = clientFrame({ opcode: Opcode.Text, payload: text('next') });
      const [a, b] = [Buffer.from(frame.subarray(0, headerLength)), Buffer.concat([frame.subarray(headerLength), after])];
      const { recorder } = feed([a, b]);
      expect(recorder.frames).toHaveLength(2);
      expect(recorder.frames[0].payload.equals(pattern(size, 6)), `size ${size}`).toBe(true);
      expect(recorder.frames[0].payload.buffer, `size ${size}`).toBe(b.buffer);
      expect(recorder.frames[0].payload.byteOffset).toBe(b.byteOffset);
      expect(recorder.frames[1].payload.toString()).toBe('next');
    }
  });

  it('§5.2 payloads of several 64 KiB blocks (the SIMD join\'s unit) straddling 16 KiB, 1,337-byte and random chunks, back to back with small frames', () => {
    const big = pattern(200_003, 7);
    const wire = Buffer.concat([
      clientFrame({ opcode: Opcode.Binary, payload: big, mask: [0x01, 0x80, 0xfe, 0x33] }),
      clientFrame({ opcode: Opcode.Text, payload: text('between') }),
      clientFrame({ opcode: Opcode.Binary, payload: pattern(65_537, 8), mask: [0xde, 0xad, 0xbe, 0xef] }),
    ]);
    const want = expected([
      [Opcode.Binary, true, big],
      [Opcode.Text, true, text('between')],
      [Opcode.Binary, true, pattern(65_537, 8)],
    ]);
    for (const size of [16_384, 1337, 65_536, 100_000]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < wire.length; at += size) chunks.push(Buffer.from(wire.subarray(at, at + size)));
      expect(summarize(feed(chunks).recorder), `${size}-byte chunks`).toEqual(want);
    }
    expectAllChunkings(wire, want, undefined, 21, { stride: 1 << 30, edge: 20, randomRuns: 4, maxChunk: 40_000 });
  });

  it('§5.2 a payload straddling chunks is gathered correctly, and earlier views stay valid after later pushes', () => {
    const first = clientFrame({ opcode: Opcode.Text, payload: text('first') });
    const second = clientFrame({ opcode: Opcode.Binary, payload: pattern(1000, 9), mask: [9, 8, 7, 6] });
    const wire = Buffer.concat([first, second]);
    const chunks = [Buffer.from(wire.subarray(0, 11 + 100)), Buffer.from(wire.subarray(111, 600)), Buffer.from(wire.subarray(600))];
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder);
    decoder.push(chunks[0]);
    expect(recorder.frames).toHaveLength(1);
    const kept = recorder.frames[0].payload;
    decoder.push(chunks[1]);
    decoder.push(chunks[2]);
    expect(kept.toString()).toBe('first');
    expect(recorder.frames[1].payload.equals(pattern(1000, 9))).toBe(true);
  });
});

describe('FrameDecoder: requireMask: false (client side)', () => {
  it('§5.1 a masked frame is still unmasked when masks are not required', () => {
    const { recorder } = feed([hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')], { requireMask: false });
    expect(recorder.frames[0].payload.toString()).toBe('Hello');
  });
});
