import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// One config for every tier; `npm test` runs them all. Unit tests take
// milliseconds; integration and e2e tests set their own longer timeouts.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: keep socket-heavy files from starving each other.
    maxWorkers: 2,
  },
});
