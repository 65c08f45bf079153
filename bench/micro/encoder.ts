// Case 3: the send path without a socket, as Connection.send runs it, into a
// writer that discards: small frames are encoded into the shared write batch
// (header + one copy of the payload, a string encoded in place), which is
// handed on every 16 messages as one buffer (as after an incoming chunk);
// large ones are a header at the end of the batch plus the caller's payload.
import { Opcode } from '../../src/protocol/constants.js';
import { COPY_LIMIT, frameHead } from '../../src/protocol/frame-encoder.js';
import { WriteBatch, type ByteSink } from '../../src/io/write-batch.js';
import { round, timePasses } from '../harness/measure.js';

export interface EncoderResult {
  payload: number;
  binaryFramesPerSec: number;
  textFramesPerSec: number;
}

/** First bytes of unfragmented text and binary frames, as the session chooses them. */
const TEXT = frameHead(Opcode.Text, true);
const BINARY = frameHead(Opcode.Binary, true);

/** Messages per batch handed on: one incoming chunk's worth of echoes. */
const PER_BATCH = 16;

/**
 * Sends `count` messages of `payload` (bytes: binary; string: text) the way
 * Connection.send does, everything reaching `sink`. Tests decode what the
 * sink got, so this is also the bench's correctness check.
 */
export function sendPath(batch: WriteBatch, payload: Buffer | string, count: number, sink: ByteSink): void {
  for (let i = 0; i < count; i++) {
    if (typeof payload === 'string') {
      const length = Buffer.byteLength(payload, 'utf8');
      if (length <= COPY_LIMIT) batch.appendText(TEXT, payload, length, sink);
      else {
        batch.appendHeader(TEXT, length, sink);
        batch.writeTo(sink);
        sink.write(Buffer.from(payload, 'utf8'));
      }
    } else if (payload.length <= COPY_LIMIT) {
      batch.appendFrame(BINARY, payload, sink);
    } else {
      batch.appendHeader(BINARY, payload.length, sink);
      batch.writeTo(sink);
      sink.write(payload);
    }
    if (i % PER_BATCH === PER_BATCH - 1 && batch.length > 0) batch.writeTo(sink);
  }
  if (batch.length > 0) batch.writeTo(sink);
}

export function benchEncoder(sizes: number[], minMs: number): EncoderResult[] {
  const results: EncoderResult[] = [];
  const sink = {
    bytes: 0,
    write(b: Buffer): void {
      this.bytes += b.length;
    },
  };
  const batch = new WriteBatch();
  for (const size of sizes) {
    const payload = Buffer.alloc(size, 0x61);
    const text = 'a'.repeat(size);
    const reps = Math.max(1, Math.floor((8 * 1024 * 1024) / Math.max(size, 64)));
    const bin = timePasses(() => sendPath(batch, payload, reps, sink), minMs);
    const txt = timePasses(() => sendPath(batch, text, reps, sink), minMs);
    results.push({
      payload: size,
      binaryFramesPerSec: Math.round((reps * 1e9) / bin.nsPerPass),
      textFramesPerSec: Math.round((reps * 1e9) / txt.nsPerPass),
    });
  }
  if (sink.bytes < 0) console.log(sink.bytes);
  return results.map((r) => ({ ...r, binaryFramesPerSec: round(r.binaryFramesPerSec, 0) }));
}
