// `npm run fuzz -- [--iterations N] [--seed S] [--deflate]`: the fuzzer for longer than the test budget
// (--deflate: permessage-deflate negotiated, compressed messages from clients with and without context takeover).
import { parseArgs } from 'node:util';
import { fuzzHead, fuzzSession, type FuzzStats } from './fuzz-engine.js';

const { values } = parseArgs({ options: { iterations: { type: 'string' }, seed: { type: 'string' }, deflate: { type: 'boolean' } } });
const iterations = Number(values.iterations ?? 1_000_000);
const seed = Number(values.seed ?? Date.now() % 1_000_000_000);
const started = performance.now();
const session: FuzzStats = { inputs: 0, failures: {} };
const head: FuzzStats = { inputs: 0, failures: {} };
const batch = 10_000;
for (let done = 0; done < iterations; done += batch) {
  const n = Math.min(batch, iterations - done);
  fuzzSession(seed + done * 7919, n, session);
  if (values.deflate === true) {
    fuzzSession(seed + done * 7919, n, session, { takeover: false });
    fuzzSession(seed + done * 7919, n, session, { takeover: true });
  }
  fuzzHead(seed + done * 104729, n, head);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(JSON.stringify({ seed, iterations, seconds, frameInputs: session.inputs, headInputs: head.inputs, failures: session.failures, heads: head.failures }));
