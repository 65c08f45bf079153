// Bounded polling for conditions that have no event to wait on (a counter in
// /stats, a log line, a file watcher's reload), and a timed measurement.
import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `check` every `everyMs` until it returns a value other than undefined/false, or fails after `ms`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string, everyMs = 20): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const result = await check();
    if (result !== undefined && result !== false) return result;
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(everyMs);
  }
}

/** Runs `fn` and returns its result with the milliseconds it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}
