// RFC 9112 §2–§5 (message format, request line, field lines) and RFC 9110
// §5 (field values, list syntax), as the upgrade request's head is read from
// socket chunks under hard limits and parsed strictly.
import { describe, expect, it } from 'vitest';
import { HandshakeError } from '../../../src/protocol/errors.js';
import { defaultHeadLimits, isToken, parseRequestHead, RequestHeadReader, splitList, trimOws, type HeadLimits } from '../../../src/http/request-head.js';
import { chunkings } from '../helpers/chunking.js';
import { rng } from '../helpers/prng.js';

const CRLF = '\r\n';
const head = (...lines: string[]): string => lines.join(CRLF) + CRLF + CRLF;

// RFC 6455 §1.3 / §4.1's sample opening handshake.
const SAMPLE_LINES = [
  'GET /chat?room=1&x=%20 HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
];
const SAMPLE = Buffer.from(head(...SAMPLE_LINES), 'latin1');
// The first bytes of a WebSocket frame the client sent right behind its head.
const AFTER = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x0d, 0x0a, 0x0d, 0x0a]);

/** Pushes chunks until the head is complete; returns head, and rest + the chunks never pushed. */
function read(chunks: Buffer[], limits?: HeadLimits): { head: Buffer; after: Buffer; completedAt: number } {
  const reader = new RequestHeadReader(limits);
  for (let i = 0; i < chunks.length; i++) {
    if (reader.push(chunks[i])) {
      expect(reader.head).toBeInstanceOf(Buffer);
      expect(reader.rest).toBeInstanceOf(Buffer);
      return { head: reader.head as Buffer, after: Buffer.concat([reader.rest as Buffer, ...chunks.slice(i + 1)]), completedAt: i };
    }
  }
  throw new Error('head never completed');
}

/** Feeds the bytes one at a time; returns the index of the byte whose push threw, and the error. */
function throwsAtByte(bytes: Buffer, limits?: HeadLimits): { index: number; error: HandshakeError } {
  const reader = new RequestHeadReader(limits);
  for (let i = 0; i < bytes.length; i++) {
    try {
      if (reader.push(bytes.subarray(i, i + 1))) throw new Error(`completed at byte ${i} without an error`);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      return { index: i, error };
    }
  }
  throw new Error('never threw');
}

function expectHandshakeError(fn: () => unknown, status: number, label = ''): HandshakeError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${label}: should throw HandshakeError ${status}`).toBeInstanceOf(HandshakeError);
  expect((thrown as HandshakeError).status, label).toBe(status);
  return thrown as HandshakeError;
}

/** Reads and parses a head given as text (latin1). */
const parse = (text: string) => {
  const { head: h } = read([Buffer.from(text, 'latin1')]);
  return parseRequestHead(h);
};

describe('RequestHeadReader: RFC 9112 §2.1 the head ends at the first empty line', () => {
  it('§2.1 one chunk: head without the final CRLF CRLF, and the bytes after it kept exactly (a frame in the same chunk)', () => {
    const { head: h, after } = read([Buffer.concat([SAMPLE, AFTER])]);
    expect(h.toString('latin1')).toBe(SAMPLE_LINES.join(CRLF));
    expect(after).toEqual(AFTER);
  });

  it('§2.1 a head alone: rest is empty', () => {
    const { after } = read([Buffer.from(SAMPLE)]);
    expect(after.length).toBe(0);
  });

  it('§2.1 split at EVERY byte offset, bytewise and in random chunks: same head, rest + later chunks = the bytes after the head', () => {
    const input = Buffer.concat([SAMPLE, AFTER]);
    let runs = 0;
    for (const { name, chunks } of chunkings(input, rng(5), { randomRuns: 30, maxChunk: 40 })) {
      const { head: h, after } = read(chunks);
      expect(h.toString('latin1'), name).toBe(SAMPLE_LINES.join(CRLF));
      expect(after.equals(AFTER), name).toBe(true);
      runs++;
    }
    expect(runs).toBeGreaterThan(input.length);
  });

  it('§2.1 completion is reported on the push that carries the final LF', () => {
    for (let at = 1; at < SAMPLE.length; at++) {
      const chunks = [Buffer.from(SAMPLE.subarray(0, at)), Buffer.from(SAMPLE.subarray(at)), Buffer.from(AFTER)];
      expect(read(chunks).completedAt, `split at ${at}`).toBe(1);
    }
  });

  it('§2.1 a CR LF pair split across chunks still counts (CR at the end of one chunk, LF at the start of the next)', () => {
    const text = head('GET / HTTP/1.1', 'Host: a');
    for (let at = 0; at < text.length; at++) {
      if (text[at] !== '\n') continue;
      const chunks = [Buffer.from(text.slice(0, at)), Buffer.alloc(0), Buffer.from(text.slice(at))];
      expect(parseRequestHead(read(chunks).head).headers.host).toBe('a');
    }
  });
});

describe('RequestHeadReader: limits before buffering (RFC 9112 §2.3, RFC 6585 §5 431)', () => {
  const limits: HeadLimits = { maxHeadBytes: 200, maxHeaderCount: 5, maxLineBytes: 50 };

  it('defaults: 16 KiB head, 100 headers, 8 KiB lines', () => {
    expect(defaultHeadLimits).toEqual({ maxHeadBytes: 16 * 1024, maxHeaderCount: 100, maxLineBytes: 8 * 1024 });
  });

  it('431 when the head exceeds maxHeadBytes, detected before any terminator: byte-at-a-time it throws on byte maxHeadBytes + 1', () => {
    // 40-byte lines (under the line limit), 4 of them (under the count limit), never terminated.
    const lines = ['GET / HTTP/1.1', ...Array.from({ length: 4 }, (_, i) => `X-${i}: ${'v'.repeat(33)}`)];
    const endless = Buffer.from(lines.join(CRLF) + CRLF + 'X-Last: ' + 'w'.repeat(40), 'latin1');
    expect(endless.length).toBeGreaterThan(limits.maxHeadBytes);
    const { index, error } = throwsAtByte(endless, limits);
    expect(error.status).toBe(431);
    expect(index).toBe(limits.maxHeadBytes);
    // In one chunk, too.
    expectHandshakeError(() => new RequestHeadReader(limits).push(endless), 431, 'one chunk');
  });

  it('the first violation in byte order decides, however the head is cut: a line over the limit, then a NUL (fuzzer seed 4588870839)', () => {
    const input = Buffer.from('GET / HTTP/1.1' + CRLF + 'X-Long: ' + 'v'.repeat(60) + '\0' + CRLF + CRLF, 'latin1');
    const verdict = (parts: Buffer[]): number => {
      const reader = new RequestHeadReader(limits);
      try {
        for (const part of parts) reader.push(part);
        return 0;
      } catch (error) {
        return (error as HandshakeError).status;
      }
    };
    expect(verdict([input])).toBe(431);
    for (let cut = 1; cut < input.length; cut++) expect(verdict([input.subarray(0, cut), input.subarray(cut)]), `cut at ${cut}`).toBe(431);
    // A NUL before the line crosses the limit is the first violation: 400, whole or cut.
    const nulFirst = Buffer.from('GET / HTTP/1.1' + CRLF + 'X-Long: \0' + 'v'.repeat(60) + CRLF + CRLF, 'latin1');
    for (let cut = 1; cut <= nulFirst.length; cut++) expect(verdict([nulFirst.subarray(0, cut), nulFirst.subarray(cut)]), `cut at ${cut}`).toBe(400);
  });

  it('431 for a complete head over maxHeadBytes even with its terminator in the chunk; exactly maxHeadBytes passes', () => {
    const make = (n: number): string => {
      const base = head('GET / HTTP/1.1', 'Host: h', 'X-Pad: ');
      return head('GET / HTTP/1.1', 'Host: h', 'X-Pad: ' + 'p'.repeat(n - base.length));
    };
    // 200 bytes with maxLineBytes 50 needs more lines; use roomier line limits here.
    const roomy: HeadLimits = { maxHeadBytes: 200, maxHeaderCount: 5, maxLineBytes: 500 };
    const exact = make(200);
    expect(exact.length).toBe(200);
    expect(read([Buffer.concat([Buffer.from(exact), Buffer.alloc(5000, 0x41)])], roomy).head.length).toBe(196);
    expectHandshakeError(() => new RequestHeadReader(roomy).push(Buffer.from(make(201))), 431, '201 bytes');
  });

  it('431 for more than maxHeaderCount header lines, at the line that crosses, before any terminator; exactly maxHeaderCount passes', () => {
    const ok = head('GET / HTTP/1.1', ...Array.from({ length: 5 }, (_, i) => `H${i}: v`));
    expect(parseRequestHead(read([Buffer.from(ok)], limits).head).rawHeaders).toHaveLength(10);
    const tooMany = ['GET / HTTP/1.1', ...Array.from({ length: 6 }, (_, i) => `H${i}: v`)].join(CRLF) + CRLF;
    const { index, error } = throwsAtByte(Buffer.from(tooMany), limits);
    expect(error.status).toBe(431);
    expect(index).toBe(tooMany.length - 1); // the LF ending the 6th header line
    expectHandshakeError(() => new RequestHeadReader(limits).push(Buffer.from(tooMany)), 431, 'one chunk');
  });

  it('431 for a header line over maxLineBytes, before its LF arrives; exactly maxLineBytes passes', () => {
    const exactLine = 'X: ' + 'a'.repeat(47);
    expect(exactLine.length).toBe(50);
    expect(parseRequestHead(read([Buffer.from(head('GET / HTTP/1.1', exactLine))], limits).head).headers.x).toBe('a'.repeat(47));
    const longLine = 'GET / HTTP/1.1' + CRLF + 'X: ' + 'a'.repeat(100);
    const { index, error } = throwsAtByte(Buffer.from(longLine), limits);
    expect(error.status).toBe(431);
    // 16 bytes of request line, then the header line: at most one byte of slack (for its CR) past the limit.
    expect(index - 16).toBeLessThanOrEqual(limits.maxLineBytes + 1);
    expectHandshakeError(() => new RequestHeadReader(limits).push(Buffer.from(longLine)), 431, 'one chunk, unterminated');
    expectHandshakeError(() => new RequestHeadReader(limits).push(Buffer.from(head('GET / HTTP/1.1', 'X: ' + 'a'.repeat(48)))), 431, '51-byte line, terminated');
  });

  it('431 for a request line over maxLineBytes', () => {
    const { error } = throwsAtByte(Buffer.from('GET /' + 'a'.repeat(100) + ' HTTP/1.1\r\n'), limits);
    expect(error.status).toBe(431);
  });
});

describe('RequestHeadReader: RFC 9112 §2.2 framing bytes', () => {
  it('§2.2 a bare LF → 400 (as the first byte, mid-line, ending a line, at a chunk start)', () => {
    expectHandshakeError(() => new RequestHeadReader().push(Buffer.from('\n')), 400, 'first byte');
    expectHandshakeError(() => new RequestHeadReader().push(Buffer.from('GET / HTTP/1.1\nHost: a\r\n\r\n')), 400, 'request line');
    expectHandshakeError(() => new RequestHeadReader().push(Buffer.from('GET / HTTP/1.1\r\nHost: a\n\r\n')), 400, 'header line');
    expectHandshakeError(() => new RequestHeadReader().push(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\n')), 400, 'LF LF end');
    const r = new RequestHeadReader();
    r.push(Buffer.from('GET / HTTP/1.1'));
    expectHandshakeError(() => r.push(Buffer.from('\nHost: a\r\n\r\n')), 400, 'LF at a chunk start');
  });

  it('a NUL byte anywhere in the head → 400', () => {
    for (const text of ['GET /\0 HTTP/1.1\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n', '\0']) {
      expectHandshakeError(() => new RequestHeadReader().push(Buffer.from(text, 'latin1')), 400, JSON.stringify(text));
    }
  });

  it('§2.2 a bare CR inside a line → 400 (RFC 9112 §2.2: such an element is invalid)', () => {
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a\rb')), 400, 'in a value');
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a\r')), 400, 'CR CR LF');
    expectHandshakeError(() => parse(head('GET /\r HTTP/1.1', 'Host: a')), 400, 'in the target');
  });
});

describe('parseRequestHead: RFC 9112 §3 request line', () => {
  it('§3 method, target, path, query and version of the RFC 6455 §1.3 sample', () => {
    const h = parseRequestHead(read([Buffer.from(SAMPLE)]).head);
    expect(h.method).toBe('GET');
    expect(h.target).toBe('/chat?room=1&x=%20');
    expect(h.path).toBe('/chat');
    expect(h.query).toBe('room=1&x=%20');
    expect(h.httpVersion).toBe('HTTP/1.1');
  });

  it('§3 malformed request lines → 400', () => {
    const bad = [
      'GET /',
      'GET / HTTP/1.1 extra',
      'GET  / HTTP/1.1',
      ' GET / HTTP/1.1',
      'GET / HTTP/1.1 ',
      'GET\t/ HTTP/1.1',
      'GET / HTTP/1',
      'GET / http/1.1',
      'GET / HTTP/11',
      'GET / HTTP/1.1.1',
      'G(T / HTTP/1.1',
      'GET /a b HTTP/1.1',
      'GET /\x7f HTTP/1.1',
      'GET /\xe9 HTTP/1.1',
      '',
    ];
    for (const line of bad) {
      expectHandshakeError(() => parse(head(line, 'Host: a')), 400, JSON.stringify(line));
    }
  });

  it('§3.2 a target that is neither origin-form nor absolute-form (asterisk, authority, relative) → 400', () => {
    for (const target of ['*', 'example.com:443', 'chat', 'ftp://example.com/']) {
      expectHandshakeError(() => parse(head(`GET ${target} HTTP/1.1`, 'Host: a')), 400, target);
    }
  });

  it('§3.2.2 absolute-form: the path and query are taken from the URI', () => {
    const cases: [string, string, string][] = [
      ['http://example.com/chat?x=1', '/chat', 'x=1'],
      ['wss://example.com:443/a/b', '/a/b', ''],
      ['WS://Example.COM/up', '/up', ''],
      ['https://example.com', '/', ''],
    ];
    for (const [target, path, query] of cases) {
      const h = parse(head(`GET ${target} HTTP/1.1`, 'Host: example.com'));
      expect({ target: h.target, path: h.path, query: h.query }).toEqual({ target, path, query });
    }
  });

  it('§3.2.2 (RFC 3986 §3.2) absolute-form with a query but no path: the authority ends at "?", so path "/" and the whole query', () => {
    // A "/" inside the query must not be taken for the start of the path:
    // routing on it would serve "/admin" for a request to "/".
    const h = parse(head('GET http://example.com?next=/admin HTTP/1.1', 'Host: example.com'));
    expect({ path: h.path, query: h.query }).toEqual({ path: '/', query: 'next=/admin' });
  });

  it('§3 other tokens are valid methods and other versions parse (the handshake decides on them)', () => {
    expect(parse(head('POST /x HTTP/1.0', 'Host: a')).method).toBe('POST');
    expect(parse(head('M-SEARCH /x HTTP/2.0', 'Host: a')).httpVersion).toBe('HTTP/2.0');
  });
});

describe('parseRequestHead: RFC 9112 §5 field lines', () => {
  it('§5 names are lower-cased, values OWS-trimmed, rawHeaders keep case and order', () => {
    const h = parse(head('GET / HTTP/1.1', 'Host:   example.com \t', 'X-Custom-Name:\tValue With  Spaces', 'EMPTY:'));
    expect(h.headers).toEqual({ host: 'example.com', 'x-custom-name': 'Value With  Spaces', empty: '' });
    expect(h.rawHeaders).toEqual(['Host', 'example.com', 'X-Custom-Name', 'Value With  Spaces', 'EMPTY', '']);
  });

  it('§5.2 obs-fold (a line starting with SP or HTAB) → 400', () => {
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a', 'X-Long: part one', '  part two')), 400, 'SP');
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a', 'X-Long: part one', '\tpart two')), 400, 'HTAB');
  });

  it('§5 a field line without a colon → 400', () => {
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a', 'NoColonHere')), 400);
  });

  it('§5.1 whitespace between the field name and the colon → 400', () => {
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host : a')), 400, 'SP');
    expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host\t: a')), 400, 'HTAB');
  });

  it('RFC 9110 §5.1 a field name that is not a token (empty, or with separators) → 400', () => {
    for (const line of [': v', 'X(y): v', 'X y: v', 'X@y: v', 'Höst: v']) {
      expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a', line)), 400, line);
    }
  });

  it('RFC 9110 §5.5 control characters in a field value → 400; HTAB inside and obs-text are allowed', () => {
    for (const value of ['a\x01b', 'a\x1fb', 'a\x7fb']) {
      expectHandshakeError(() => parse(head('GET / HTTP/1.1', 'Host: a', `X: ${value}`)), 400, JSON.stringify(value));
    }
    expect(parse(head('GET / HTTP/1.1', 'Host: a', 'X: a\tb\xe9\xff')).headers.x).toBe('a\tb\xe9\xff');
  });

  it('§3.2 (RFC 9112) a repeated Host → 400; so are repeated Sec-WebSocket-Key, Sec-WebSocket-Version and Content-Length, whatever their case', () => {
    for (const [a, b] of [
      ['Host: a', 'Host: a'],
      ['Host: a', 'host: b'],
      ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=='],
      ['Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 13'],
      ['Content-Length: 0', 'Content-Length: 0'],
    ]) {
      const lines = a.toLowerCase().startsWith('host') ? [a, b] : ['Host: h', a, b];
      expectHandshakeError(() => parse(head('GET / HTTP/1.1', ...lines)), 400, `${a} + ${b}`);
    }
  });

  it('RFC 9110 §5.3 a repeated list field is joined with ", " in order, names compared case-insensitively', () => {
    const h = parse(head('GET / HTTP/1.1', 'Host: a', 'Sec-WebSocket-Protocol: chat', 'Connection: keep-alive', 'sec-websocket-protocol: superchat, v2', 'CONNECTION: Upgrade'));
    expect(h.headers['sec-websocket-protocol']).toBe('chat, superchat, v2');
    expect(h.headers.connection).toBe('keep-alive, Upgrade');
  });

  it('a field named __proto__ or constructor is an ordinary field (no prototype pollution)', () => {
    const h = parse(head('GET / HTTP/1.1', 'Host: a', '__proto__: x', 'constructor: y'));
    expect(h.headers['__proto__']).toBe('x');
    expect(h.headers['constructor']).toBe('y');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('helpers: RFC 9110 §5.6 tokens, OWS and lists', () => {
  it('§5.6.2 isToken', () => {
    for (const ok of ['GET', 'websocket', "!#$%&'*+-.^_`|~09azAZ"]) expect(isToken(ok), ok).toBe(true);
    for (const bad of ['', 'a b', 'a,b', 'a"b', 'a/b', 'a:b', 'é', 'a\tb', '(a)']) expect(isToken(bad), bad).toBe(false);
  });

  it('§5.6.3 trimOws strips SP and HTAB only', () => {
    expect(trimOws(' \t a b \t ')).toBe('a b');
    expect(trimOws('\r a \n')).toBe('\r a \n');
    expect(trimOws('   ')).toBe('');
  });

  it('§5.6.1 splitList: trimmed, non-empty elements in order', () => {
    expect(splitList('a, b,,c ,\t d , ,')).toEqual(['a', 'b', 'c', 'd']);
    expect(splitList('')).toEqual([]);
    expect(splitList(' , ,')).toEqual([]);
    expect(splitList('keep-alive, Upgrade')).toEqual(['keep-alive', 'Upgrade']);
  });

  it('§5.6.1 splitList is linear: a 100 KB pathological value finishes fast and correctly', () => {
    const value = 'a,'.repeat(50_000) + ' '.repeat(50_000);
    const started = performance.now();
    const out = splitList(value);
    const elapsed = performance.now() - started;
    expect(out).toHaveLength(50_000);
    expect(out.every((x) => x === 'a')).toBe(true);
    // Generous: a quadratic implementation takes seconds here; this takes milliseconds.
    expect(elapsed).toBeLessThan(1000);
    const spaces = ' '.repeat(100_000) + 'x';
    expect(splitList(spaces)).toEqual(['x']);
    const commas = ',' + ' \t'.repeat(50_000) + ',';
    expect(splitList(commas)).toEqual([]);
  });
});
