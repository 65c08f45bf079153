// Time at the edge, injectable. Deadlines (the handshake's), the heartbeat and
// the per-connection idle and close timers read the time and set timers only
// through a Clock, so a test can drive them with a manual one instead of
// sleeping, and the monotonic clock keeps deadlines from jumping with the
// wall clock.

/** A pending timer: Node's Timeout has these, and so must a test clock's. */
export interface Timer {
  /** Starts the timer's full delay again from now. */
  refresh(): Timer;
  /** The timer does not keep the process alive. */
  unref(): Timer;
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
