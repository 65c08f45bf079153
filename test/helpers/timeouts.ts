// One knob for every deadline the tests set themselves: WSSD_TEST_TIMEOUT_FACTOR
// (a positive number, default 1; python-websockets calls its twin
// WEBSOCKETS_TESTS_TIMEOUT_FACTOR). On a slow or busy machine, run
// `WSSD_TEST_TIMEOUT_FACTOR=3 npm test` and every wait for something that
// should happen gets three times as long.
//
// Scaled: how long the tests wait for an event (a frame, a close, a log line,
// a process start), the short windows in which a test shows that something
// did NOT happen, and the upper bounds on measured durations. Not scaled: the
// server's own timers under test (handshakeTimeout, closeTimeout, pingInterval…)
// and the lower bounds on them, which catch a timer firing early.
//
// The wait helpers (eventually, RawClient's reads, serverSide, withTimeout,
// WssdProcess.waitForLine/exited, the e2e daemons and chromium) take nominal
// milliseconds and scale them themselves; call scaled() only where a test
// measures or sleeps on its own.

const NAME = 'WSSD_TEST_TIMEOUT_FACTOR';

/** Parses the factor; anything but a positive finite number is an error, not a silent 1. */
export function parseTimeoutFactor(raw: string | undefined): number {
  if (raw === undefined) return 1;
  const factor = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(factor) || factor <= 0) {
    throw new Error(`${NAME} must be a positive number such as 1, 2.5 or 3 (got ${JSON.stringify(raw)}); unset it for the default 1`);
  }
  return factor;
}

export const TIMEOUT_FACTOR = parseTimeoutFactor(process.env[NAME]);

/** `ms` stretched by WSSD_TEST_TIMEOUT_FACTOR (rounded up to a whole millisecond). */
export function scaled(ms: number): number {
  return Math.ceil(ms * TIMEOUT_FACTOR);
}

/** "4500 ms (1500 ms × WSSD_TEST_TIMEOUT_FACTOR 3)", or "1500 ms" at the default: for failure messages. */
export function describeMs(ms: number): string {
  return TIMEOUT_FACTOR === 1 ? `${ms} ms` : `${scaled(ms)} ms (${ms} ms × ${NAME} ${TIMEOUT_FACTOR})`;
}
