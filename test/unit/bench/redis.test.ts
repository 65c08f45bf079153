// Case 9's publisher pacing (bench/redis/redis-pacing.ts), kept pure so that
// it can be checked here.
import { describe, expect, it } from 'vitest';
import { creditWindow, publicationsDue, type Pace } from '../../../bench/redis/redis-pacing.js';

describe('bench case 9: the cross-node publisher\'s pacing', () => {
  // Case 9's subscribers, on both nodes, are case 7's (PublicationReceiver, checked in fanout.test.ts): a gap — a
  // publication Redis did not carry to node B — a repeat or a broken frame fails the run.
  const pace = (p: Partial<Pace>): Pace => ({ rate: 0, elapsedMs: 0, seq: 0, acked: 0, window: 16, burst: 4, ...p });

  it('at a fixed rate, publishes what is due since the cell started, never ahead', () => {
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 1, window: 1000 }))).toEqual({ count: 10, heldBack: false });
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 1.05, seq: 10, acked: 10, window: 1000 }))).toEqual({ count: 0, heldBack: false });
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 2.5, seq: 10, acked: 10, window: 1000 }))).toEqual({ count: 15, heldBack: false });
    // Behind its schedule (a slow tick): catches up, within the credit.
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 10, seq: 20, acked: 20, window: 1000 }))).toEqual({ count: 80, heldBack: false });
  });

  it('never gets more than the window ahead of the last ack, and says when that held it back', () => {
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 10, seq: 20, acked: 10, window: 16 }))).toEqual({ count: 6, heldBack: true });
    expect(publicationsDue(pace({ rate: 10_000, elapsedMs: 10, seq: 26, acked: 10, window: 16 }))).toEqual({ count: 0, heldBack: true });
    // As fast as absorbed: a burst per tick, within the credit.
    expect(publicationsDue(pace({ seq: 8, acked: 0 }))).toEqual({ count: 4, heldBack: false });
    expect(publicationsDue(pace({ seq: 14, acked: 0 }))).toEqual({ count: 2, heldBack: true });
    expect(publicationsDue(pace({ seq: 16, acked: 0 }))).toEqual({ count: 0, heldBack: true });
    // An ack behind what was published (a stale one) gives no negative credit.
    expect(publicationsDue(pace({ seq: 40, acked: 0 }))).toEqual({ count: 0, heldBack: true });
  });

  it('the window holds about as many deliveries per node whatever the subscribers, at least 4 publications', () => {
    expect(creditWindow(1000)).toBe(16);
    expect(creditWindow(200)).toBe(80);
    expect(creditWindow(1)).toBe(16_000);
    expect(creditWindow(100_000)).toBe(4);
  });
});
