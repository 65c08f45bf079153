// primeMalloc (src/cli/malloc-priming.ts) in a fresh process, the way the CLI runs
// it at start: afterwards a 20 MiB buffer comes from glibc's heap (its mmap
// threshold was raised), where without it the same buffer is a mapping of its
// own — and so freed memory up to twice that stays in the heap instead of
// being returned to the kernel at every scavenge. Linux with glibc, as CI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli-process.js';

const PRIMING = `${ROOT}dist/cli/malloc-priming.js`;

/** Runs a fresh node that optionally primes, then allocates 20 MiB; returns how much its [heap] mapping grew. */
function heapGrowthMiB(prime: boolean): number {
  const script = `
    import { readFileSync } from 'node:fs';
    const heap = () => {
      const line = readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => l.endsWith('[heap]'));
      if (line === undefined) return 0;
      const [from, to] = line.split(' ')[0].split('-').map((h) => parseInt(h, 16));
      return to - from;
    };
    if (${prime}) await (await import(${JSON.stringify(PRIMING)})).primeMalloc();
    const before = heap();
    const block = Buffer.allocUnsafeSlow(20 * 1024 * 1024);
    block.fill(1);
    process.stdout.write(String((heap() - before) / (1024 * 1024)));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  expect(run.status, run.stderr).toBe(0);
  return Number(run.stdout);
}

describe('primeMalloc', () => {
  it('raises glibc thresholds: a 20 MiB buffer then comes from the heap, and without priming it does not', () => {
    expect(existsSync('/proc/self/maps'), 'this test reads /proc (Linux)').toBe(true);
    expect(existsSync(PRIMING), 'npm test builds dist/ first').toBe(true);
    expect(heapGrowthMiB(false)).toBeLessThan(1);
    expect(heapGrowthMiB(true)).toBeGreaterThanOrEqual(20);
  });
});
