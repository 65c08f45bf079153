// At most N of something at once (history reads from Redis); the rest wait
// their turn in order. Waiting costs one closure each and is bounded by what
// the callers are bounded by (subscriptions being resumed, topics recovering).
import { Fifo } from '../redis/fifo.js';

export class Semaphore {
  private running = 0;
  private readonly waiting = new Fifo<() => void>();

  constructor(private readonly limit: number) {}

  /** Runs `task` when a slot is free, and frees the slot when the task settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, if any.
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }
}
