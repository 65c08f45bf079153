// The 2-minute soak inside `npm test`: a server under churn must end where it
// started. Bounds, stated: after the churn stops, no connection and no
// accepted socket (upgraded or not) is left, the server has at most 5 more
// active handles than after warm-up, its heap (after GC) grew by less than
// 8 MiB and its RSS by less than 48 MiB.
import { describe, expect, it } from 'vitest';
import { scaled } from '../helpers/timeouts.js';
import { soak } from './soak.js';

const SECONDS = Number(process.env.WSSD_SOAK_SECONDS ?? 120);
const MiB = 1024 * 1024;

describe('soak: connection and message churn', () => {
  it(`holds memory and handles flat over ${SECONDS} s of churn`, async () => {
    const report = await soak({ seconds: SECONDS });
    const { baseline, final } = report;
    const line = (label: string, s: typeof final): string =>
      `${label}: rss ${(s.rss / MiB).toFixed(1)} MiB, heap ${(s.heapUsed / MiB).toFixed(1)} MiB, handles ${s.handles}, sockets ${s.sockets}, connections ${s.connections}`;
    console.log(`soak ${report.seconds.toFixed(0)} s: ${report.cycles} cycles, ${report.messages} echoes\n${line('after warm-up', baseline)}\n${line('at the end', final)}`);
    expect(report.cycles).toBeGreaterThan(SECONDS * 20);
    expect(report.messages).toBeGreaterThan(SECONDS * 20);
    expect(final.connections).toBe(0);
    expect(final.sockets).toBe(0);
    expect(final.handles).toBeLessThanOrEqual(baseline.handles + 5);
    expect(final.heapUsed - baseline.heapUsed).toBeLessThan(8 * MiB);
    expect(final.rss - baseline.rss).toBeLessThan(48 * MiB);
  }, SECONDS * 1000 + scaled(60_000));
});
