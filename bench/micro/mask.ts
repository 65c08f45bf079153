// Case 2: masking, the reference byte loop against the fast path, per size.
import { maskReference, unmask } from '../../src/protocol/mask.js';
import { round, timePasses } from '../harness/measure.js';

export interface MaskResult {
  size: number;
  referenceGBps: number;
  fastGBps: number;
  speedup: number;
}

export function benchMask(sizes: number[], minMs: number): MaskResult[] {
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const results: MaskResult[] = [];
  for (const size of sizes) {
    // ~4 MiB of work per pass so small sizes are not all loop overhead.
    const reps = Math.max(1, Math.floor((4 * 1024 * 1024) / size));
    // Offset 1: payloads inside socket chunks are rarely aligned.
    const buf = Buffer.alloc(size + 1).subarray(1);
    const ref = timePasses(() => {
      for (let r = 0; r < reps; r++) maskReference(buf, mask, 0, size);
    }, minMs);
    const fast = timePasses(() => {
      for (let r = 0; r < reps; r++) unmask(buf, 0x37, 0xfa, 0x21, 0x3d, 0, size);
    }, minMs);
    const refG = (reps * size) / ref.nsPerPass;
    const fastG = (reps * size) / fast.nsPerPass;
    results.push({ size, referenceGBps: round(refG), fastGBps: round(fastG), speedup: round(fastG / refG) });
  }
  return results;
}
