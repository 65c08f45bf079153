// Reads frames the server wrote (RFC 6455 §5.2), checking as it goes what a
// client would: no mask bit (§5.1), no RSV bits, minimal length encoding.
// Written from the RFC, independently of src's decoder.
import { expect } from 'vitest';

export interface WrittenFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export function parseServerFrames(bytes: Buffer): WrittenFrame[] {
  const frames: WrittenFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    expect(bytes.length - pos, 'truncated frame header').toBeGreaterThanOrEqual(2);
    const b0 = bytes[pos];
    const b1 = bytes[pos + 1];
    expect(b0 & 0x70, 'RSV bits').toBe(0);
    expect(b1 & 0x80, 'server frames are unmasked (§5.1)').toBe(0);
    let length = b1 & 0x7f;
    pos += 2;
    if (length === 126) {
      length = bytes.readUInt16BE(pos);
      expect(length, 'minimal 16-bit length').toBeGreaterThanOrEqual(126);
      pos += 2;
    } else if (length === 127) {
      const big = bytes.readBigUInt64BE(pos);
      expect(big, 'minimal 64-bit length').toBeGreaterThanOrEqual(65536n);
      length = Number(big);
      pos += 8;
    }
    expect(bytes.length - pos, 'truncated payload').toBeGreaterThanOrEqual(length);
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: Buffer.from(bytes.subarray(pos, pos + length)) });
    pos += length;
  }
  return frames;
}
