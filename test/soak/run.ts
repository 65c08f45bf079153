// `npm run soak -- --minutes N`: the soak for as long as you like, printing samples.
import { parseArgs } from 'node:util';
import { soak } from './soak.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' }, concurrency: { type: 'string' } } });
const minutes = Number(values.minutes ?? 30);
const MiB = 1024 * 1024;
console.log(`soak for ${minutes} min`);
const report = await soak({
  seconds: minutes * 60,
  concurrency: values.concurrency === undefined ? undefined : Number(values.concurrency),
  sampleEveryMs: 15_000,
  onSample: (s, t) =>
    console.log(`${t.toFixed(0).padStart(5)} s  rss ${(s.rss / MiB).toFixed(1)} MiB  heap ${(s.heapUsed / MiB).toFixed(1)} MiB  handles ${s.handles}  connections ${s.connections}`),
});
const f = (s: typeof report.final): string => `rss ${(s.rss / MiB).toFixed(1)} MiB, heap ${(s.heapUsed / MiB).toFixed(1)} MiB, handles ${s.handles}, connections ${s.connections}`;
console.log(`done: ${report.cycles} cycles, ${report.messages} echoes in ${report.seconds.toFixed(0)} s`);
console.log(`after warm-up: ${f(report.baseline)}`);
console.log(`at the end:    ${f(report.final)}`);
console.log(JSON.stringify({ minutes, cycles: report.cycles, messages: report.messages, baseline: report.baseline, final: report.final }));
