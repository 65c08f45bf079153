// Case 7's own pieces of the publications (bench/harness/publications.ts):
// its topic, the pacing bound its publishers keep to (fanout-server.ts,
// fanout-app.ts), and the frames a bare server writes.
import { Opcode } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/frame-encoder.js';
import { publicationPayload } from '../harness/publications.js';

export const FANOUT_TOPIC = 'fanout';

/**
 * Average bytes that may wait per subscriber before the publisher holds
 * back: two bursts' frames (payload + a 2- or 4-byte header each), at least 4 KiB.
 */
export function pacingBound(burst: number, size: number): number {
  return Math.max(4096, 2 * burst * (size + (size < 126 ? 2 : 4)));
}

/** `count` publications from `firstSeq` as server frames back to back: what a bare server writes to every socket. */
export function fanoutFrames(firstSeq: number, count: number, size: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) frames.push(encodeFrame(Opcode.Binary, true, publicationPayload(firstSeq + i, size)));
  return Buffer.concat(frames);
}
