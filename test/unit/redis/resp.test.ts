// RESP3 (the Redis protocol spec) without sockets: every type, each reply
// fed whole, byte by byte and in seeded random splits with the same result;
// malformed input refused with a clear error; limits; the command encoder.
import { describe, expect, it } from 'vitest';
import { encodeCommand, RedisReplyError, RespParser, RespProtocolError, RespPush, type RespLimits, type RespValue } from '../../../src/redis/resp.js';
import { chunkings } from '../helpers/chunking.js';
import { rng } from '../helpers/prng.js';

function parseAll(bytes: Buffer, limits?: RespLimits): RespValue[] {
  const out: RespValue[] = [];
  const parser = new RespParser((v) => out.push(v), limits);
  parser.push(bytes);
  return out;
}

/** Every chunking of `wire` gives the same replies as the whole. */
function expectReplies(wire: string | Buffer, want: RespValue[]): void {
  const bytes = typeof wire === 'string' ? Buffer.from(wire, 'latin1') : wire;
  expect(parseAll(bytes)).toEqual(want);
  for (const { name, chunks } of chunkings(bytes, rng(0x7e5b))) {
    const out: RespValue[] = [];
    const parser = new RespParser((v) => out.push(v));
    for (const c of chunks) parser.push(c);
    expect(out, name).toEqual(want);
  }
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('RespParser: the types of RESP3', () => {
  it('simple string, error, integer (safe and big), null, booleans, doubles, big number', () => {
    expectReplies('+OK\r\n-ERR unknown command\r\n:42\r\n:-7\r\n:9223372036854775807\r\n_\r\n#t\r\n#f\r\n,3.25\r\n,inf\r\n,-inf\r\n(3492890328409238509324850943850943825024385\r\n', [
      'OK',
      new RedisReplyError('ERR unknown command'),
      42,
      -7,
      9223372036854775807n,
      null,
      true,
      false,
      3.25,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      3492890328409238509324850943850943825024385n,
    ]);
    const nan = parseAll(Buffer.from(',nan\r\n'));
    expect(Number.isNaN(nan[0])).toBe(true);
  });

  it('bulk strings are binary-safe Buffers (CRLF and any byte inside), empty ones too; RESP2 nulls', () => {
    const binary = Buffer.from([0, 13, 10, 255, 36]);
    expectReplies(Buffer.concat([b('$5\r\n'), binary, b('\r\n$0\r\n\r\n$-1\r\n*-1\r\n')]), [binary, Buffer.alloc(0), null, null]);
  });

  it('blob errors and verbatim strings', () => {
    expectReplies('!21\r\nSYNTAX invalid syntax\r\n=15\r\ntxt:Some string\r\n', [new RedisReplyError('SYNTAX invalid syntax'), b('Some string')]);
    expect((parseAll(b('-WRONGTYPE Operation against a key\r\n'))[0] as RedisReplyError).code).toBe('WRONGTYPE');
  });

  it('arrays, sets, maps (keys as text), nested; empty aggregates', () => {
    expectReplies('*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n~2\r\n+x\r\n+y\r\n*0\r\n%0\r\n', [[1, ['a', b('b')], ['x', 'y']], [], new Map()]);
    expectReplies('%2\r\n+server\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n', [
      new Map<string, RespValue>([
        ['server', b('redis')],
        ['proto', 3],
      ]),
    ]);
  });

  it('push messages (pub/sub) come out as RespPush, between replies', () => {
    expectReplies('>3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$3\r\nhi!\r\n:1\r\n', [new RespPush([b('message'), b('chan'), b('hi!')]), 1]);
  });

  it('attributes are read and dropped, the value they annotate is delivered', () => {
    expectReplies('|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n|0\r\n:5\r\n', [[2039123, 9543892], 5]);
  });

  it('a long stream of replies in any split: 1,000 mixed replies, same result', () => {
    let wire = '';
    const want: RespValue[] = [];
    for (let i = 0; i < 1000; i++) {
      const payload = 'x'.repeat(i % 70);
      wire += `*2\r\n:${i}\r\n$${payload.length}\r\n${payload}\r\n`;
      want.push([i, b(payload)]);
    }
    const bytes = Buffer.from(wire);
    const out: RespValue[] = [];
    const parser = new RespParser((v) => out.push(v));
    for (let at = 0; at < bytes.length; at += 1 + (at % 13)) parser.push(bytes.subarray(at, Math.min(bytes.length, at + 1 + (at % 13))));
    expect(out).toEqual(want);
  });

  it('a 1 MiB bulk string arriving in 1,337-byte pieces is gathered, not re-copied per piece', () => {
    const body = Buffer.alloc(1024 * 1024, 7);
    const bytes = Buffer.concat([b(`$${body.length}\r\n`), body, b('\r\n')]);
    const out: RespValue[] = [];
    const parser = new RespParser((v) => out.push(v));
    for (let at = 0; at < bytes.length; at += 1337) parser.push(bytes.subarray(at, at + 1337));
    expect(out).toHaveLength(1);
    expect((out[0] as Buffer).equals(body)).toBe(true);
  });
});

describe('RespParser: malformed input is refused at once with a clear error', () => {
  const bad: [string, string | Buffer, RegExp][] = [
    ['an unknown type byte', '?5\r\n', /unknown type byte 0x3f/],
    ['a line ended by LF alone', '+OK\n', /CRLF/],
    ['a bulk not ended by CRLF', '$3\r\nabcXY', /bulk not ended by CRLF/],
    ['a negative bulk length other than -1', '$-2\r\n', /bulk length/],
    ['a length that is not a number', '*x\r\n', /aggregate length/],
    ['an integer that is not one', ':12a\r\n', /integer/],
    ['a boolean other than t/f', '#x\r\n', /boolean/],
    ['a double that is not one', ',1.2.3\r\n', /double/],
    ['a streamed string', '$?\r\n', /streamed bulks are not supported/],
    ['a streamed array', '*?\r\n', /streamed aggregates are not supported/],
    ['a null with a payload', '_x\r\n', /null with a payload/],
    ['a verbatim string without its format', '=3\r\nabc\r\n', /verbatim/],
  ];
  for (const [what, wire, message] of bad) {
    it(what, () => {
      const parser = new RespParser(() => {});
      expect(() => parser.push(Buffer.from(wire))).toThrow(RespProtocolError);
      expect(() => new RespParser(() => {}).push(Buffer.from(wire))).toThrow(message);
      // Once failed, the stream is not trusted again until reset().
      expect(() => parser.push(Buffer.from('+OK\r\n'))).toThrow(RespProtocolError);
      const out: RespValue[] = [];
      const fresh = new RespParser((v) => out.push(v));
      expect(() => fresh.push(Buffer.from(wire))).toThrow();
      fresh.reset();
      fresh.push(Buffer.from('+OK\r\n'));
      expect(out).toEqual(['OK']);
    });
  }

  it('a malformed reply split byte by byte fails at the byte that makes it malformed, not later', () => {
    const parser = new RespParser(() => {});
    const wire = Buffer.from('*2\r\n:1\r\n?');
    for (let i = 0; i < wire.length - 1; i++) parser.push(wire.subarray(i, i + 1));
    expect(() => parser.push(wire.subarray(wire.length - 1))).toThrow(/unknown type byte/);
  });

  it('limits: a bulk, an aggregate or a nesting over its bound is refused before it is buffered', () => {
    const limits: RespLimits = { maxBulkBytes: 10, maxElements: 3, maxDepth: 2 };
    expect(() => parseAll(b('$11\r\n'), limits)).toThrow(/bulk of 11 over the limit of 10/);
    expect(parseAll(b('$10\r\n0123456789\r\n'), limits)).toEqual([b('0123456789')]);
    expect(() => parseAll(b('*4\r\n'), limits)).toThrow(/aggregate of 4 over the limit of 3/);
    expect(() => parseAll(b('*1\r\n*1\r\n*1\r\n'), limits)).toThrow(/nested deeper than 2/);
    expect(parseAll(b('*1\r\n*1\r\n:1\r\n'), limits)).toEqual([[[1]]]);
  });
});

describe('RespParser: every part of a reply is capped before it is buffered', () => {
  it('a line that never ends is refused once it passes maxLineBytes, however it is split', () => {
    const limits: RespLimits = { maxBulkBytes: 100, maxElements: 10, maxDepth: 4, maxLineBytes: 64 };
    const parser = new RespParser(() => {}, limits);
    // 63 bytes without LF are held; the 65th byte breaks the cap.
    parser.push(Buffer.from('+' + 'a'.repeat(40)));
    parser.push(Buffer.from('a'.repeat(23)));
    expect(() => parser.push(Buffer.from('aa'))).toThrow(/a line longer than 64 bytes without its CRLF/);
    // The same in one chunk, and a line just under the cap is fine.
    expect(() => parseAll(Buffer.from('-' + 'x'.repeat(100)), limits)).toThrow(/longer than 64 bytes/);
    expect(parseAll(Buffer.from('+' + 'y'.repeat(61) + '\r\n'), limits)).toEqual(['y'.repeat(61)]);
  });

  it('the default caps a line at 64 KiB: a reply line of 1 MiB without LF is refused, not buffered', () => {
    const parser = new RespParser(() => {});
    const piece = Buffer.alloc(16 * 1024, 0x61);
    parser.push(Buffer.from('+'));
    let threw: unknown;
    for (let i = 0; i < 64 && threw === undefined; i++) {
      try {
        parser.push(piece);
      } catch (error) {
        threw = error;
      }
    }
    expect(threw).toBeInstanceOf(RespProtocolError);
    expect(String(threw)).toMatch(/malformed reply: a line longer than 65536 bytes/);
  });

  it('elements of one reply are counted over every nested aggregate', () => {
    const limits: RespLimits = { maxBulkBytes: 100, maxElements: 5, maxDepth: 4 };
    // Two arrays of 3 inside one of 2: 2 + 3 + 3 = 8 elements in one reply.
    expect(() => parseAll(b('*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*3\r\n'), limits)).toThrow(/a reply of more than 5 elements/);
    // The count starts again with each reply.
    expect(parseAll(b('*2\r\n:1\r\n:2\r\n*3\r\n:1\r\n:2\r\n:3\r\n'), limits)).toEqual([[1, 2], [1, 2, 3]]);
  });

  it("one reply's bytes are capped, bulks included, before the body is buffered", () => {
    const limits: RespLimits = { maxBulkBytes: 100, maxElements: 100, maxDepth: 4, maxReplyBytes: 120 };
    // Two bulks of 60: the second's header announces more than the reply may hold.
    expect(() => parseAll(b(`*2\r\n$60\r\n${'a'.repeat(60)}\r\n$60\r\n`), limits)).toThrow(/a reply over 120 bytes/);
    expect(parseAll(b(`$60\r\n${'a'.repeat(60)}\r\n$60\r\n${'b'.repeat(60)}\r\n`), limits)).toEqual([b('a'.repeat(60)), b('b'.repeat(60))]);
  });

  it('a bulk arriving in pieces is copied into one buffer of its size: no other copy of it is made', () => {
    const body = Buffer.alloc(256 * 1024, 9);
    const bytes = Buffer.concat([b(`$${body.length}\r\n`), body, b('\r\n')]);
    const out: RespValue[] = [];
    const parser = new RespParser((v) => out.push(v));
    for (let at = 0; at < bytes.length; at += 4096) parser.push(bytes.subarray(at, at + 4096));
    const got = out[0] as Buffer;
    expect(got.equals(body)).toBe(true);
    // Its own allocation, exactly the body: not a view into a concatenation of the pieces.
    expect(got.byteOffset).toBe(0);
    expect(got.buffer.byteLength).toBe(body.length);
  });
});

describe('encodeCommand', () => {
  it('an array of bulk strings, UTF-8 and binary arguments, numbers as text', () => {
    expect(encodeCommand(['SET', 'ké', Buffer.from([0, 13, 10]), 42]).toString('latin1')).toBe(
      `*4\r\n$3\r\nSET\r\n$3\r\nk\xc3\xa9\r\n$3\r\n\x00\r\n\r\n$2\r\n42\r\n`,
    );
  });
  it('round-trips through the parser as an array of bulks', () => {
    const args = ['PUBLISH', 'wssd:room', Buffer.alloc(300, 1)];
    expect(parseAll(encodeCommand(args))).toEqual([[b('PUBLISH'), b('wssd:room'), Buffer.alloc(300, 1)]]);
  });
});
