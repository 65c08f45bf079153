// UTF-8 validation for text messages (RFC 6455 §5.6, §8.1; RFC 3629 §4).
//
// Whole payloads go to node:buffer's native isUtf8. A fragmented message is
// validated fragment by fragment so that invalid bytes fail the connection
// at the fragment that carries them (§8.1 "fail fast"): each fragment's
// complete code points go to isUtf8, and a code point cut at the fragment's
// end is kept (at most 3 bytes) after checking that it can still become valid.
import { isUtf8 } from 'node:buffer';

export { isUtf8 };

/** Length of the sequence a lead byte starts, or 0 for a byte that cannot lead. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Whether bytes[0..n) (n < sequence length) are a prefix of some valid
 * sequence. The second byte's range depends on the lead (RFC 3629 §4): this is
 * where overlongs (E0, F0), surrogates (ED) and code points past U+10FFFF (F4)
 * are refused before the sequence is complete.
 */
function isValidPrefix(b: ArrayLike<number>, n: number): boolean {
  const lead = b[0];
  if (sequenceLength(lead) <= n) return false;
  if (n < 2) return true;
  const second = b[1];
  let lo = 0x80;
  let hi = 0xbf;
  if (lead === 0xe0) lo = 0xa0;
  else if (lead === 0xed) hi = 0x9f;
  else if (lead === 0xf0) lo = 0x90;
  else if (lead === 0xf4) hi = 0x8f;
  if (second < lo || second > hi) return false;
  return n < 3 || (b[2] >= 0x80 && b[2] <= 0xbf);
}

export class Utf8Validator {
  /** The bytes of a code point cut at the end of the last fragment (up to 4, as a small int array: no buffer per connection). */
  private readonly pending: number[] = [0, 0, 0, 0];
  private pendingLength = 0;

  /** Validates the next fragment; false as soon as the text cannot be valid UTF-8. */
  push(bytes: Uint8Array): boolean {
    let start = 0;
    if (this.pendingLength > 0) {
      const need = sequenceLength(this.pending[0]) - this.pendingLength;
      const take = Math.min(need, bytes.length);
      for (let i = 0; i < take; i++) this.pending[this.pendingLength++] = bytes[i];
      start = take;
      if (take < need) return isValidPrefix(this.pending, this.pendingLength);
      // Rare (a code point cut between fragments): a tiny copy is fine here.
      if (!isUtf8(Uint8Array.from(this.pending.slice(0, this.pendingLength)))) return false;
      this.pendingLength = 0;
    }
    // Find where the last, possibly cut, code point starts: at most 3 bytes back.
    const end = bytes.length;
    let cut = end;
    for (let i = end - 1; i >= start && i >= end - 3; i--) {
      const byte = bytes[i];
      if ((byte & 0xc0) !== 0x80) {
        // A lead (or ASCII) byte: cut here if its sequence runs past the end.
        if (sequenceLength(byte) > end - i) cut = i;
        break;
      }
    }
    if (cut < end) {
      const n = end - cut;
      for (let i = 0; i < n; i++) this.pending[i] = bytes[cut + i];
      if (!isValidPrefix(this.pending, n)) return false;
      this.pendingLength = n;
    }
    return start === cut || isUtf8(bytes.subarray(start, cut));
  }

  /** The message ended: valid only if no code point is left cut. Resets for the next message. */
  finish(): boolean {
    const complete = this.pendingLength === 0;
    this.pendingLength = 0;
    return complete;
  }

  reset(): void {
    this.pendingLength = 0;
  }
}
