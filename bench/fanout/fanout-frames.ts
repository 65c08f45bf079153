// Case 7's messages and their checks, shared by the fan-out servers
// (bench/fanout/fanout-server.ts, bench/fanout/fanout-app.ts) and the load client
// (bench/fanout/fanout.ts), and tested in test/unit/bench/bench-checks.test.ts.
//
// A publication's payload, `size` bytes (≥ 13):
//   [0, 4)   sequence number, u32 LE — 0, 1, 2… from the start of each cell
//   [4, 12)  publish time, f64 LE, ms on the machine's monotonic clock (monoMs)
//   [12, size) filler; its last byte is check(seq, size), so a frame cut short,
//            shifted or mixed up with another one's bytes fails the check.
//
// The client checks every frame it gets: a binary frame with FIN, of exactly
// `size` bytes, carrying the next sequence number of its connection and the
// right last byte. Any other frame, a gap (a publication skipped, e.g. by a
// slow-subscriber policy) or a repeat fails the whole run: a bench that
// counted broken or missing deliveries would measure nothing.
import { Opcode } from '../../src/protocol/constants.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { FrameDecoder, type FrameHandler } from '../../src/protocol/frame-decoder.js';
import { encodeFrame } from '../../src/protocol/frame-encoder.js';

/**
 * Milliseconds on CLOCK_MONOTONIC, the same clock in every process of the
 * machine (Linux): process.hrtime is read once to find where this process's
 * performance.now() starts on it, and performance.now() — which allocates
 * nothing, unlike hrtime.bigint() — does the rest. performance.timeOrigin is
 * not used: it is the wall clock at start-up, read apart from the monotonic
 * one, so two processes' origins can disagree (bench/fanout/fanout.ts measures by
 * how much, and checks this clock against a child's).
 */
function calibrate(): number {
  // The reading of hrtime between two of performance.now() that are closest
  // together (the first calls are slow: lazy initialisation).
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    const hr = process.hrtime();
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = hr[0] * 1e3 + hr[1] / 1e6 - (a + b) / 2;
    }
  }
  return offset;
}
const offsetMs = calibrate();
export function monoMs(): number {
  return performance.now() + offsetMs;
}

export const MIN_FANOUT_PAYLOAD = 13;
export const FANOUT_TOPIC = 'fanout';

/** Average bytes that may wait per subscriber before the publisher holds back: two bursts' frames, at least 4 KiB. */
export function pacingBound(burstBytes: number): number {
  return Math.max(4096, 2 * burstBytes);
}

export function checkByte(seq: number, size: number): number {
  return (seq * 7 + size) & 0xff;
}

/** Writes publication `seq`'s payload into `into` (its whole length), stamped with `time`. */
export function fillPayload(into: Buffer, seq: number, time: number): Buffer {
  into.writeUInt32LE(seq >>> 0, 0);
  into.writeDoubleLE(time, 4);
  into.fill(0x5a, 12, into.length - 1);
  into[into.length - 1] = checkByte(seq, into.length);
  return into;
}

/** Publication `seq`'s payload, stamped now. */
export function fanoutPayload(seq: number, size: number): Buffer {
  if (size < MIN_FANOUT_PAYLOAD) throw new Error(`fan-out payloads are at least ${MIN_FANOUT_PAYLOAD} bytes, got ${size}`);
  return fillPayload(Buffer.allocUnsafe(size), seq, monoMs());
}

/** `count` publications from `firstSeq` as server frames back to back: what a bare server writes to every socket. */
export function fanoutFrames(firstSeq: number, count: number, size: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) frames.push(encodeFrame(Opcode.Binary, true, fanoutPayload(firstSeq + i, size)));
  return Buffer.concat(frames);
}

/** What all the subscribers of a cell share: counters, the first error, latencies while recording. */
export class FanoutStats {
  received = 0;
  /** Frames received while recording. */
  recordedFrames = 0;
  recording = false;
  readonly latencies: Float64Array;
  samples = 0;
  error: Error | undefined;
  constructor(maxSamples = 1 << 21) {
    this.latencies = new Float64Array(maxSamples);
  }
  reset(): void {
    this.received = 0;
    this.recordedFrames = 0;
    this.recording = false;
    this.samples = 0;
    this.error = undefined;
  }
  fail(error: Error): void {
    this.error ??= error;
  }
  /** The q-quantiles (0..1) of the recorded latencies, ms. */
  percentiles(qs: number[]): number[] {
    const sorted = this.latencies.slice(0, this.samples).sort();
    return qs.map((q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]));
  }
}

/**
 * One subscriber's receiving side: decodes the server's frames from the
 * chunks pushed in (no object made per frame: the decoder hands over ranges
 * of the chunk), checks each as described above, and — when `sampled` —
 * records publish-to-receipt latencies, taking the receipt time once per chunk.
 */
export class FanoutReceiver implements FrameHandler {
  /** The sequence number the next frame must carry. */
  next = 0;
  private readonly size: number;
  private readonly stats: FanoutStats;
  private readonly sampled: boolean;
  private readonly decoder: FrameDecoder;
  private arrival = 0;
  failed = false;

  constructor(size: number, stats: FanoutStats, sampled: boolean, firstSeq = 0) {
    this.size = size;
    this.stats = stats;
    this.sampled = sampled;
    this.next = firstSeq;
    this.decoder = new FrameDecoder(this, { requireMask: false, maxPayload: size });
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.arrival = monoMs();
    this.decoder.push(chunk);
  }

  onFrame(opcode: number, fin: boolean, data: Buffer, start: number, end: number): void {
    if (this.failed) return;
    if (opcode !== Opcode.Binary || !fin) return this.fail(`unexpected frame: opcode ${opcode}, fin ${fin}`);
    if (end - start !== this.size) return this.fail(`a frame of ${end - start} bytes, expected ${this.size}`);
    const seq = data.readUInt32LE(start);
    if (seq !== this.next) return this.fail(seq > this.next ? `publications ${this.next}..${seq - 1} missing (got ${seq})` : `publication ${seq} out of order (expected ${this.next})`);
    if (data[end - 1] !== checkByte(seq, this.size)) return this.fail(`publication ${seq}: its last byte is wrong`);
    this.next = seq + 1;
    const stats = this.stats;
    stats.received++;
    if (stats.recording) {
      stats.recordedFrames++;
      if (this.sampled && stats.samples < stats.latencies.length) stats.latencies[stats.samples++] = this.arrival - data.readDoubleLE(start + 4);
    }
  }

  onError(error: ProtocolError): void {
    this.fail(`undecodable frame: ${error.message}`);
  }

  private fail(message: string): void {
    this.failed = true;
    this.stats.fail(new Error(message));
  }
}
