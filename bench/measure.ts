// Timing helpers: run a pass repeatedly for at least `minMs`, report the
// median of per-pass times (robust to a GC or a scheduler hiccup).
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

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024) return `${n / 1024} KiB`;
  return `${n} B`;
}

export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `x` to `digits` significant figures (whole numbers are kept whole). */
export function sig(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const magnitude = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return Number(x.toFixed(Math.min(decimals, 6)));
}
