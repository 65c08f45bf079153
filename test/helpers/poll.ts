// Bounded polling for conditions that have no event to wait on (a counter in
// /stats, a log line, a file watcher's reload, a port that starts accepting).
// The one polling loop of the test tiers: use it rather than writing another.
import { setTimeout as sleep } from 'node:timers/promises';
import { describeMs, scaled } from './timeouts.js';

/**
 * Calls `check` every `everyMs` until it returns a value other than
 * undefined/false, and returns that value; fails after `ms` (scaled by
 * WSSD_TEST_TIMEOUT_FACTOR), naming `what` (a function is asked at the time
 * of the failure, so it can report what was seen). An exception from `check`
 * fails at once.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms: number,
  what: string | (() => string),
  everyMs = 20,
): Promise<T> {
  const deadline = performance.now() + scaled(ms);
  for (;;) {
    const result = await check();
    if (result !== undefined && result !== false) return result;
    if (performance.now() > deadline) throw new Error(`not within ${describeMs(ms)}: ${typeof what === 'function' ? what() : what}`);
    await sleep(everyMs);
  }
}
