// Timing helpers: run a pass repeatedly for at least `minMs`, report the
// median of per-pass times (robust to a GC or a scheduler hiccup); ratios of
// CPU time interleaved; medians and rounding; the markdown tables every case
// prints.
export interface Timing {
  /** Median nanoseconds per pass. */
  nsPerPass: number;
  passes: number;
}

export function timePasses(pass: () => void, minMs: number, minPasses = 5): Timing {
  // Warm-up: let the JIT settle on the hot path before measuring.
  const warmEnd = performance.now() + Math.min(200, minMs / 2);
  while (performance.now() < warmEnd) pass();
  const samples: number[] = [];
  const end = performance.now() + minMs;
  while (samples.length < minPasses || performance.now() < end) {
    const t0 = process.hrtime.bigint();
    pass();
    samples.push(Number(process.hrtime.bigint() - t0));
    if (samples.length > 100_000) break;
  }
  samples.sort((a, b) => a - b);
  return { nsPerPass: samples[samples.length >> 1], passes: samples.length };
}

/**
 * Runs `a` and `b` alternately (a then b, then b then a, …) for at least
 * `minMs` and `minPairs` pairs, and returns the median over the pairs of
 * a's CPU time ÷ b's. CPU time (this process's user + system) leaves out the
 * time a pass waited for a core, and two passes measured back to back see the
 * same load: on a shared machine the ratio holds still where wall-time
 * medians taken seconds apart do not.
 */
export function cpuRatioInterleaved(a: () => void, b: () => void, minMs: number, minPairs = 5): number {
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const ratios: number[] = [];
  const end = performance.now() + minMs;
  for (let pair = 0; (ratios.length < minPairs || performance.now() < end) && pair < 100_000; pair++) {
    let ta: number;
    let tb: number;
    const t0 = cpu();
    if (pair % 2 === 0) {
      a();
      const t1 = cpu();
      b();
      ta = t1 - t0;
      tb = cpu() - t1;
    } else {
      b();
      const t1 = cpu();
      a();
      tb = t1 - t0;
      ta = cpu() - t1;
    }
    if (ta > 0 && tb > 0) ratios.push(ta / tb);
  }
  return median(ratios);
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024) return `${n / 1024} KiB`;
  return `${n} B`;
}

export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Prints one case's table under its title, as every case does. */
export function print(title: string, table: string): void {
  process.stdout.write(`\n### ${title}\n\n${table}\n`);
}

/** A target's last column. */
export const met = (ok: boolean): string => (ok ? 'met' : 'missed');

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** How a figure of a median cell is rounded: to a whole number, or to this many significant figures. */
export type Rounding = 'whole' | number;

/**
 * One cell's rounds made one: the first round's labels (server, payload,
 * connections…), and each figure named in `figures` the median of the
 * rounds, rounded as it says.
 */
export function medianCell<T extends object>(samples: readonly T[], figures: { readonly [K in keyof T]?: T[K] extends number ? Rounding : never }): T {
  const out: T = { ...samples[0] };
  for (const key of Object.keys(figures) as (keyof T & string)[]) {
    const rounding = figures[key] as Rounding;
    const x = median(samples.map((s) => s[key] as number));
    (out as Record<string, number>)[key] = rounding === 'whole' ? Math.round(x) : sig(x, rounding);
  }
  return out;
}

/** `x` to `digits` significant figures (whole numbers are kept whole). */
export function sig(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const magnitude = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return Number(x.toFixed(Math.min(decimals, 6)));
}

/**
 * For a server child's memory reading: runs `then` after a full collection
 * when `wanted` and the child runs with --expose-gc, at once otherwise. Twice
 * (the first pass may only promote what the second frees), then once more
 * after `pauseMs`: V8 frees dead ArrayBuffers' memory on a background thread,
 * so read at once, `external`, `arrayBuffers` and RSS can still count buffers
 * that are already garbage.
 */
export function afterFullGc(wanted: boolean, then: () => void, pauseMs: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!wanted || gc === undefined) {
    then();
    return;
  }
  gc();
  gc();
  setTimeout(() => {
    gc();
    then();
  }, pauseMs);
}
