// Ways to cut one input into socket-like chunks. Every chunk is a fresh copy:
// the frame decoder unmasks in place and hands out views, so two feeds of one
// fixture must never share memory.
import type { Rng } from './prng.js';

export type Chunking = { name: string; chunks: Buffer[] };

function copy(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}

export function whole(input: Uint8Array): Buffer[] {
  return [copy(input)];
}

/** Two chunks, cut before byte `at` (0 and length give an empty chunk on one side). */
export function splitAt(input: Uint8Array, at: number): Buffer[] {
  return [copy(input.subarray(0, at)), copy(input.subarray(at))];
}

export function bytewise(input: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i++) out.push(copy(input.subarray(i, i + 1)));
  return out;
}

/** Random chunk sizes in [1, maxChunk]. */
export function randomChunks(input: Uint8Array, r: Rng, maxChunk = 17): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < input.length) {
    const n = r.int(1, maxChunk);
    out.push(copy(input.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

/**
 * Every way the STYLE.md principle 10 asks for: whole, split in two at every
 * byte offset (or, for big inputs, at every offset in the first and last
 * `edge` bytes and every `stride`-th one between), one byte at a time, and
 * `randomRuns` seeded random chunkings.
 */
export function* chunkings(
  input: Uint8Array,
  r: Rng,
  opts: { randomRuns?: number; maxChunk?: number; stride?: number; edge?: number } = {},
): Generator<Chunking> {
  const { randomRuns = 20, maxChunk = 17, stride = 1, edge = 64 } = opts;
  yield { name: 'whole', chunks: whole(input) };
  for (let at = 0; at <= input.length; at++) {
    const near = at < edge || at > input.length - edge;
    if (stride === 1 || near || at % stride === 0) yield { name: `split at ${at}`, chunks: splitAt(input, at) };
  }
  yield { name: 'bytewise', chunks: bytewise(input) };
  for (let run = 0; run < randomRuns; run++) {
    yield { name: `random run ${run}`, chunks: randomChunks(input, r, maxChunk) };
  }
}
