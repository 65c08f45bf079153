// glibc's malloc gives the free top of its heap back to the kernel whenever
// more than its trim threshold lies there, and that threshold starts at
// 128 KiB: glibc raises it (to twice the block's size, at most 64 MiB) only
// once the process frees a large mmap()ed block. A server that joins large
// messages into buffers of their own frees tens of MiB at each V8 scavenge, so
// until that happens by chance it trims at every scavenge and faults the
// memory back in page by page: a 64 KiB echo on one connection ran at 3–6 × the
// CPU per message in 9 runs of 19, and in none of them once a 28 MiB block had
// been allocated and freed at start (docs/guides/operating.md, "Large messages and glibc").
//
// So the server allocates and frees one such block at start, on libuv's thread
// pool, off the event loop: scrypt with N = 2^15, r = 7 takes 128 · r · (N + 2 + p)
// bytes in one allocation (28 MiB, under glibc's 32 MiB cap on the dynamic
// threshold) and ≈ 140 ms of one pool thread. Elsewhere than glibc it is a
// 28 MiB allocation and nothing more.
import { scrypt } from 'node:crypto';

/** Raises glibc's mmap and trim thresholds for this process (resolves once the block is freed). */
export function primeMalloc(): Promise<void> {
  return new Promise((resolve) => {
    scrypt('wssd', 'malloc thresholds', 16, { N: 32768, r: 7, p: 1 }, () => resolve());
  });
}
