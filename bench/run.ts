// `npm run bench [-- --quick] [-- --out FILE] [-- --only decoder,mask,...]`:
// every case, a markdown table each, and last one JSON line with every figure.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { benchDecoder } from './decoder.js';
import { benchEncoder } from './encoder.js';
import { benchMask } from './mask.js';
import { formatBytes, markdownTable } from './measure.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = values.quick === true;
const only = values.only === undefined ? undefined : new Set(values.only.split(','));
const want = (name: string): boolean => only === undefined || only.has(name);
const minMs = quick ? 150 : 600;
const results: Record<string, unknown> = { quick, node: process.version, date: new Date().toISOString() };

const print = (title: string, table: string): void => {
  process.stdout.write(`\n### ${title}\n\n${table}\n`);
};

if (want('decoder')) {
  const sizes = [0, 16, 125, 1024, 64 * 1024, 1024 * 1024];
  const decoder = benchDecoder(sizes, [16 * 1024, 1337], quick ? 16 * 1024 * 1024 : 64 * 1024 * 1024, minMs);
  results.decoder = decoder;
  print(
    `1. Decoder alone (${quick ? 16 : 64} MiB of masked client frames)`,
    markdownTable(
      ['payload', 'chunk', 'ns/frame', 'frames/s', 'payload GB/s', 'unmask-alone ns/frame', 'unmask GB/s', 'memcpy GB/s', 'decoder ÷ unmask'],
      decoder.map((r) => [formatBytes(r.payload), r.chunk, r.nsPerFrame, r.framesPerSec.toLocaleString('en'), r.payloadGBps, r.unmaskNsPerFrame, r.unmaskGBps, r.memcpyGBps, r.vsUnmask]),
    ),
  );
}

if (want('mask')) {
  const mask = benchMask([16, 64, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024], minMs);
  results.mask = mask;
  print('2. Masking: reference byte loop vs fast path (GB/s, unaligned start)', markdownTable(['size', 'reference', 'fast', 'speedup'], mask.map((r) => [formatBytes(r.size), r.referenceGBps, r.fastGBps, r.speedup])));
}

if (want('encoder')) {
  const encoder = benchEncoder([0, 16, 125, 1024, 64 * 1024, 1024 * 1024], minMs);
  results.encoder = encoder;
  print('3. Encoder / send path into a discarding writer (frames/s)', markdownTable(['payload', 'binary', 'text (string)'], encoder.map((r) => [formatBytes(r.payload), r.binaryFramesPerSec.toLocaleString('en'), r.textFramesPerSec.toLocaleString('en')])));
}

const json = JSON.stringify(results);
if (values.out !== undefined) writeFileSync(values.out, json + '\n');
process.stdout.write('\n' + json + '\n');
