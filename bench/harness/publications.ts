// The publications of cases 7, 7d and 9 and their checks, shared by the servers
// that publish them (bench/fanout/fanout-server.ts, bench/fanout/fanout-app.ts,
// bench/redis/redis-node.ts, bench/fanout-memory/memory-server.ts) and the load client that receives them
// (subscribers.ts), and tested in test/unit/bench/.
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
// slow-subscriber policy, or one Redis did not carry to another node) or a
// repeat fails the whole run: a bench that counted broken or missing
// deliveries would measure nothing.
import { Opcode } from '../../src/protocol/constants.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { FrameDecoder, type FrameHandler } from '../../src/protocol/frame-decoder.js';
import { monoMs } from './clock.js';
import { CellStats } from './latency.js';

export const MIN_PUBLICATION_PAYLOAD = 13;

export function checkByte(seq: number, size: number): number {
  return (seq * 7 + size) & 0xff;
}

/** Writes publication `seq`'s payload into `into` (its whole length), stamped with `time`. */
function fillPayload(into: Buffer, seq: number, time: number): Buffer {
  into.writeUInt32LE(seq >>> 0, 0);
  into.writeDoubleLE(time, 4);
  into.fill(0x5a, 12, into.length - 1);
  into[into.length - 1] = checkByte(seq, into.length);
  return into;
}

/** Publication `seq`'s payload, stamped now. */
export function publicationPayload(seq: number, size: number): Buffer {
  if (size < MIN_PUBLICATION_PAYLOAD) throw new Error(`publication payloads are at least ${MIN_PUBLICATION_PAYLOAD} bytes, got ${size}`);
  return fillPayload(Buffer.allocUnsafe(size), seq, monoMs());
}

/** What all the subscribers of a cell share: counters, the first error, publish-to-receipt latencies while recording. */
export class PublicationStats extends CellStats {
  received = 0;
  /** Frames received while recording. */
  recordedFrames = 0;

  constructor(maxSamples = 1 << 21) {
    super(maxSamples);
  }

  override reset(): void {
    super.reset();
    this.received = 0;
    this.recordedFrames = 0;
  }
}

/**
 * One subscriber's receiving side: decodes the server's frames from the
 * chunks pushed in (no object made per frame: the decoder hands over ranges
 * of the chunk), checks each as described above, and — when `sampled` —
 * records publish-to-receipt latencies, taking the receipt time once per chunk.
 */
export class PublicationReceiver implements FrameHandler {
  /** The sequence number the next frame must carry. */
  next = 0;
  private readonly size: number;
  private readonly stats: PublicationStats;
  private readonly sampled: boolean;
  private readonly decoder: FrameDecoder;
  private arrival = 0;
  failed = false;

  constructor(size: number, stats: PublicationStats, sampled: boolean, firstSeq = 0) {
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
      if (this.sampled) stats.latencies.add(this.arrival - data.readDoubleLE(start + 4));
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
