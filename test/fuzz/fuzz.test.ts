// The fuzz tier inside `npm test`: a fixed seed range, so a failure is
// reproducible; `npm run fuzz -- --iterations N --seed S` runs longer.
import { describe, expect, it } from 'vitest';
import { fuzzHead, fuzzSession, type FuzzStats } from './fuzz-engine.js';

describe('fuzz: WebSocketSession over valid, mutated and random frame streams', () => {
  it('keeps every invariant over 100,000 inputs in random chunkings', () => {
    const stats: FuzzStats = { inputs: 0, failures: {} };
    fuzzSession(1, 100_000, stats);
    expect(stats.inputs).toBe(100_000);
    // The mutations must actually reach the failure paths, or the fuzzer proves nothing.
    for (const code of ['WS_ERR_UNEXPECTED_RSV', 'WS_ERR_INVALID_OPCODE', 'WS_ERR_INVALID_UTF8', 'WS_ERR_CONTROL_TOO_LONG', 'WS_ERR_MESSAGE_TOO_BIG']) {
      expect(stats.failures[code] ?? 0, code).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe.each([
  { name: 'each message compressed afresh', takeover: false },
  { name: 'the client keeps its window', takeover: true },
])('fuzz: permessage-deflate negotiated, $name', ({ takeover }) => {
  it('keeps every invariant over 10,000 inputs, half the messages compressed', () => {
    const stats: FuzzStats = { inputs: 0, failures: {} };
    fuzzSession(1_000_001, 10_000, stats, { takeover });
    expect(stats.inputs).toBe(10_000);
    for (const code of ['WS_ERR_UNEXPECTED_RSV', 'WS_ERR_INVALID_COMPRESSED_DATA', 'WS_ERR_INVALID_UTF8', 'WS_ERR_MESSAGE_TOO_BIG']) {
      expect(stats.failures[code] ?? 0, code).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('fuzz: request-head reader and parser', () => {
  it('gives the same verdict whole and chunked, and throws only HandshakeErrors, over 100,000 heads', () => {
    const stats: FuzzStats = { inputs: 0, failures: {} };
    fuzzHead(1, 100_000, stats);
    expect(stats.inputs).toBe(100_000);
    expect(stats.failures['ok GET'] ?? 0).toBeGreaterThan(0);
    expect(stats.failures['refused 400'] ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
