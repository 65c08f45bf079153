// Latencies recorded while a cell's window is measured — an echo's round
// trip (case 4), a publication's publish-to-receipt time (cases 7 and 9) —
// and what the connections of one cell share besides: whether the window is
// being recorded, and the first error, which fails the cell.

/** Times in ms, up to a fixed number (the buffer is allocated once and kept from cell to cell), and their percentiles. */
export class Latencies {
  private readonly samples: Float64Array;
  /** How many are recorded. */
  count = 0;

  constructor(maxSamples: number) {
    this.samples = new Float64Array(maxSamples);
  }

  /** Records one (dropped once the buffer is full). */
  add(ms: number): void {
    if (this.count < this.samples.length) this.samples[this.count++] = ms;
  }

  /** Forgets them (keeps the buffer). */
  clear(): void {
    this.count = 0;
  }

  /** The recorded ones, in the order they came (a view). */
  recorded(): Float64Array {
    return this.samples.subarray(0, this.count);
  }

  /** The q-quantiles (0..1) of the recorded latencies, in ms. */
  percentiles(qs: number[]): number[] {
    const sorted = this.samples.slice(0, this.count).sort();
    return qs.map((q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]));
  }
}

/** What all the connections of a cell share: latencies while recording, and the first error. */
export class CellStats {
  recording = false;
  readonly latencies: Latencies;
  error: Error | undefined;

  constructor(maxSamples: number) {
    this.latencies = new Latencies(maxSamples);
  }

  /** For the next cell; keeps the latency buffer. */
  reset(): void {
    this.recording = false;
    this.latencies.clear();
    this.error = undefined;
  }

  fail(error: Error): void {
    this.error ??= error;
  }

  /** The q-quantiles (0..1) of the recorded latencies, in ms. */
  percentiles(qs: number[]): number[] {
    return this.latencies.percentiles(qs);
  }
}
