// One clock for every process of the machine, for the latency of a
// publication from the server process that stamps it to the client that
// receives it (cases 7 and 9), and the check that it is one.
import { sig } from './measure.js';

/**
 * Milliseconds on CLOCK_MONOTONIC, the same clock in every process of the
 * machine (Linux): process.hrtime is read once to find where this process's
 * performance.now() starts on it, and performance.now() — which allocates
 * nothing, unlike hrtime.bigint() — does the rest. performance.timeOrigin is
 * not used: it is the wall clock at start-up, read apart from the monotonic
 * one, so two processes' origins can disagree (checkClock measures by how
 * much, and checks this clock against a child's).
 */
function calibrate(): number {
  // The reading of hrtime between two of performance.now() that are closest
  // together (the first calls are slow: lazy initialisation).
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    const hr = process.hrtime();
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = hr[0] * 1e3 + hr[1] / 1e6 - (a + b) / 2;
    }
  }
  return offset;
}
const offsetMs = calibrate();
export function monoMs(): number {
  return performance.now() + offsetMs;
}

/** A child's answer to a clock request: monoMs() and the timeOrigin-based time, read together. */
export function clockReading(): { mono: number; wall: number } {
  return { mono: monoMs(), wall: performance.timeOrigin + performance.now() };
}

export interface ClockCheck {
  roundTripMs: number;
  monotonicSkewMs: number;
  timeOriginSkewMs: number;
}

/**
 * Checks that the payloads' clock is one clock across processes: a child's
 * monoMs(), read by `read` (its clockReading()), must fall between two
 * readings of ours around the request. Also reports by how much
 * performance.timeOrigin + performance.now() disagrees between the two
 * processes (why it is not used).
 */
export async function checkClock(read: () => Promise<{ mono: number; wall: number }>): Promise<ClockCheck> {
  let best: { roundTripMs: number; monotonicSkewMs: number } | undefined;
  for (let i = 0; i < 20; i++) {
    const before = monoMs();
    const reply = await read();
    const after = monoMs();
    if (reply.mono < before || reply.mono > after) throw new Error(`clock check: the child's monotonic clock read ${reply.mono} ms, outside [${before}, ${after}]`);
    const roundTripMs = after - before;
    if (best === undefined || roundTripMs < best.roundTripMs) best = { roundTripMs, monotonicSkewMs: reply.mono - (before + after) / 2 };
  }
  // Each process's timeOrigin-based time minus its monotonic time: equal if timeOrigin were one clock.
  const reply = await read();
  const ours = performance.timeOrigin + performance.now() - monoMs();
  const theirs = reply.wall - reply.mono;
  return { roundTripMs: sig(best?.roundTripMs ?? NaN), monotonicSkewMs: sig(best?.monotonicSkewMs ?? NaN), timeOriginSkewMs: sig(theirs - ours) };
}
