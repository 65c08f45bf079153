// The benchmarks' own inputs and send path, checked for correctness: a bench
// that measured a decoder producing wrong payloads, or an encoder producing
// wrong frames, would measure nothing. Same code as `npm run bench`, smaller sizes.
import { describe, expect, it } from 'vitest';
import { buildClientFrames, chunk, payloadPattern } from '../../../bench/harness/client-frames.js';
import { verifyDecode } from '../../../bench/micro/decoder.js';
import { sendPath } from '../../../bench/micro/encoder.js';
import { maskReference, unmask } from '../../../src/protocol/mask.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { WriteBatch } from '../../../src/io/write-batch.js';
import { parseServerFrames } from '../helpers/server-frames.js';
import { FanoutReceiver, FanoutStats, fanoutFrames, fanoutPayload, MIN_FANOUT_PAYLOAD, monoMs } from '../../../bench/fanout/fanout-frames.js';
import { encodeFrame } from '../../../src/protocol/frame-encoder.js';
import { Publication } from '../../../src/pubsub/publication.js';
import { creditWindow, publicationsDue, type Pace } from '../../../bench/redis/redis-pacing.js';

const SIZES = [0, 16, 125, 1024, 64 * 1024, 1024 * 1024];

describe('bench case 1: the decoder bench\'s frames decode to the right payloads', () => {
  for (const size of SIZES) {
    it(`payload ${size} B, in 16 KiB and 1,337-byte chunks`, () => {
      const batch = buildClientFrames(size, Math.max(3 * (size + 14), 64 * 1024));
      expect(batch.count).toBeGreaterThanOrEqual(1);
      // verifyDecode throws on a wrong payload, opcode, FIN or frame count.
      for (const chunkSize of [16 * 1024, 1337]) verifyDecode(batch, chunkSize);
      expect(chunk(batch.bytes, 1337).reduce((n, c) => n + c.length, 0)).toBe(batch.bytes.length);
    });
  }

  it('verifyDecode fails on a corrupted payload (the check can fail)', () => {
    const batch = buildClientFrames(125, 4096);
    batch.bytes[batch.bytes.length - 1] ^= 1;
    expect(() => verifyDecode(batch, 1337)).toThrow(/decoded wrong/);
  });
});

describe('bench case 2: the mask bench\'s fast path equals the reference at its sizes', () => {
  for (const size of [16, 64, 125, 1024, 16 * 1024, 64 * 1024]) {
    it(`${size} B at offset 1`, () => {
      const data = payloadPattern(7, size + 1).subarray(1);
      const a = Buffer.from(data);
      const b = Buffer.from(data);
      maskReference(a, Buffer.from([0x37, 0xfa, 0x21, 0x3d]), 0, size);
      const unaligned = Buffer.alloc(size + 1).subarray(1);
      b.copy(unaligned);
      unmask(unaligned, 0x37, 0xfa, 0x21, 0x3d, 0, size);
      expect(unaligned.equals(a)).toBe(true);
    });
  }
});

describe('bench case 3: the send path the encoder bench times produces the right frames', () => {
  for (const size of SIZES) {
    it(`payload ${size} B, binary and text`, () => {
      const out: Buffer[] = [];
      const sink = { write: (b: Buffer) => out.push(Buffer.from(b)) };
      const batch = new WriteBatch();
      const payload = payloadPattern(3, size);
      const text = 'é'.repeat(size >> 1);
      sendPath(batch, payload, 20, sink);
      sendPath(batch, text, 20, sink);
      const frames = parseServerFrames(Buffer.concat(out));
      expect(frames).toHaveLength(40);
      for (const f of frames.slice(0, 20)) {
        expect([f.opcode, f.fin]).toEqual([Opcode.Binary, true]);
        expect(f.payload.equals(payload)).toBe(true);
      }
      for (const f of frames.slice(20)) {
        expect([f.opcode, f.fin]).toEqual([Opcode.Text, true]);
        expect(f.payload.toString('utf8')).toBe(text);
      }
    });
  }
});

describe('bench case 7: the fan-out client verifies every frame it counts', () => {
  const SIZE = 32;
  // Frames as a bare fan-out server writes them, and as wssd frames a publication.
  const stream = (first: number, count: number, size = SIZE): Buffer => fanoutFrames(first, count, size);
  const receive = (bytes: Buffer, chunkSize: number, firstSeq = 0, size = SIZE): { stats: FanoutStats; receiver: FanoutReceiver } => {
    const stats = new FanoutStats(1024);
    stats.recording = true;
    const receiver = new FanoutReceiver(size, stats, true, firstSeq);
    for (const piece of chunk(bytes, chunkSize)) receiver.push(piece);
    return { stats, receiver };
  };

  for (const size of [MIN_FANOUT_PAYLOAD, 32, 125, 126, 1024]) {
    it(`${size} B publications in order, whole and split at every chunk size from 1 to 40`, () => {
      const bytes = stream(0, 20, size);
      for (let chunkSize = 1; chunkSize <= 40; chunkSize++) {
        const { stats, receiver } = receive(bytes, chunkSize, 0, size);
        expect(stats.error).toBeUndefined();
        expect(receiver.next).toBe(20);
        expect(stats.received).toBe(20);
        // Each latency is receipt minus the stamp, on one clock: small and not negative.
        for (const l of stats.latencies.subarray(0, stats.samples)) expect(l).toBeGreaterThanOrEqual(0);
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
    const payload = fanoutPayload(9, SIZE);
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

describe('bench case 9: the cross-node publisher\'s pacing', () => {
  // Case 9's subscribers, on both nodes, are case 7's (FanoutReceiver, checked above): a gap — a
  // publication Redis did not carry to node B — a repeat or a broken frame fails the run.
  const pace = (p: Partial<Pace>): Pace => ({ rate: 0, elapsedMs: 0, seq: 0, acked: 0, window: 16, burst: 4, ...p });

  it('at a fixed rate, publishes what is due since the cell started, never ahead', () => {
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 1, window: 1000 }))).toEqual({ count: 10, heldBack: false });
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 1.05, seq: 10, acked: 10, window: 1000 }))).toEqual({ count: 0, heldBack: false });
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 2.5, seq: 10, acked: 10, window: 1000 }))).toEqual({ count: 15, heldBack: false });
    // Behind its schedule (a slow tick): catches up, within the credit.
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 10, seq: 20, acked: 20, window: 1000 }))).toEqual({ count: 80, heldBack: false });
  });

  it('never gets more than the window ahead of the last ack, and says when that held it back', () => {
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 10, seq: 20, acked: 10, window: 16 }))).toEqual({ count: 6, heldBack: true });
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 10, seq: 26, acked: 10, window: 16 }))).toEqual({ count: 0, heldBack: true });
    // As fast as absorbed: a burst per tick, within the credit.
    expect(publicationsDue(pace({ seq: 8, acked: 0 }))).toEqual({ count: 4, heldBack: false });
    expect(publicationsDue(pace({ seq: 14, acked: 0 }))).toEqual({ count: 2, heldBack: true });
    expect(publicationsDue(pace({ seq: 16, acked: 0 }))).toEqual({ count: 0, heldBack: true });
    // An ack behind what was published (a stale one) gives no negative credit.
    expect(publicationsDue(pace({ seq: 40, acked: 0 }))).toEqual({ count: 0, heldBack: true });
  });

  it('the window holds about as many deliveries per node whatever the subscribers, at least 4 publications', () => {
    expect(creditWindow(1000)).toBe(16);
    expect(creditWindow(200)).toBe(80);
    expect(creditWindow(1)).toBe(16_000);
    expect(creditWindow(100_000)).toBe(4);
  });
});
