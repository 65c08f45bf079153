// The opening handshake over real sockets (RFC 6455 §4.1, §4.2; RFC 9112 for
// the HTTP head): every refusal carries the right status and a one-line
// reason, hostile heads get a quick answer, and the server goes on serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedAccept, Op, randomKey, upgradeRequest, type HttpResponse } from '../helpers/raw-client.js';
import { expectServing, MODES, sleep, startServer, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** The accept value printed in RFC 6455 §1.3 for RFC_KEY. */
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A valid request as header lines, for cases that change one thing. */
function lines(overrides: { requestLine?: string; drop?: string[]; set?: Record<string, string>; extra?: string[] } = {}): string[] {
  const fields: Array<[string, string]> = [
    ['Host', 'localhost'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', randomKey()],
    ['Sec-WebSocket-Version', '13'],
  ];
  const out = [overrides.requestLine ?? 'GET / HTTP/1.1'];
  for (const [name, value] of fields) {
    if (overrides.drop?.includes(name)) continue;
    out.push(`${name}: ${overrides.set?.[name] ?? value}`);
  }
  for (const [name, value] of Object.entries(overrides.set ?? {})) {
    if (!fields.some(([n]) => n === name)) out.push(`${name}: ${value}`);
  }
  out.push(...(overrides.extra ?? []));
  return out;
}
const crlf = (ls: string[]): string => ls.join('\r\n') + '\r\n\r\n';

interface BadCase {
  name: string;
  request: () => string | Buffer;
  status: number;
  headers?: Record<string, string>;
  /** The answer must come at once, not after a timeout. */
  quick?: boolean;
}

const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `X-Filler-${i}: ${i}`);

const BAD: BadCase[] = [
  { name: 'malformed request line (no HTTP version)', request: () => crlf(lines({ requestLine: 'GET /' })), status: 400 },
  { name: 'request line with an extra space', request: () => crlf(lines({ requestLine: 'GET  / HTTP/1.1' })), status: 400 },
  { name: 'header line without a colon', request: () => crlf(lines({ extra: ['X-Broken header'] })), status: 400 },
  { name: 'whitespace between field name and colon', request: () => crlf(lines({ extra: ['X-Space : a'] })), status: 400 },
  { name: 'obs-fold continuation line (RFC 9112 §5.2)', request: () => crlf(lines({ extra: ['X-Folded: a', ' b'] })), status: 400 },
  { name: 'bare LF line endings (RFC 9112 §2.2)', request: () => lines().join('\n') + '\n\n', status: 400 },
  { name: 'bare LF in one line only', request: () => crlf(lines({ extra: ['X-A: 1\nX-B: 2'] })), status: 400 },
  { name: 'NUL byte in a header value', request: () => crlf(lines({ extra: ['X-Nul: a\0b'] })), status: 400 },
  { name: 'missing Host (§4.1 item 4)', request: () => crlf(lines({ drop: ['Host'] })), status: 400 },
  { name: 'two Host headers', request: () => crlf(lines({ extra: ['Host: evil.example'] })), status: 400 },
  { name: 'missing Sec-WebSocket-Key', request: () => crlf(lines({ drop: ['Sec-WebSocket-Key'] })), status: 400 },
  { name: 'short Sec-WebSocket-Key (8 bytes)', request: () => crlf(lines({ set: { 'Sec-WebSocket-Key': 'c2hvcnRrZXk=' } })), status: 400 },
  { name: 'two Sec-WebSocket-Key headers', request: () => crlf(lines({ extra: [`Sec-WebSocket-Key: ${randomKey()}`] })), status: 400 },
  {
    // Not "/": a plain GET / gets the demo page (demoPage option, on by default).
    name: 'plain GET without Upgrade → 426',
    request: () => crlf(['GET /chat HTTP/1.1', 'Host: localhost', 'Accept: text/html']),
    status: 426,
  },
  { name: 'Upgrade: foo', request: () => crlf(lines({ set: { Upgrade: 'foo' } })), status: 400 },
  { name: 'Connection without upgrade', request: () => crlf(lines({ set: { Connection: 'keep-alive' } })), status: 400 },
  { name: 'missing Connection', request: () => crlf(lines({ drop: ['Connection'] })), status: 400 },
  { name: 'POST → 405 with Allow: GET', request: () => crlf(lines({ requestLine: 'POST / HTTP/1.1' })), status: 405, headers: { allow: 'GET' } },
  {
    name: 'Sec-WebSocket-Version 8 → 426 with Sec-WebSocket-Version: 13 (§4.4)',
    request: () => crlf(lines({ set: { 'Sec-WebSocket-Version': '8' } })),
    status: 426,
    headers: { 'sec-websocket-version': '13' },
  },
  { name: 'missing Sec-WebSocket-Version', request: () => crlf(lines({ drop: ['Sec-WebSocket-Version'] })), status: 400 },
  { name: 'HTTP/1.0 → 505', request: () => crlf(lines({ requestLine: 'GET / HTTP/1.0' })), status: 505 },
  { name: 'path not served → 404', request: () => crlf(lines({ requestLine: 'GET /nope HTTP/1.1' })), status: 404 },
  { name: 'invalid subprotocol token', request: () => crlf(lines({ set: { 'Sec-WebSocket-Protocol': 'a b' } })), status: 400 },
  {
    name: 'head over 16 KiB → 431',
    request: () => crlf(lines({ extra: Array.from({ length: 5 }, (_, i) => `X-Big-${i}: ${'x'.repeat(4000)}`) })),
    status: 431,
  },
  { name: 'more than 100 header lines → 431', request: () => crlf(lines({ extra: many(96) })), status: 431 },
  { name: 'exactly 100 header lines are accepted', request: () => crlf(lines({ extra: many(95) })), status: 101 },
  { name: 'one header line over 8 KiB → 431', request: () => crlf(lines({ extra: [`X-Long: ${'y'.repeat(9000)}`] })), status: 431 },
  // CVE-style inputs: many headers (hash flooding / O(n²) joins) and a
  // Sec-WebSocket-Protocol built to make a backtracking regex crawl (ws CVE-2021-32640).
  { name: '2000 headers (CVE-style) answered at once', request: () => crlf(lines({ extra: many(2000) })), status: 431, quick: true },
  {
    name: "Sec-WebSocket-Protocol 'a' + 60000 spaces + 'b' (CVE-2021-32640 style) answered at once",
    request: () => crlf(lines({ set: { 'Sec-WebSocket-Protocol': 'a' + ' '.repeat(60000) + 'b' } })),
    status: 431,
    quick: true,
  },
  {
    name: "Sec-WebSocket-Protocol 'a' + 8000 spaces + 'b' (within the limits) answered at once",
    request: () => crlf(lines({ set: { 'Sec-WebSocket-Protocol': 'a' + ' '.repeat(8000) + 'b' } })),
    status: 400,
    quick: true,
  },
  {
    name: "Sec-WebSocket-Protocol of 4000 commas and spaces answered at once",
    request: () => crlf(lines({ set: { 'Sec-WebSocket-Protocol': 'a' + ', '.repeat(3000) + ' b' } })),
    status: 101,
    quick: true,
  },
];

describe.each(MODES)('opening handshake over $name://', (mode) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer(mode, { path: ['/', '/chat'], closeTimeout: 1000 });
  });
  afterAll(async () => {
    await ts.close();
  });

  it('§1.3: answers the RFC sample key with 101 and the RFC accept value', async () => {
    const client = await ts.connect();
    client.write(upgradeRequest({ key: RFC_KEY }));
    const r = await client.readResponse();
    expect(r.status).toBe(101);
    expect(r.httpVersion).toBe('HTTP/1.1');
    expect(r.headers['sec-websocket-accept']).toBe(RFC_ACCEPT);
    expect(r.headers['upgrade']?.toLowerCase()).toBe('websocket');
    expect(r.headers['connection']?.toLowerCase()).toBe('upgrade');
    expect(r.headers['sec-websocket-protocol']).toBeUndefined();
    expect(r.headers['sec-websocket-extensions']).toBeUndefined();
    expect(r.body.length).toBe(0);
    client.destroy();
  });

  it('§4.2.1: accepts a random key, header names in any case, token lists, a query and an absolute-form target', async () => {
    const key = randomKey();
    const client = await ts.connect();
    client.write(
      crlf([
        'GET http://localhost/chat?room=1 HTTP/1.1',
        'host: localhost',
        'UPGRADE: WebSocket',
        'connection: keep-alive, Upgrade',
        `sec-websocket-key: ${key}`,
        'SEC-WEBSOCKET-VERSION: 13',
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
      ]),
    );
    const r = await client.readResponse();
    expect(r.status).toBe(101);
    expect(r.headers['sec-websocket-accept']).toBe(expectedAccept(key));
    // No extension was negotiated, so none may be answered (§9.1).
    expect(r.headers['sec-websocket-extensions']).toBeUndefined();
    const side = await ts.serverSide(client);
    expect(side.request.path).toBe('/chat');
    expect(side.request.query).toBe('room=1');
    client.sendText('x');
    expect((await client.readFrame()).payload.toString()).toBe('x');
    client.destroy();
  });

  it.each(BAD)('$name → $status, one-line reason, then still serving', async (c) => {
    const client = await ts.connect();
    const started = performance.now();
    client.write(c.request());
    const r: HttpResponse = await client.readResponse(c.quick === true ? 1000 : 3000);
    const elapsed = performance.now() - started;
    expect(r.status).toBe(c.status);
    if (c.quick === true) expect(elapsed).toBeLessThan(scaled(1000));
    if (c.status === 101) {
      client.destroy();
      await expectServing(ts);
      return;
    }
    for (const [name, value] of Object.entries(c.headers ?? {})) expect(r.headers[name]).toBe(value);
    // The reason is one line of text, and Content-Length tells the truth.
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    const body = r.body.toString('utf8');
    expect(body).toMatch(/^[^\r\n]+\n$/);
    expect(body.startsWith(String(c.status))).toBe(true);
    // The server closes the connection after a refusal.
    await client.waitClosed(2000);
    await expectServing(ts);
  });

  it('426 for a plain GET names the fix in its text body', async () => {
    const client = await ts.connect();
    client.write(crlf(['GET /chat HTTP/1.1', 'Host: localhost']));
    const r = await client.readResponse();
    expect(r.status).toBe(426);
    expect(r.headers['upgrade']?.toLowerCase()).toBe('websocket');
    expect(r.body.toString('utf8').toLowerCase()).toContain('websocket');
    await client.waitClosed(2000);
  });

  it('a plain GET / gets the demo page (200 text/html), then the connection ends', async () => {
    const client = await ts.connect();
    client.write(crlf(['GET / HTTP/1.1', 'Host: localhost']));
    const r = await client.readResponse();
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body.toString('utf8')).toContain('WebSocket');
    await client.waitClosed(2000);
  });

  it('the head split into single bytes is still read (RFC 9112 has no packet boundaries)', async () => {
    const client = await ts.connect();
    const key = randomKey();
    const bytes = Buffer.from(upgradeRequest({ key }));
    for (let i = 0; i < bytes.length; i += 7) {
      client.write(bytes.subarray(i, i + 7));
      // Pacing, so that the pieces reach the server in separate reads.
      if (i % 70 === 0) await sleep(1);
    }
    const r = await client.readResponse();
    expect(r.status).toBe(101);
    expect(r.headers['sec-websocket-accept']).toBe(expectedAccept(key));
    client.destroy();
  });

  it('bytes after the head in the same write are the first frames, not lost', async () => {
    const client = await ts.connect();
    const key = randomKey();
    const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, ...Buffer.from('early').map((b, i) => b ^ [1, 2, 3, 4][i & 3])]);
    const ping = Buffer.from([0x89, 0x80, 9, 9, 9, 9]);
    client.write(Buffer.concat([Buffer.from(upgradeRequest({ key })), frame, ping]));
    const r = await client.readResponse();
    expect(r.status).toBe(101);
    const echoed = await client.readFrame();
    expect(echoed.opcode).toBe(Op.Text);
    expect(echoed.payload.toString()).toBe('early');
    const pong = await client.readFrame();
    expect(pong.opcode).toBe(Op.Pong);
    client.destroy();
  });
});

const HANDSHAKE_TIMEOUT = 300;

describe.each(MODES)('handshake deadline over $name:// (handshakeTimeout 300 ms)', (mode) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer(mode, { handshakeTimeout: HANDSHAKE_TIMEOUT, closeTimeout: 300 });
  });
  afterAll(async () => {
    await ts.close();
  });

  it('half a head: 408 and closed within ~1 s', async () => {
    const started = performance.now();
    const client = await ts.connect();
    client.write('GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n');
    const r = await client.readResponse(1500);
    expect(r.status).toBe(408);
    await client.waitClosed(1000);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 50);
    expect(elapsed).toBeLessThan(HANDSHAKE_TIMEOUT + scaled(1000));
  });

  it('nothing sent after connecting: closed within ~1 s', async () => {
    const started = performance.now();
    const client = await ts.connect();
    await client.waitClosed(1200);
    expect(performance.now() - started).toBeLessThan(HANDSHAKE_TIMEOUT + scaled(900));
  });

  it('a slow drip of header bytes does not extend the deadline', async () => {
    const started = performance.now();
    const client = await ts.connect();
    const drip = setInterval(() => {
      if (!client.closed) client.write('X-Drip: 1\r\n');
    }, 50);
    client.write('GET / HTTP/1.1\r\n');
    try {
      await client.waitClosed(1200);
    } finally {
      clearInterval(drip);
    }
    expect(performance.now() - started).toBeLessThan(HANDSHAKE_TIMEOUT + scaled(900));
  });

  it('a complete handshake within the deadline is not cut later', async () => {
    const client = await ts.open();
    // Past the deadline with a margin: the test shows the timer does not cut an upgraded connection.
    await sleep(HANDSHAKE_TIMEOUT + scaled(150));
    client.sendText('after the deadline');
    expect((await client.readFrame()).payload.toString()).toBe('after the deadline');
    client.destroy();
  });
});
