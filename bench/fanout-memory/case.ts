// Case 7d as `npm run bench` runs it: its paces (--pace, or 1 every 1 ms and
// 20 every 2 ms; the quick run: the first only, one round), its settings and
// its table, one per pace.
import { markdownTable, median, print } from '../harness/measure.js';
import type { Pinning } from '../harness/os.js';
import { benchFanoutMemory, type FanoutMemoryOptions, type FanoutMemorySample } from './fanout-memory.js';

export interface FanoutMemoryCaseOptions {
  quick: boolean;
  /** --pace: publications per timer tick / the tick's ms, comma-separated (e.g. 1/1,20/2). */
  paceAsked: string | undefined;
  /** --ws: the ws package's path, measured beside wssd. */
  ws: string | undefined;
  ca: Buffer;
  pin: Pinning | undefined;
}

/** Measures and prints case 7d, a table per pace; returns its figures for the JSON line. */
export async function runFanoutMemoryCase(options: FanoutMemoryCaseOptions): Promise<Record<string, unknown>[]> {
  const { quick, paceAsked, ws, ca, pin } = options;
  const paces = (paceAsked ?? (quick ? '1/1' : '1/1,20/2')).split(',').map((p) => p.split('/').map(Number));
  for (const pace of paces) if (pace.length !== 2 || !pace.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--pace takes BURST/MS pairs of whole numbers (e.g. 1/1,20/2), got ${paceAsked}`);
  const figures: Record<string, unknown>[] = [];
  for (const [burst, intervalMs] of paces) {
    const settings: FanoutMemoryOptions = { readers: 50, count: 5000, size: 1024, burst, intervalMs, runs: 3, rounds: quick ? 1 : 2, settleMs: 500, ca, wsPath: ws };
    const samples = await benchFanoutMemory(settings, pin);
    printFanoutMemory(samples, settings);
    figures.push({ ...settings, ca: undefined, samples });
  }
  return figures;
}

const mib = (bytes: number): number => Math.round((bytes / (1024 * 1024)) * 10) / 10;

/** The table: per server, each round's figures, then (with several rounds) the median of the rounds. */
function printFanoutMemory(samples: FanoutMemorySample[], options: FanoutMemoryOptions): void {
  const last = options.runs - 1;
  const row = (label: string, round: string, pick: (f: (s: FanoutMemorySample) => number) => number): (string | number)[] => [
    label,
    round,
    mib(pick((s) => s.before.rss)),
    ...Array.from({ length: options.runs }, (_, i) => mib(pick((s) => s.afterRun[i].rss))),
    mib(pick((s) => s.afterRun[last].peakRss)),
    mib(pick((s) => s.afterRun[last].heapUsed)),
    mib(pick((s) => s.afterRun[last].newSpace)),
    mib(pick((s) => s.afterRun[last].external)),
    mib(pick((s) => s.afterRun[last].arrayBuffers)),
    mib(pick((s) => s.afterGc.rss)),
    mib(pick((s) => s.afterGc.heapUsed)),
    mib(pick((s) => s.afterGc.external)),
    pick((s) => s.afterRun[last].dropped),
    pick((s) => median(s.runMs)),
  ];
  const rows: (string | number)[][] = [];
  for (const kind of new Set(samples.map((s) => s.server))) {
    const mine = samples.filter((s) => s.server === kind);
    for (const s of mine) rows.push(row(kind, String(s.round + 1), (f) => f(s)));
    if (options.rounds > 1) rows.push(row(kind, 'median', (f) => median(mine.map(f))));
  }
  print(
    `7d. Fan-out memory (TLS): ${options.readers} readers + 1 subscriber that never reads, ${options.count.toLocaleString('en')} publications of ${options.size} B per run, ${options.burst} every ${options.intervalMs} ms, ${options.runs} runs on the same server; MiB, read ${options.settleMs} ms after the readers have every publication (servers interleaved, fresh children each round)`,
    markdownTable(
      ['server', 'round', 'RSS before', ...Array.from({ length: options.runs }, (_, i) => `RSS after run ${i + 1}`), 'peak RSS', 'heap used', 'young gen', 'external', 'arrayBuffers', 'RSS after GC', 'heap after GC', 'external after GC', 'dropped (non-reader)', 'ms per run'],
      rows,
    ),
  );
}
