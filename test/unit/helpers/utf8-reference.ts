// UTF-8 written straight from the RFC 3629 §4 table, as a byte-at-a-time
// automaton, independent of src/protocol/utf8.ts. It answers the question the
// fail-fast rule (RFC 6455 §8.1) needs: at which byte does a stream stop
// being a prefix of any valid UTF-8 text?

/**
 * Index of the first byte after which `bytes[0..i]` can no longer be extended
 * into valid UTF-8, or -1 if every prefix is still extendable. `complete` is
 * whether the whole input ends on a code point boundary.
 */
export function utf8Scan(bytes: Uint8Array): { firstBad: number; complete: boolean } {
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (need === 0) {
      if (b <= 0x7f) continue;
      if (b >= 0xc2 && b <= 0xdf) [need, lo, hi] = [1, 0x80, 0xbf];
      else if (b === 0xe0) [need, lo, hi] = [2, 0xa0, 0xbf];
      else if (b === 0xed) [need, lo, hi] = [2, 0x80, 0x9f];
      else if (b >= 0xe1 && b <= 0xef) [need, lo, hi] = [2, 0x80, 0xbf];
      else if (b === 0xf0) [need, lo, hi] = [3, 0x90, 0xbf];
      else if (b >= 0xf1 && b <= 0xf3) [need, lo, hi] = [3, 0x80, 0xbf];
      else if (b === 0xf4) [need, lo, hi] = [3, 0x80, 0x8f];
      else return { firstBad: i, complete: false };
    } else {
      if (b < lo || b > hi) return { firstBad: i, complete: false };
      need--;
      lo = 0x80;
      hi = 0xbf;
    }
  }
  return { firstBad: -1, complete: need === 0 };
}

/** Random bytes that look like UTF-8 often enough to reach the interesting edges. */
export function utf8ishBytes(next: () => number, length: number): Buffer {
  const out: number[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const boundaries = [0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x8f, 0x90, 0x9f, 0xa0];
  while (out.length < length) {
    const r = next();
    if (r < 0.55) {
      // A valid code point from a random plane (never a surrogate).
      const plane = pick([0x7f, 0x7ff, 0xffff, 0x10ffff]);
      let cp = Math.floor(next() * (plane + 1));
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
      out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
    } else if (r < 0.8) {
      out.push(pick(boundaries));
    } else {
      out.push(Math.floor(next() * 256));
    }
  }
  return Buffer.from(out.slice(0, length));
}
