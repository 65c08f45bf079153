// The synchronous zlib contexts behind permessage-deflate, both engines: the
// native one (node:zlib's handle, feature-detected) and the fallback on the
// public API. RFC 7692 §7.2: the tail is stripped and appended, context
// takeover carries the window, a final block ends a stream, limits hold.
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { InflateWindow } from '../../../src/extensions/inflate-window.js';
import { createDeflater, createInflater, InflateError, nativeEngineAvailable, setScratchSize, useEngine } from '../../../src/extensions/zlib-engine.js';

const SETTINGS = { windowBits: 15, level: 6, memLevel: 8 };
const json = (i: number): Buffer => Buffer.from(JSON.stringify({ id: i, user: `user-${i % 7}`, text: 'the quick brown fox jumps over the lazy dog', tags: ['a', 'b', 'c'], at: 1700000000 + i }));

it('the native engine is available on this Node (else the fallback alone would run)', () => {
  expect(nativeEngineAvailable).toBe(true);
});

describe.each(['native', 'fallback'] as const)('%s engine', (engine) => {
  afterEach(() => {
    useEngine(nativeEngineAvailable ? 'native' : 'fallback');
    setScratchSize(64 * 1024);
  });

  it('§7.2.1: output has no 00 00 ff ff tail, and inflates back with it appended', () => {
    useEngine(engine);
    const d = createDeflater(SETTINGS);
    const out = d.deflate(Buffer.from('Hello'));
    // The RFC's own example (§7.2.3.1).
    expect(out.toString('hex')).toBe('f248cdc9c90700');
    expect(createInflater(15).inflate(out, 100).toString()).toBe('Hello');
  });

  it('§7.2.3.6: an empty message', () => {
    useEngine(engine);
    const out = createDeflater(SETTINGS).deflate(Buffer.alloc(0));
    expect(out.length).toBeLessThanOrEqual(1);
    expect(createInflater(15).inflate(out, 10).length).toBe(0);
    expect(createInflater(15).inflate(Buffer.from([0x00]), 10).length).toBe(0);
    expect(createInflater(15).inflate(Buffer.alloc(0), 10).length).toBe(0);
  });

  it('§7.2.3.2: with context takeover the second message refers back into the first', () => {
    useEngine(engine);
    const d = createDeflater(SETTINGS);
    const first = d.deflate(Buffer.from('Hello'));
    const second = d.deflate(Buffer.from('Hello'));
    if (engine === 'native') expect(second.toString('hex')).toBe('f200110000');
    const history = new InflateWindow(15);
    let inflater = createInflater(15);
    for (const m of [first, second]) {
      const out = inflater.inflate(m, 100);
      history.push(out);
      expect(out.toString()).toBe('Hello');
      if (inflater.ended) inflater = createInflater(15, history.window());
    }
  });

  it('many messages through one context, output spanning several scratch pieces', () => {
    useEngine(engine);
    setScratchSize(1000);
    const d = createDeflater(SETTINGS);
    const history = new InflateWindow(15);
    let inflater = createInflater(15);
    for (let i = 0; i < 200; i++) {
      const message = i % 50 === 0 ? Buffer.from('z'.repeat(5000) + String(i)) : json(i);
      const out = inflater.inflate(d.deflate(message), 1 << 20);
      expect(out.equals(message)).toBe(true);
      history.push(out);
      if (inflater.ended) inflater = createInflater(15, history.window());
    }
  });

  it('a message ending in a final (BFINAL) block inflates, and the next starts from the saved window', () => {
    useEngine(engine);
    const first = Buffer.from('a window worth remembering, a window worth remembering');
    const withFinal = zlib.deflateRawSync(first); // Z_FINISH: ends with BFINAL
    const history = new InflateWindow(15);
    let inflater = createInflater(15);
    const out = inflater.inflate(withFinal, 1000);
    expect(out.equals(first)).toBe(true);
    expect(inflater.ended).toBe(true);
    history.push(out);
    inflater = createInflater(15, history.window());
    // The client's next message refers back into the first (it was compressed with that dictionary).
    const second = zlib.deflateRawSync(Buffer.from('a window worth remembering!'), { dictionary: first, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(inflater.inflate(second.subarray(0, second.length - 4), 1000).toString()).toBe('a window worth remembering!');
  });

  it('limit: exactly `limit` bytes pass, one more fails', () => {
    useEngine(engine);
    const message = Buffer.alloc(100_000, 0x61);
    const compressed = createDeflater(SETTINGS).deflate(message);
    expect(createInflater(15).inflate(compressed, 100_000).length).toBe(100_000);
    expect(() => createInflater(15).inflate(compressed, 99_999)).toThrow(InflateError);
    try {
      createInflater(15).inflate(compressed, 99_999);
    } catch (error) {
      expect((error as InflateError).reason).toBe('too-big');
    }
  });

  it('a bomb: 1 GiB of zeros in ≈ 1 MiB is refused after at most the limit, quickly', () => {
    useEngine(engine);
    // 64 KiB of zeros deflated, repeated: each piece is a non-final block, so the pieces concatenate.
    const piece = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 1024 }, () => piece));
    const t = performance.now();
    expect(() => createInflater(15).inflate(bomb, 1 << 20)).toThrow(/more than/);
    expect(performance.now() - t).toBeLessThan(500);
  });

  it('corrupt data is an InflateError (corrupt), not a crash', () => {
    useEngine(engine);
    for (const bad of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x07]), Buffer.from('not deflate at all, nope')]) {
      try {
        createInflater(15).inflate(bad, 1000);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(InflateError);
        expect((error as InflateError).reason).toBe('corrupt');
      }
    }
  });
});

describe('History: the last window of a stream', () => {
  it('keeps the last 2^bits bytes across messages of any size', () => {
    const h = new InflateWindow(8);
    expect(h.window()).toBeUndefined();
    h.push(Buffer.from('abc'));
    expect(h.window()!.toString()).toBe('abc');
    const big = Buffer.alloc(1000, 0x62);
    big[999] = 0x63;
    h.push(big);
    expect(h.window()!.length).toBe(256);
    expect(h.window()![255]).toBe(0x63);
    for (let i = 0; i < 100; i++) h.push(Buffer.from([i]));
    const w = h.window()!;
    expect(w.length).toBe(256);
    expect(w[255]).toBe(99);
    expect(w[155]).toBe(0x63);
    expect(h.held).toBeLessThanOrEqual(256 + 100);
  });
});
