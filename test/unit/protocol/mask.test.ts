// RFC 6455 §5.3 client-to-server masking: the reference loop (the definition)
// and the word-at-a-time fast path held against each other for every length
// 0–64, larger sizes, every alignment of the payload in its ArrayBuffer and
// several keys (STYLE.md principle 8).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { joinUnmasked, maskReference, randomMaskSource, simdMasking, unmask, unmaskWith, unmaskWords } from '../../../src/protocol/mask.js';
import { hex, pattern } from '../helpers/bytes.js';
import { rng } from '../helpers/prng.js';
import { xorMask } from '../helpers/client-frame.js';

const MASKS: readonly (readonly [number, number, number, number])[] = [
  [0x37, 0xfa, 0x21, 0x3d], // the §5.7 key
  [0x00, 0x00, 0x00, 0x00],
  [0xff, 0xff, 0xff, 0xff],
  [0x01, 0x02, 0x04, 0x80],
  [0xde, 0xad, 0xbe, 0xef],
];

// Beyond 0–64: both sides of the SIMD threshold (2048) and of its 64-byte
// runs, and of its 64 KiB scratch block.
const LENGTHS = [...Array.from({ length: 65 }, (_, i) => i), 100, 1000, 2047, 2048, 2049, 2111, 2112, 4096 + 3, 65535, 65536, 65536 + 1, 2 * 65536 + 63];

/** `length` bytes of seeded data at byteOffset `offset` inside a larger ArrayBuffer with guard bytes. */
function placed(length: number, offset: number, seed: number): { view: Uint8Array; whole: Uint8Array } {
  const whole = new Uint8Array(new ArrayBuffer(offset + length + 8));
  whole.set(rng(seed).bytes(whole.length));
  return { view: new Uint8Array(whole.buffer, offset, length), whole };
}

describe('mask (RFC 6455 §5.3)', () => {
  it('§5.3: unmask (fast path) equals maskReference for every length 0–64 and larger sizes, every byteOffset 0–7, several keys', () => {
    for (const length of LENGTHS) {
      for (let offset = 0; offset < 8; offset++) {
        for (const [k, m] of MASKS.entries()) {
          const seed = length * 64 + offset * 8 + k;
          const a = placed(length, offset, seed);
          const b = placed(length, offset, seed);
          const key = Uint8Array.from(m);
          maskReference(a.view, key);
          unmask(b.view, m[0], m[1], m[2], m[3], 0, length);
          // Compare the whole ArrayBuffer: the guard bytes around the view must be untouched too.
          if (Buffer.compare(Buffer.from(a.whole), Buffer.from(b.whole)) !== 0) {
            expect.fail(`length ${length}, byteOffset ${offset}, mask ${m.join(',')}: fast path differs from reference`);
          }
        }
      }
    }
  });

  it('§5.3: the WebAssembly SIMD path runs on this engine, and the JavaScript word loop alone also equals the reference at every length', () => {
    // Node ≥ 20 has WebAssembly SIMD on x86-64 and arm64: if it were missing, the lengths ≥ 2048 above would not test it.
    expect(simdMasking).toBe(true);
    for (const length of LENGTHS) {
      for (let offset = 0; offset < 4; offset++) {
        const m = MASKS[(length + offset) % MASKS.length];
        const a = placed(length, offset, length + offset);
        const b = placed(length, offset, length + offset);
        maskReference(a.view, Uint8Array.from(m));
        unmaskWords(b.view, m[0], m[1], m[2], m[3], 0, length);
        if (Buffer.compare(Buffer.from(a.whole), Buffer.from(b.whole)) !== 0) expect.fail(`length ${length}, byteOffset ${offset}: word loop differs`);
      }
    }
  });

  it('§5.3: without WebAssembly (node --jitless) unmask falls back to the word loop and is still right', () => {
    const script = [
      "import { joinUnmasked, maskReference, simdMasking, unmask } from './src/protocol/mask.ts';",
      'if (simdMasking) throw new Error("SIMD under --jitless?");',
      'for (const n of [0, 7, 64, 2049, 70001]) {',
      '  const a = Buffer.alloc(n + 1).subarray(1); for (let i = 0; i < n; i++) a[i] = i * 13;',
      '  const b = Buffer.from(a); const c = Buffer.alloc(n + 1).subarray(1); b.copy(c);',
      '  maskReference(a, Buffer.from([1, 2, 3, 4])); unmask(c, 1, 2, 3, 4, 0, n);',
      '  if (!a.equals(c)) throw new Error("differs at " + n);',
      '}',
      'const p = Buffer.alloc(70001); for (let i = 0; i < p.length; i++) p[i] = i * 7;',
      'const want = Buffer.from(p); maskReference(want, Buffer.from([1, 2, 3, 4]));',
      'const joined = joinUnmasked([p.subarray(0, 3), p.subarray(3, 66000), p.subarray(66000)], p.length, 1, 2, 3, 4);',
      'if (!joined.equals(want)) throw new Error("joinUnmasked differs");',
      'console.log("ok");',
    ].join('\n');
    const root = new URL('../../../', import.meta.url);
    const out = execFileSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out.trim()).toBe('ok');
  }, 60_000);

  it('§5.3: the mask\'s byte 0 applies at `start`: every start 0–7 and end inside one buffer, bytes outside [start, end) untouched', () => {
    const m = MASKS[0];
    const key = Uint8Array.from(m);
    for (const length of [0, 1, 3, 4, 5, 31, 32, 33, 35, 64, 100, 1000]) {
      for (let start = 0; start < 8; start++) {
        for (let byteOffset = 0; byteOffset < 4; byteOffset++) {
          const seed = length * 100 + start * 10 + byteOffset;
          const a = placed(start + length + 5, byteOffset, seed);
          const b = placed(start + length + 5, byteOffset, seed);
          const original = Buffer.from(a.whole);
          maskReference(a.view, key, start, start + length);
          unmask(b.view, m[0], m[1], m[2], m[3], start, start + length);
          expect(Buffer.from(b.whole).equals(Buffer.from(a.whole)), `length ${length} start ${start} byteOffset ${byteOffset}`).toBe(true);
          // And both equal the definition computed here: XOR with mask[(i - start) % 4].
          const expected = Buffer.from(original);
          const region = expected.subarray(byteOffset + start, byteOffset + start + length);
          region.set(xorMask(region, m));
          expect(Buffer.from(b.whole).equals(expected)).toBe(true);
        }
      }
    }
  });

  it('§5.3: unmask applied twice is the identity (XOR is its own inverse), for every length and alignment', () => {
    for (const length of LENGTHS) {
      for (let offset = 0; offset < 8; offset++) {
        const m = MASKS[(length + offset) % MASKS.length];
        const { view, whole } = placed(length, offset, length ^ (offset << 20));
        const before = Buffer.from(whole);
        unmask(view, m[0], m[1], m[2], m[3], 0, length);
        if (length > 0 && m.some((x) => x !== 0)) expect(Buffer.from(whole).equals(before)).toBe(false);
        unmask(view, m[0], m[1], m[2], m[3], 0, length);
        expect(Buffer.from(whole).equals(before), `length ${length} offset ${offset}`).toBe(true);
      }
    }
  });

  it('§5.3: the fast path\'s reused word view stays right across buffers: alternating ArrayBuffers, views of one ArrayBuffer at every offset, pooled Buffers, odd-sized ArrayBuffers', () => {
    const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    const check = (buf: Buffer, start: number, end: number): void => {
      const want = Buffer.from(buf);
      maskReference(want, key, start, end);
      unmask(buf, 0x37, 0xfa, 0x21, 0x3d, start, end);
      expect(buf.equals(want), `byteOffset ${buf.byteOffset} of ${buf.buffer.byteLength}, [${start}, ${end})`).toBe(true);
    };
    const a = Buffer.from(pattern(4099, 1).buffer.slice(0));
    const b = Buffer.from(new Uint8Array(pattern(4101, 2)).buffer);
    for (let i = 0; i < 40; i++) {
      check(a, i, a.length - i);
      check(b, 3 * i, b.length - 1);
    }
    const shared = Buffer.from(pattern(8192, 3));
    for (let off = 0; off < 16; off++) check(shared.subarray(off, off + 500 + off), 0, 500 + off);
    for (let i = 0; i < 20; i++) {
      const pooled = Buffer.from(pattern(100 + i, i)); // from Node's shared pool: arbitrary byteOffset
      check(pooled, 0, pooled.length);
    }
  });

  it('§5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58, and unmasks back', () => {
    const hello = Buffer.from('Hello');
    const a = Buffer.from(hello);
    maskReference(a, hex('37 fa 21 3d'));
    expect(a).toEqual(hex('7f 9f 4d 51 58'));
    const b = Buffer.from(hello);
    unmask(b, 0x37, 0xfa, 0x21, 0x3d, 0, b.length);
    expect(b).toEqual(hex('7f 9f 4d 51 58'));
    unmaskWith(b, hex('37 fa 21 3d'));
    expect(b.toString()).toBe('Hello');
  });

  it('§5.3: unmaskWith (4-byte key form) equals unmask over a start/end range', () => {
    for (const length of [7, 40, 1000]) {
      const a = rng(length).bytes(length + 10);
      const b = Buffer.from(a);
      unmaskWith(a, hex('de ad be ef'), 3, 3 + length);
      unmask(b, 0xde, 0xad, 0xbe, 0xef, 3, 3 + length);
      expect(a.equals(b)).toBe(true);
    }
  });

  it('§5.3: joinUnmasked (the straddling-payload join) equals concatenating the pieces and masking with the reference: lengths around the SIMD threshold and its 64 KiB blocks, pieces from 1 byte to several blocks, at odd byteOffsets', () => {
    const lengths = [0, 1, 5, 63, 64, 2047, 2048, 2049, 4096 + 3, 65535, 65536, 65537, 2 * 65536 + 63, 200_003];
    for (const [li, length] of lengths.entries()) {
      for (let run = 0; run < 6; run++) {
        const r = rng(length * 16 + run);
        const m = MASKS[(li + run) % MASKS.length];
        // Piece sizes: tiny, around a TLS record, or a block and more, so pieces end anywhere relative to the blocks.
        const maxPiece = [3, 1337, 16384, 70_000, 140_000, 1][run];
        const pieces: Buffer[] = [];
        for (let at = 0; at < length; ) {
          const n = Math.min(r.int(1, maxPiece), length - at);
          // Each piece a view at an odd offset into a buffer of its own, as socket chunks are.
          pieces.push(Buffer.concat([r.bytes(1 + (n % 3)), pattern(n, at)]).subarray(1 + (n % 3)));
          at += n;
        }
        const want = Buffer.concat(pieces, length);
        maskReference(want, Uint8Array.from(m));
        const before = pieces.map((p) => Buffer.from(p));
        const got = joinUnmasked(pieces, length, m[0], m[1], m[2], m[3]);
        if (!got.equals(want)) expect.fail(`length ${length}, run ${run} (${pieces.length} pieces): joinUnmasked differs from the reference`);
        // The pieces themselves are left as they were (still masked).
        expect(pieces.every((p, i) => p.equals(before[i]))).toBe(true);
      }
    }
  });

  it('§5.3: randomMaskSource fills exactly the 4 key bytes and varies between calls', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const into = new Uint8Array(8).fill(0xaa);
      randomMaskSource(into);
      expect(Array.from(into.subarray(4))).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
      seen.add(Buffer.from(into.subarray(0, 4)).toString('hex'));
    }
    // 8 draws of 32 random bits: a repeat is a ~1e-8 event, not flakiness.
    expect(seen.size).toBe(8);
  });
});
