import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/telemetry/log.js';
import { LogSummary } from '../../../src/telemetry/log-summary.js';
import { ManualClock } from '../helpers/manual-clock.js';

function recording(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log: Logger = { info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
  return { log, lines };
}

describe('LogSummary', () => {
  it('200,000 repeats of one condition in 9 s make two lines: the first at once, then a count', () => {
    const clock = new ManualClock();
    const { log, lines } = recording();
    const summary = new LogSummary(log, clock, 10_000);
    for (let i = 0; i < 200_000; i++) {
      summary.warn('undelivered', `publication ${i} of "t" did not reach the broker`);
      if (i % 20_000 === 0) clock.advance(900);
    }
    expect(lines).toEqual(['warn publication 0 of "t" did not reach the broker']);
    clock.advance(1000);
    expect(lines).toEqual([
      'warn publication 0 of "t" did not reach the broker',
      'warn publication 199999 of "t" did not reach the broker (199999 more like this in the last 10 s)',
    ]);
  });

  it('kinds are counted apart; a kind that went quiet is logged at once again next time', () => {
    const clock = new ManualClock();
    const { log, lines } = recording();
    const summary = new LogSummary(log, clock, 1000);
    summary.warn('a', 'a1');
    summary.error('b', 'b1');
    summary.warn('a', 'a2');
    clock.advance(1000);
    expect(lines).toEqual(['warn a1', 'error b1', 'warn a2 (1 more like this in the last 1 s)']);
    // 'a' repeated in the last interval: it stays held one more; 'b' did not and is forgotten.
    summary.error('b', 'b2');
    summary.warn('a', 'a3');
    clock.advance(1000);
    expect(lines.slice(3)).toEqual(['error b2', 'warn a3 (1 more like this in the last 1 s)']);
    clock.advance(3000);
    summary.warn('a', 'a4');
    expect(lines.at(-1)).toBe('warn a4');
  });
});
