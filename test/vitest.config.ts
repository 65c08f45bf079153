import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { scaled } from './helpers/timeouts.js';

// One config for every tier; `npm test` runs them all. Unit tests take
// milliseconds; integration and e2e tests set their own longer timeouts.
// Every timeout here and in the tests is scaled by WSSD_TEST_TIMEOUT_FACTOR
// (test/helpers/timeouts.ts).
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    testTimeout: scaled(20_000),
    hookTimeout: scaled(30_000),
    // Two cores: keep socket-heavy files from starving each other.
    maxWorkers: 2,
    // The client's tests in Node use its WebSocket: global from Node 22, behind this flag on Node 20.
    execArgv: typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ['--experimental-websocket'] : [],
  },
});
