// The client's pure parts: the payload codec (against Node's base64 as the reference), frames,
// token times, the backoff, and the cursor's exactly-once, in-order rules.
import { describe, expect, it } from 'vitest';
import {
  backoffDelay, ClientError, decodeBase64, decodeData, encodeBase64, encodeData, parseFrame, readHistory, refreshDelay, tokenTimes, TopicCursor,
} from '../../../src/client/wssd-protocol.js';
import type { Delivery } from '../../../src/client/wssd-protocol.js';
import type { Publication } from '../../../src/client/types.js';
import { rng } from '../helpers/prng.js';
import { jwt } from './fake-server.js';

describe('base64 (RFC 4648 §4)', () => {
  it('encodes every length 0–64 as Node does, and decodes it back', () => {
    const random = rng(1);
    for (let n = 0; n <= 64; n++) {
      const bytes = new Uint8Array(random.bytes(n));
      const text = encodeBase64(bytes);
      expect(text, `length ${n}`).toBe(Buffer.from(bytes).toString('base64'));
      expect(decodeBase64(text), `length ${n}`).toEqual(bytes);
    }
  });

  it('decodes without padding and in the URL alphabet (a JWT)', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xbf, 0x01]);
    expect(decodeBase64(Buffer.from(bytes).toString('base64url'))).toEqual(bytes);
    expect(decodeBase64('+/+/')).toEqual(decodeBase64('-_-_'));
  });

  it('refuses what is not base64, as a protocol error', () => {
    for (const bad of ['a', 'ab$=', 'abc===', 'é===']) {
      expect(() => decodeBase64(bad), bad).toThrow(ClientError);
    }
  });

  it('sends strings as data and bytes (any view, or a buffer) as data_base64', () => {
    expect(encodeData('héllo')).toEqual({ data: 'héllo' });
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    expect(encodeData(bytes)).toEqual({ data_base64: 'AAEC+v8=' });
    expect(encodeData(bytes.buffer)).toEqual({ data_base64: 'AAEC+v8=' });
    expect(encodeData(new DataView(bytes.buffer, 1, 2))).toEqual({ data_base64: 'AQI=' });
    expect(decodeData({ data_base64: 'AAEC+v8=' })).toEqual(bytes);
    expect(decodeData({ data: 'x' })).toBe('x');
    expect(decodeData({})).toBeUndefined();
  });
});

describe('frames', () => {
  it('reads replies, error replies (id null too) and pushes', () => {
    expect(parseFrame('{"id":3,"result":{"a":1}}')).toEqual({ kind: 'reply', id: 3, result: { a: 1 } });
    const error = parseFrame('{"id":null,"error":{"code":"bad_request","message":"id out of range"}}');
    expect(error.kind === 'reply' && error.id === null && error.error?.code).toBe('bad_request');
    expect(parseFrame('{"push":"pub","topic":"t","data":"x"}')).toMatchObject({ kind: 'push', push: 'pub' });
  });

  it('refuses what wssd.v1 does not send', () => {
    for (const bad of ['not json', '[1]', '"x"', '{"nothing":1}']) {
      expect(() => parseFrame(bad), bad).toThrow(expect.objectContaining({ code: 'protocol_error' }));
    }
  });

  it('gives history publications their position epoch', () => {
    const result = readHistory('t', { publications: [{ offset: 1, data: 'a' }, { offset: 2, data_base64: 'AQ==' }], position: { offset: 2, epoch: 'E' }, recovered: true });
    expect(result.publications).toEqual([
      { topic: 't', data: 'a', offset: 1, epoch: 'E' },
      { topic: 't', data: new Uint8Array([1]), offset: 2, epoch: 'E' },
    ]);
  });
});

describe('tokens', () => {
  it('reads exp and iat from a JWT without verifying it, and nothing from other tokens', () => {
    expect(tokenTimes(jwt({ sub: 'ü', exp: 100, iat: 40 }))).toEqual({ exp: 100, iat: 40 });
    expect(tokenTimes(jwt({ sub: 'u' }))).toBeUndefined();
    expect(tokenTimes('opaque-token')).toBeUndefined();
    expect(tokenTimes('a.!!!.c')).toBeUndefined();
  });

  it('refreshes 10% of the lifetime or 30 s before exp, whichever comes first, never before halfway', () => {
    expect(refreshDelay(3_600_000, 0, 0)).toBe(3_240_000); // 1 h: 6 min before
    expect(refreshDelay(120_000, 0, 0)).toBe(90_000); // 2 min: 30 s before
    expect(refreshDelay(20_000, 0, 0)).toBe(10_000); // 20 s: halfway
    expect(refreshDelay(1_000_000, 2_000_000)).toBe(0); // expired: now
  });
});

describe('backoff (full jitter)', () => {
  it('stays within [0, min(max, base·2^attempt)) and doubles from 0.5 s to 20 s', () => {
    expect(backoffDelay(0, () => 0.999999, 500, 20_000)).toBeCloseTo(500, 0);
    expect(backoffDelay(3, () => 0.999999, 500, 20_000)).toBeCloseTo(4000, 0);
    expect(backoffDelay(6, () => 0.999999, 500, 20_000)).toBeCloseTo(20_000, 0);
    expect(backoffDelay(1000, () => 0.999999, 500, 20_000)).toBeCloseTo(20_000, 0);
    expect(backoffDelay(9, () => 0, 500, 20_000)).toBe(0);
  });

  it('spreads uniformly over the range (seeded)', () => {
    const random = rng(42);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[Math.floor(backoffDelay(10, random.next, 500, 20_000) / 2000)]++;
    for (const count of buckets) expect(count).toBeGreaterThan(900), expect(count).toBeLessThan(1100);
  });
});

describe('TopicCursor: exactly once, in order, gaps reported', () => {
  const pub = (offset: number, epoch = 'E'): Publication => ({ topic: 't', data: `#${offset}`, offset, epoch });
  const run = (cursor: TopicCursor, step: (out: Delivery[]) => void): string[] => {
    const out: Delivery[] = [];
    step(out);
    return out.map((d) => (d.kind === 'pub' ? `${d.pub.epoch}${d.pub.offset}` : `gap:${d.gap.reason}:${JSON.stringify([d.gap.from, d.gap.to])}`));
  };

  it('drops a replay overlapping what was processed', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 5, epoch: 'E' };
    cursor.recover(cursor.position);
    const seen = run(cursor, (out) => [4, 5, 6, 6, 7].forEach((n) => cursor.accept(pub(n), out)));
    expect(seen).toEqual(['E6', 'E7']);
    expect(run(cursor, (out) => cursor.settle({ recovered: true, replayed: 2 }, out))).toEqual([]);
    expect(cursor.position).toEqual({ offset: 7, epoch: 'E' });
  });

  it('holds a jump while recovering; a trimmed reply reports the gap before what follows it', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 41, epoch: 'E' };
    cursor.recover(cursor.position);
    expect(run(cursor, (out) => [50, 51].forEach((n) => cursor.accept(pub(n), out)))).toEqual([]);
    expect(run(cursor, (out) => cursor.settle({ recovered: false, reason: 'trimmed', replayed: 2 }, out))).toEqual([
      'gap:trimmed:[{"offset":41,"epoch":"E"},{"offset":49,"epoch":"E"}]',
      'E50',
      'E51',
    ]);
  });

  it('a new epoch is delivered after its gap, whether the reply says so or it comes live', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 9, epoch: 'E' };
    cursor.recover(cursor.position);
    cursor.accept(pub(1, 'F'), []);
    expect(run(cursor, (out) => cursor.settle({ recovered: false, reason: 'epoch', replayed: 1 }, out))).toEqual([
      'gap:epoch:[{"offset":9,"epoch":"E"},{"offset":0,"epoch":"F"}]',
      'F1',
    ]);
    expect(run(cursor, (out) => cursor.accept(pub(1, 'G'), out))).toEqual(['gap:epoch:[{"offset":1,"epoch":"F"},{"offset":0,"epoch":"G"}]', 'G1']);
    expect(run(cursor, (out) => cursor.accept(pub(4, 'G'), out))).toEqual(['gap:missed:[{"offset":1,"epoch":"G"},{"offset":3,"epoch":"G"}]', 'G4']);
  });

  it('position {0, ""} (a topic with no history yet): its first epoch follows on without a gap; a jump in it is missed', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 0, epoch: '' };
    expect(run(cursor, (out) => [1, 2].forEach((n) => cursor.accept(pub(n), out)))).toEqual(['E1', 'E2']);
    const late = new TopicCursor('t');
    late.position = { offset: 0, epoch: '' };
    expect(run(late, (out) => late.accept(pub(3), out))).toEqual(['gap:missed:[{"offset":0,"epoch":""},{"offset":2,"epoch":"E"}]', 'E3']);
  });

  it('since {0, ""} asks for the oldest kept: no gap for trimmed or epoch', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 0, epoch: '' };
    cursor.recover(cursor.position);
    [7, 8].forEach((n) => cursor.accept(pub(n), []));
    expect(run(cursor, (out) => cursor.settle({ recovered: false, reason: 'epoch', replayed: 2 }, out))).toEqual(['E7', 'E8']);
  });

  it('unavailable with nothing replayed: the gap is open-ended and the next publication is taken as it comes', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 3, epoch: 'E' };
    cursor.recover(cursor.position);
    expect(run(cursor, (out) => cursor.settle({ recovered: false, reason: 'unavailable', replayed: 0 }, out))).toEqual(['gap:unavailable:[{"offset":3,"epoch":"E"},null]']);
    expect(run(cursor, (out) => cursor.accept(pub(20), out))).toEqual(['E20']);
  });

  it('rejoin without a replay reports what moved meanwhile', () => {
    const cursor = new TopicCursor('t');
    cursor.position = { offset: 3, epoch: 'E' };
    expect(run(cursor, (out) => cursor.rejoin({ offset: 3, epoch: 'E' }, out))).toEqual([]);
    expect(run(cursor, (out) => cursor.rejoin({ offset: 8, epoch: 'E' }, out))).toEqual(['gap:missed:[{"offset":3,"epoch":"E"},{"offset":8,"epoch":"E"}]']);
    expect(run(new TopicCursor('t'), (out) => new TopicCursor('t').rejoin(undefined, out))).toEqual(['gap:no-history:[null,null]']);
  });
});
