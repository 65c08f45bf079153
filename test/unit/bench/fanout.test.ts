// Case 7's (and case 9's) load client checks every publication it counts
// (bench/harness/publications.ts): a bench that counted broken or missing
// deliveries would measure nothing. Frames as bench/fanout/'s bare server
// writes them, and as wssd frames a publication.
import { describe, expect, it } from 'vitest';
import { chunk, payloadPattern } from '../../../bench/harness/client-frames.js';
import { monoMs } from '../../../bench/harness/clock.js';
import { MIN_PUBLICATION_PAYLOAD, PublicationReceiver, PublicationStats, publicationPayload } from '../../../bench/harness/publications.js';
import { fanoutFrames } from '../../../bench/fanout/fanout-frames.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { encodeFrame } from '../../../src/protocol/frame-encoder.js';
import { Publication } from '../../../src/pubsub/publication.js';

describe('bench case 7: the fan-out client verifies every frame it counts', () => {
  const SIZE = 32;
  // Frames as a bare fan-out server writes them, and as wssd frames a publication.
  const stream = (first: number, count: number, size = SIZE): Buffer => fanoutFrames(first, count, size);
  const receive = (bytes: Buffer, chunkSize: number, firstSeq = 0, size = SIZE): { stats: PublicationStats; receiver: PublicationReceiver } => {
    const stats = new PublicationStats(1024);
    stats.recording = true;
    const receiver = new PublicationReceiver(size, stats, true, firstSeq);
    for (const piece of chunk(bytes, chunkSize)) receiver.push(piece);
    return { stats, receiver };
  };

  for (const size of [MIN_PUBLICATION_PAYLOAD, 32, 125, 126, 1024]) {
    it(`${size} B publications in order, whole and split at every chunk size from 1 to 40`, () => {
      const bytes = stream(0, 20, size);
      for (let chunkSize = 1; chunkSize <= 40; chunkSize++) {
        const { stats, receiver } = receive(bytes, chunkSize, 0, size);
        expect(stats.error).toBeUndefined();
        expect(receiver.next).toBe(20);
        expect(stats.received).toBe(20);
        // Each latency is receipt minus the stamp, on one clock: small and not negative.
        for (const l of stats.latencies.recorded()) expect(l).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('a publication missing from the stream fails the run', () => {
    const bytes = Buffer.concat([stream(0, 3), stream(4, 2)]);
    expect(receive(bytes, 7).stats.error?.message).toMatch(/publications 3\.\.3 missing/);
  });

  it('a repeated or out-of-order publication fails the run', () => {
    expect(receive(Buffer.concat([stream(0, 3), stream(2, 1)]), 64).stats.error?.message).toMatch(/out of order/);
  });

  it('a stream that does not start at the cell\'s first sequence number fails', () => {
    expect(receive(stream(1, 3), 64).stats.error?.message).toMatch(/missing/);
  });

  it('a corrupted payload byte fails the run', () => {
    const bytes = stream(0, 5);
    bytes[2 * (SIZE + 2) + SIZE + 1] ^= 1; // the last byte of publication 2
    expect(receive(bytes, 64).stats.error?.message).toMatch(/last byte is wrong/);
  });

  it('a frame of the wrong size, a text frame, or a broken header fails the run', () => {
    expect(receive(stream(0, 2, 33), 64).stats.error?.message).toMatch(/undecodable|33 bytes/);
    const text = encodeFrame(Opcode.Text, true, payloadPattern(1, SIZE));
    expect(receive(text, 64).stats.error?.message).toMatch(/unexpected frame: opcode 1/);
    const masked = stream(0, 1);
    masked[0] |= 0x40; // RSV1 without an extension
    expect(receive(masked, 64).stats.error?.message).toMatch(/undecodable/);
  });

  it('wssd\'s publish frames exactly what the bare server writes', () => {
    const payload = publicationPayload(9, SIZE);
    const publication = Publication.fromBytes('fanout', payload, true);
    expect(publication.frame?.equals(encodeFrame(Opcode.Binary, true, payload))).toBe(true);
  });

  it('monoMs is the machine\'s monotonic clock (process.hrtime), to well under a millisecond', () => {
    const before = process.hrtime.bigint();
    const mono = monoMs();
    const after = process.hrtime.bigint();
    expect(mono).toBeGreaterThanOrEqual(Number(before) / 1e6 - 0.05);
    expect(mono).toBeLessThanOrEqual(Number(after) / 1e6 + 0.05);
  });
});
