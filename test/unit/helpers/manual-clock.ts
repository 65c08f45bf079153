// A Clock that moves only when a test says so: timers fire in time order as
// advance() passes them, so timer-driven behaviour is tested without sleeping.
import type { Clock, Timer } from '../../../src/io/clock.js';

interface Pending {
  at: number;
  seq: number;
  delay: number;
  callback: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const entry: Pending = { at: this.time + ms, seq: this.seq++, delay: ms, callback, cancelled: false };
    this.pending.add(entry);
    const clock = this;
    const timer: Timer & { entry: Pending } = {
      entry,
      refresh() {
        entry.at = clock.time + entry.delay;
        entry.seq = clock.seq++;
        clock.pending.add(entry);
        return timer;
      },
      unref() {
        return timer;
      },
    };
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer === undefined) return;
    this.pending.delete((timer as Timer & { entry: Pending }).entry);
  }

  /** Timers not yet fired or cleared. */
  get timers(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order (also those set while advancing). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let fired = 0; fired < 100_000; fired++) {
      let next: Pending | undefined;
      for (const p of this.pending) if (p.at <= end && (next === undefined || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (next === undefined) break;
      this.pending.delete(next);
      this.time = next.at;
      next.callback();
    }
    this.time = end;
  }
}
