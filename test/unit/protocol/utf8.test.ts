// RFC 6455 §8.1 (text must be valid UTF-8; fail fast) and RFC 3629 §4 (the
// UTF-8 byte-sequence table): the incremental validator must agree with
// Buffer's isUtf8 on the whole text for every way of cutting it into
// fragments, and must say false on the very fragment that carries the first
// byte no valid text could contain.
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Utf8Validator } from '../../../src/protocol/utf8.js';
import { hex } from '../helpers/bytes.js';
import { rng } from '../helpers/prng.js';
import { utf8ishBytes, utf8Scan } from '../helpers/utf8-reference.js';

/** Index of the fragment whose push returned false, `fragments.length` if only finish() failed, -1 if valid. */
function failingFragment(fragments: Uint8Array[], v = new Utf8Validator()): number {
  for (let i = 0; i < fragments.length; i++) if (!v.push(fragments[i])) return i;
  return v.finish() ? -1 : fragments.length;
}

/** Which fragment the fail-fast rule says must fail, from the reference automaton. */
function expectedFailingFragment(fragments: Uint8Array[]): number {
  const whole = Buffer.concat(fragments);
  const { firstBad, complete } = utf8Scan(whole);
  if (firstBad < 0) return complete ? -1 : fragments.length;
  let end = 0;
  for (let i = 0; i < fragments.length; i++) {
    end += fragments[i].length;
    if (firstBad < end) return i;
  }
  throw new Error('unreachable');
}

function cut(bytes: Uint8Array, at: number[]): Buffer[] {
  const points = [0, ...at, bytes.length];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) out.push(Buffer.from(bytes.subarray(points[i], points[i + 1])));
  return out;
}

const VALID: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['ASCII', Buffer.from('Hello, world')],
  ['2-byte é', Buffer.from('héé')],
  ['3-byte €', Buffer.from('€uro €')],
  ['4-byte 𝄞 and emoji', Buffer.from('𝄞 🎉x')],
  ['boundaries U+0000 U+007F U+0080 U+07FF U+0800 U+FFFF U+10000 U+10FFFF', hex('00 7f c2 80 df bf e0 a0 80 ef bf bf f0 90 80 80 f4 8f bf bf')],
  ['last before / first after the surrogates: U+D7FF U+E000', hex('ed 9f bf ee 80 80')],
  ['mixed script', Buffer.from('κόσμε 日本語 Ünïcödé ✓ 𐍈')],
];

// RFC 3629 §4 / Unicode Table 3-7 violations, each named for what it breaks.
const INVALID: [string, Buffer][] = [
  ['overlong NUL C0 80', hex('c0 80')],
  ['overlong C1 BF', hex('c1 bf')],
  ['overlong 3-byte E0 80 80', hex('e0 80 80')],
  ['overlong 3-byte E0 9F BF', hex('e0 9f bf')],
  ['overlong 4-byte F0 80 80 80', hex('f0 80 80 80')],
  ['overlong 4-byte F0 8F BF BF', hex('f0 8f bf bf')],
  ['surrogate U+D800 ED A0 80', hex('ed a0 80')],
  ['surrogate U+DFFF ED BF BF', hex('ed bf bf')],
  ['surrogate pair as CESU-8 ED A0 BD ED B2 A9', hex('ed a0 bd ed b2 a9')],
  ['past U+10FFFF F4 90 80 80', hex('f4 90 80 80')],
  ['F5 lead', hex('f5 80 80 80')],
  ['F8 5-byte lead', hex('f8 88 80 80 80')],
  ['FE', hex('fe')],
  ['FF', hex('ff')],
  ['lone continuation 80', hex('80')],
  ['lone continuation BF', hex('bf')],
  ['continuation after a complete sequence', hex('c3 a9 a9')],
  ['lead then ASCII C3 41', hex('c3 41')],
  ['3-byte lead, bad second E2 28 A1', hex('e2 28 a1')],
  ['3-byte lead, bad third E2 82 28', hex('e2 82 28')],
  ['4-byte lead, bad fourth F0 9F 98 41', hex('f0 9f 98 41')],
  ['truncated at end: C3', hex('c3')],
  ['truncated at end: E2 82', hex('e2 82')],
  ['truncated at end: F0 9F 98', hex('f0 9f 98')],
  ['truncated at end: F4', hex('f4')],
];

/** Each sample alone and inside text, so it lands at fragment starts, middles and ends. */
function contexts(b: Buffer): Buffer[] {
  return [b, Buffer.concat([Buffer.from('ab'), b]), Buffer.concat([b, Buffer.from('é')]), Buffer.concat([Buffer.from('x€'), b, Buffer.from('𝄞yz')])];
}

describe('Utf8Validator (RFC 6455 §8.1, RFC 3629 §4)', () => {
  it('§8.1 valid texts are accepted in one fragment', () => {
    for (const [name, b] of VALID) {
      expect(isUtf8(b), name).toBe(true);
      expect(failingFragment([b]), name).toBe(-1);
    }
  });

  it('RFC 3629 §4 invalid sequences are refused in one fragment (overlongs, surrogates, > U+10FFFF, F5+, lone continuations, truncation)', () => {
    for (const [name, b] of INVALID) {
      for (const text of contexts(b)) {
        expect(isUtf8(text), name).toBe(false);
        expect(failingFragment([text]), name).not.toBe(-1);
      }
    }
  });

  it('§8.1 split into 2 fragments at EVERY byte offset: same verdict as isUtf8 on the whole, failing at the fragment with the first bad byte', () => {
    for (const [name, sample] of [...VALID, ...INVALID]) {
      for (const text of contexts(sample)) {
        const whole = isUtf8(text);
        for (let at = 0; at <= text.length; at++) {
          const fragments = cut(text, [at]);
          const got = failingFragment(fragments);
          expect(got === -1, `${name} split at ${at}`).toBe(whole);
          expect(got, `${name} split at ${at}: fails on fragment`).toBe(expectedFailingFragment(fragments));
        }
      }
    }
  });

  it('§8.1 split into 3 fragments at every pair of offsets (code points cut twice), and with empty fragments between', () => {
    for (const [name, sample] of [...VALID, ...INVALID]) {
      const text = Buffer.concat([Buffer.from('é'), sample, Buffer.from('𝄞')]);
      for (let a = 0; a <= text.length; a++) {
        for (let b = a; b <= text.length; b++) {
          const fragments = cut(text, [a, b]);
          expect(failingFragment(fragments), `${name} cut at ${a},${b}`).toBe(expectedFailingFragment(fragments));
          const withEmpties = [Buffer.alloc(0), fragments[0], Buffer.alloc(0), fragments[1], Buffer.alloc(0), fragments[2], Buffer.alloc(0)];
          expect(failingFragment(withEmpties) === -1, `${name} cut at ${a},${b} with empties`).toBe(isUtf8(text));
        }
      }
    }
  });

  it('§8.1 fail fast: the fragment carrying the first bad byte returns false, before the rest of the message', () => {
    const cases: [string, Buffer[]][] = [
      ['a fragment ending in F4 90 (would be > U+10FFFF)', [Buffer.from('ok '), hex('41 f4 90'), hex('80 80')]],
      ['a fragment ending in ED A0 (surrogate)', [hex('ed a0'), hex('80')]],
      ['a fragment ending in E0 80 (overlong)', [hex('e0 80'), hex('80')]],
      ['a fragment ending in F0 80 (overlong)', [hex('f0 80'), hex('80 80')]],
      ['a fragment ending in F0 8F (overlong)', [hex('20 f0 8f'), hex('bf bf')]],
      ['a fragment ending in C0 (never valid)', [hex('c0'), hex('80')]],
      ['a fragment ending in F5', [hex('f5'), hex('80 80 80')]],
      ['a cut E2 completed by a bad byte', [hex('e2'), hex('28 a1')]],
      ['a cut F4 completed by 90', [hex('f4'), hex('90'), hex('80 80')]],
      ['a cut F0 9F completed by a non-continuation', [hex('f0 9f'), hex('41 41')]],
    ];
    for (const [name, fragments] of cases) {
      const v = new Utf8Validator();
      const results: boolean[] = [];
      for (const f of fragments) {
        results.push(v.push(f));
        if (!results[results.length - 1]) break;
      }
      const expectedFail = expectedFailingFragment(fragments);
      expect(results, name).toEqual([...Array<boolean>(expectedFail).fill(true), false]);
    }
  });

  it('§8.1 a valid prefix cut anywhere is never refused early: F4 8F | BF BF, ED 9F | BF, E0 A0 | 80, F0 90 | 80 80', () => {
    for (const fragments of [[hex('f4 8f'), hex('bf bf')], [hex('ed 9f'), hex('bf')], [hex('e0 a0'), hex('80')], [hex('f0 90'), hex('80 80')], [hex('f0'), hex('90'), hex('80'), hex('80')]]) {
      expect(failingFragment(fragments)).toBe(-1);
    }
  });

  it('§8.1 finish() is false when the message ends inside a code point, and starts the next message afresh', () => {
    const v = new Utf8Validator();
    expect(v.push(hex('41 e2 82'))).toBe(true);
    expect(v.finish()).toBe(false);
    // The cut code point does not leak into the next message.
    expect(v.push(hex('ac'))).toBe(false);
    const w = new Utf8Validator();
    expect(w.push(hex('f0 9f'))).toBe(true);
    expect(w.finish()).toBe(false);
    expect(w.push(Buffer.from('plain'))).toBe(true);
    expect(w.finish()).toBe(true);
    // reset() discards a cut code point too.
    expect(w.push(hex('e2 82'))).toBe(true);
    w.reset();
    expect(w.push(Buffer.from('x'))).toBe(true);
    expect(w.finish()).toBe(true);
  });

  it('§8.1 seeded fuzz: 4000 random byte strings in random fragments agree with isUtf8, failing at the fragment the reference names', () => {
    const r = rng(0x5eed);
    for (let n = 0; n < 4000; n++) {
      let bytes: Buffer;
      if (n % 2 === 0) {
        bytes = utf8ishBytes(r.next, r.int(0, 24));
      } else {
        // Valid text, sometimes with one byte changed: near-misses of valid UTF-8.
        let s = '';
        const len = r.int(0, 10);
        for (let i = 0; i < len; i++) {
          const cp = r.int(0, 0x10ffff);
          s += String.fromCodePoint(cp >= 0xd800 && cp <= 0xdfff ? 0x20ac : cp);
        }
        bytes = Buffer.from(s, 'utf8');
        if (bytes.length > 0 && r.next() < 0.5) bytes[r.int(0, bytes.length - 1)] = r.int(0, 255);
      }
      const points: number[] = [];
      for (let at = 0; at <= bytes.length; at++) if (r.next() < 0.3) points.push(at);
      const fragments = cut(bytes, points);
      const got = failingFragment(fragments);
      if ((got === -1) !== isUtf8(bytes) || got !== expectedFailingFragment(fragments)) {
        expect.fail(`case ${n}: ${fragments.map((f) => f.toString('hex')).join(' | ')}: validator fails at ${got}, expected ${expectedFailingFragment(fragments)} (isUtf8 ${isUtf8(bytes)})`);
      }
    }
  });

  it('the reference automaton itself agrees with isUtf8 on 20000 random strings', () => {
    const r = rng(77);
    for (let n = 0; n < 20000; n++) {
      const bytes = utf8ishBytes(r.next, r.int(0, 16));
      const { firstBad, complete } = utf8Scan(bytes);
      expect(firstBad === -1 && complete, bytes.toString('hex')).toBe(isUtf8(bytes));
    }
  });
});
