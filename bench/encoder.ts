// Case 3: the send path without a socket — a Connection-shaped send into a
// writer that discards, for each payload size: small frames are built as one
// buffer, large ones as a header plus the caller's payload.
import { Opcode } from '../src/protocol/constants.js';
import { COPY_LIMIT, encodeFrame, encodeHeader, encodeTextFrame } from '../src/protocol/frame-encoder.js';
import { round, timePasses } from './measure.js';

export interface EncoderResult {
  payload: number;
  binaryFramesPerSec: number;
  textFramesPerSec: number;
}

export function benchEncoder(sizes: number[], minMs: number): EncoderResult[] {
  const results: EncoderResult[] = [];
  let sink = 0;
  const write = (b: Buffer): void => {
    sink += b.length;
  };
  for (const size of sizes) {
    const payload = Buffer.alloc(size, 0x61);
    const text = 'a'.repeat(size);
    const reps = Math.max(1, Math.floor((8 * 1024 * 1024) / Math.max(size, 64)));
    const bin = timePasses(() => {
      for (let r = 0; r < reps; r++) {
        if (size <= COPY_LIMIT) write(encodeFrame(Opcode.Binary, true, payload));
        else {
          write(encodeHeader(Opcode.Binary, true, size));
          write(payload);
        }
      }
    }, minMs);
    const txt = timePasses(() => {
      for (let r = 0; r < reps; r++) {
        const length = Buffer.byteLength(text, 'utf8');
        if (length <= COPY_LIMIT) write(encodeTextFrame(text, length));
        else {
          const bytes = Buffer.from(text, 'utf8');
          write(encodeHeader(Opcode.Text, true, length));
          write(bytes);
        }
      }
    }, minMs);
    results.push({
      payload: size,
      binaryFramesPerSec: Math.round((reps * 1e9) / bin.nsPerPass),
      textFramesPerSec: Math.round((reps * 1e9) / txt.nsPerPass),
    });
  }
  if (sink < 0) console.log(sink);
  return results.map((r) => ({ ...r, binaryFramesPerSec: round(r.binaryFramesPerSec, 0) }));
}
