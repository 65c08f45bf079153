// Cases 1–3 as `npm run bench` runs them, in the bench's own process: their
// sizes (the quick run decodes 16 MiB rather than 64) and their tables.
import { formatBytes, markdownTable, met, print } from '../harness/measure.js';
import { benchDecoder, type DecoderResult } from './decoder.js';
import { benchEncoder, type EncoderResult } from './encoder.js';
import { benchMask, type MaskResult } from './mask.js';

/** Case 1; `minMs`: how long each figure is measured for. */
export function runDecoderCase(quick: boolean, minMs: number): DecoderResult[] {
  const sizes = [0, 16, 125, 1024, 64 * 1024, 1024 * 1024];
  const decoder = benchDecoder(sizes, [16 * 1024, 1337], quick ? 16 * 1024 * 1024 : 64 * 1024 * 1024, minMs);
  print(
    `1. Decoder alone (${quick ? 16 : 64} MiB of masked client frames)`,
    markdownTable(
      ['payload', 'chunk', 'ns/frame', 'frames/s', 'payload GB/s', 'unmask-alone ns/frame', 'unmask GB/s', 'JS XOR GB/s', 'memcpy GB/s', 'fresh Buffer + copy GB/s', 'decoder ÷ unmask (time)', 'decoder ÷ JS XOR (GB/s)', 'decoder ÷ JS XOR (CPU time, interleaved)', 'decoder ÷ fresh copy (GB/s)', 'page faults / MiB'],
      decoder.map((r) => [
        formatBytes(r.payload),
        r.chunk,
        r.nsPerFrame,
        r.framesPerSec.toLocaleString('en'),
        r.payloadGBps,
        r.unmaskNsPerFrame,
        r.unmaskGBps,
        r.jsXorGBps,
        r.memcpyGBps,
        r.freshCopyGBps === 0 ? '' : r.freshCopyGBps,
        r.vsUnmask,
        r.payload === 0 ? '' : r.vsJsXor,
        r.payload === 0 ? '' : r.vsJsXorCpu,
        r.freshCopyGBps === 0 ? '' : r.vsFreshCopy,
        r.payload === 0 ? '' : r.faultsPerMiB,
      ]),
    ),
  );
  return decoder;
}

/** The decoder's rows of case 4c's targets table (issue #14): 64 KiB and 1 MiB in 16 KiB chunks ÷ the JS XOR floor, at least 0.9. */
export function decoderTargetRows(decoder: readonly DecoderResult[]): (string | number)[][] {
  const rows: (string | number)[][] = [];
  for (const d of decoder) {
    if (d.chunk !== 16 * 1024 || (d.payload !== 64 * 1024 && d.payload !== 1024 * 1024)) continue;
    rows.push([`decoder ${formatBytes(d.payload)} in 16 KiB chunks ÷ JS XOR floor (GB/s; CPU time interleaved: ${d.vsJsXorCpu})`, d.vsJsXor, '', '≥ 0.9', met(d.vsJsXor >= 0.9)]);
  }
  return rows;
}

/** Case 2. */
export function runMaskCase(minMs: number): MaskResult[] {
  const mask = benchMask([16, 64, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024], minMs);
  print('2. Masking: reference byte loop vs fast path (GB/s, unaligned start)', markdownTable(['size', 'reference', 'fast', 'speedup'], mask.map((r) => [formatBytes(r.size), r.referenceGBps, r.fastGBps, r.speedup])));
  return mask;
}

/** Case 3. */
export function runEncoderCase(minMs: number): EncoderResult[] {
  const encoder = benchEncoder([0, 16, 125, 1024, 64 * 1024, 1024 * 1024], minMs);
  print('3. Encoder / send path into a discarding writer (frames/s)', markdownTable(['payload', 'binary', 'text (string)'], encoder.map((r) => [formatBytes(r.payload), r.binaryFramesPerSec.toLocaleString('en'), r.textFramesPerSec.toLocaleString('en')])));
  return encoder;
}
