// RFC 6455 §4.2.1 (reading the client's opening handshake), §4.2.2 (the
// server's answer), §4.4 (versions), §1.3 (the accept key), with the HTTP
// statuses RFC 9110/9112 give each refusal.
import { describe, expect, it } from 'vitest';
import { HandshakeError } from '../../../src/protocol/errors.js';
import { acceptKey, acceptResponse, errorResponse, evaluateUpgrade, selectSubprotocol, type HandshakePolicy } from '../../../src/http/handshake.js';
import { parseRequestHead, type RequestHead } from '../../../src/http/request-head.js';
import { createHash } from 'node:crypto';

const BASE: [string, string][] = [
  ['Host', 'server.example.com'],
  ['Upgrade', 'websocket'],
  ['Connection', 'Upgrade'],
  ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ['Origin', 'http://example.com'],
  ['Sec-WebSocket-Version', '13'],
];

/** A parsed head: the §1.3 sample with fields replaced (value) or removed (null). */
function request(opts: { line?: string; set?: Record<string, string | null>; add?: [string, string][] } = {}): RequestHead {
  const set = opts.set ?? {};
  const lines = [opts.line ?? 'GET /chat HTTP/1.1'];
  for (const [name, value] of BASE) {
    const override = set[name];
    if (override === null) continue;
    lines.push(`${name}: ${override ?? value}`);
  }
  for (const [name, value] of Object.entries(set)) {
    if (value !== null && !BASE.some(([n]) => n === name)) lines.push(`${name}: ${value}`);
  }
  for (const [name, value] of opts.add ?? []) lines.push(`${name}: ${value}`);
  return parseRequestHead(Buffer.from(lines.join('\r\n'), 'latin1'));
}

function refusal(head: RequestHead, policy?: HandshakePolicy): HandshakeError {
  let thrown: unknown;
  try {
    evaluateUpgrade(head, policy);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(HandshakeError);
  return thrown as HandshakeError;
}

describe('acceptKey (RFC 6455 §1.3, §4.2.2 step 5.4)', () => {
  it('§1.3 the RFC example: dGhlIHNhbXBsZSBub25jZQ== → s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('§4.2.2 base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)) for other keys', () => {
    for (const key of ['AAAAAAAAAAAAAAAAAAAAAA==', 'x3JJHMbDL1EzLkh9GBhXDw==', '/+/+/+/+/+/+/+/+/+/+/w==']) {
      const want = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      expect(acceptKey(key)).toBe(want);
    }
  });
});

describe('evaluateUpgrade (RFC 6455 §4.2.1)', () => {
  it('§4.2.1 the §1.3 sample handshake is accepted with the §1.3 accept value', () => {
    expect(evaluateUpgrade(request())).toEqual({ accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', offeredProtocols: [] });
  });

  it('§4.1 HTTP/1.0 (or any version but 1.1) → 505', () => {
    for (const v of ['HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0']) {
      expect(refusal(request({ line: `GET /chat ${v}` })).status, v).toBe(505);
    }
  });

  it('§4.1 / RFC 9110 §15.5.6 POST → 405 with Allow: GET', () => {
    const e = refusal(request({ line: 'POST /chat HTTP/1.1' }));
    expect(e.status).toBe(405);
    expect(e.headers).toEqual({ Allow: 'GET' });
    expect(refusal(request({ line: 'get /chat HTTP/1.1' })).status).toBe(405); // methods are case-sensitive
  });

  it('§4.1 / RFC 9112 §3.2 missing or empty Host → 400', () => {
    expect(refusal(request({ set: { Host: null } })).status).toBe(400);
    expect(refusal(request({ set: { Host: '' } })).status).toBe(400);
  });

  it('§4.2.1 item 2: a path the server does not serve → 404; served paths and no policy pass', () => {
    expect(refusal(request({ line: 'GET /other HTTP/1.1' }), { paths: ['/chat'] }).status).toBe(404);
    expect(evaluateUpgrade(request({ line: 'GET /chat?x=1 HTTP/1.1' }), { paths: ['/chat'] }).accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(() => evaluateUpgrade(request({ line: 'GET /anything HTTP/1.1' }), {})).not.toThrow();
  });

  it('§4.2.1 item 2: a trailing slash more or less names the same service; a 404 lists the served paths', () => {
    const served = (line: string, paths: string[]): boolean => {
      try {
        evaluateUpgrade(request({ line }), { paths });
        return true;
      } catch {
        return false;
      }
    };
    expect(served('GET /wss/ HTTP/1.1', ['/wss'])).toBe(true);
    expect(served('GET /wss/?t=1 HTTP/1.1', ['/wss'])).toBe(true);
    expect(served('GET /wss HTTP/1.1', ['/wss/'])).toBe(true);
    expect(served('GET /wss HTTP/1.1', ['/a', '/wss/'])).toBe(true);
    // Only one slash, only at the end, and / stays /.
    expect(served('GET /wss// HTTP/1.1', ['/wss'])).toBe(false);
    expect(served('GET /wssx HTTP/1.1', ['/wss'])).toBe(false);
    expect(served('GET / HTTP/1.1', ['/wss'])).toBe(false);
    expect(served('GET /wss HTTP/1.1', ['/'])).toBe(false);
    expect(refusal(request({ line: 'GET /x HTTP/1.1' }), { paths: ['/wss'] }).message).toBe('no WebSocket service at /x; this server serves /wss');
    expect(refusal(request({ line: 'GET /x HTTP/1.1' }), { paths: ['/a', '/b/'] }).message).toBe('no WebSocket service at /x; this server serves /a, /b/');
  });

  it('§4.2.2 / RFC 9110 §15.5.22 a plain GET without Upgrade → 426 with Upgrade: websocket', () => {
    const e = refusal(request({ set: { Upgrade: null, Connection: null, 'Sec-WebSocket-Key': null, 'Sec-WebSocket-Version': null } }));
    expect(e.status).toBe(426);
    expect(e.headers.Upgrade).toBe('websocket');
  });

  it('§4.2.1 item 3: Upgrade that does not name websocket → 400; the token is case-insensitive and may be in a list', () => {
    for (const v of ['h2c', 'websocket2', 'web socket', '']) {
      expect(refusal(request({ set: { Upgrade: v } })).status, v).toBe(400);
    }
    for (const v of ['WebSocket', 'WEBSOCKET', 'h2c, websocket']) {
      expect(() => evaluateUpgrade(request({ set: { Upgrade: v } })), v).not.toThrow();
    }
  });

  it('§4.2.1 item 4: Connection must include the Upgrade token (a list, case-insensitive) → else 400', () => {
    for (const v of ['keep-alive, Upgrade', 'UPGRADE', 'upgrade', 'Upgrade,keep-alive', ' keep-alive ,\tupgrade ']) {
      expect(() => evaluateUpgrade(request({ set: { Connection: v } })), v).not.toThrow();
    }
    for (const v of ['keep-alive', 'close', 'Upgraded', 'keep-alive Upgrade']) {
      expect(refusal(request({ set: { Connection: v } })).status, v).toBe(400);
    }
    expect(refusal(request({ set: { Connection: null } })).status).toBe(400);
  });

  it('§4.2.1 item 6: missing Sec-WebSocket-Version → 400 with Sec-WebSocket-Version: 13', () => {
    const e = refusal(request({ set: { 'Sec-WebSocket-Version': null } }));
    expect(e.status).toBe(400);
    expect(e.headers['Sec-WebSocket-Version']).toBe('13');
  });

  it('§4.4 an unsupported version (8) → 426 with Sec-WebSocket-Version: 13', () => {
    for (const v of ['8', '7', '14', '13, 8', 'thirteen']) {
      const e = refusal(request({ set: { 'Sec-WebSocket-Version': v } }));
      expect(e.status, v).toBe(426);
      expect(e.headers['Sec-WebSocket-Version']).toBe('13');
    }
  });

  it('§4.2.1 item 5: a missing key, or one that is not 16 bytes in base64 → 400', () => {
    expect(refusal(request({ set: { 'Sec-WebSocket-Key': null } })).status).toBe(400);
    const fifteen = Buffer.alloc(15, 7).toString('base64');
    const seventeen = Buffer.alloc(17, 7).toString('base64');
    for (const key of [fifteen, seventeen, 'not base64 at all!', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ=', 'dGhlIHNhbXBsZSBub25jZ!==', '']) {
      expect(refusal(request({ set: { 'Sec-WebSocket-Key': key } })).status, key).toBe(400);
    }
    expect(Buffer.from(fifteen, 'base64').length).toBe(15);
    expect(Buffer.from(seventeen, 'base64').length).toBe(17);
  });

  it('§4.2.1 item 5: any 16 random bytes in base64 are a valid key', () => {
    for (let i = 0; i < 50; i++) {
      const key = Buffer.from(Array.from({ length: 16 }, (_, j) => (i * 37 + j * 101) & 0xff)).toString('base64');
      expect(evaluateUpgrade(request({ set: { 'Sec-WebSocket-Key': key } })).accept).toBe(acceptKey(key));
    }
  });

  it('§4.1 the checks run in order: version, method, Host, path, Upgrade, Connection, version header, key', () => {
    // Start with everything wrong and fix one thing at a time: each refusal is the next check's.
    const policy = { paths: ['/chat'] };
    const steps: [{ line: string; set: Record<string, string | null> }, number, RegExp][] = [];
    const set: Record<string, string | null> = { Host: null, Upgrade: 'h2c', Connection: 'close', 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Key': 'bad' };
    steps.push([{ line: 'POST /x HTTP/1.0', set: { ...set } }, 505, /HTTP\/1\.0/]);
    steps.push([{ line: 'POST /x HTTP/1.1', set: { ...set } }, 405, /method/]);
    steps.push([{ line: 'GET /x HTTP/1.1', set: { ...set } }, 400, /Host/]);
    set.Host = 'h';
    steps.push([{ line: 'GET /x HTTP/1.1', set: { ...set } }, 404, /\/x/]);
    steps.push([{ line: 'GET /chat HTTP/1.1', set: { ...set } }, 400, /Upgrade/]);
    set.Upgrade = 'websocket';
    steps.push([{ line: 'GET /chat HTTP/1.1', set: { ...set } }, 400, /Connection/]);
    set.Connection = 'Upgrade';
    steps.push([{ line: 'GET /chat HTTP/1.1', set: { ...set } }, 426, /Version/]);
    set['Sec-WebSocket-Version'] = '13';
    steps.push([{ line: 'GET /chat HTTP/1.1', set: { ...set } }, 400, /Key/]);
    for (const [opts, status, reason] of steps) {
      const e = refusal(request(opts), policy);
      expect(e.status, JSON.stringify(opts)).toBe(status);
      expect(e.message).toMatch(reason);
    }
    set['Sec-WebSocket-Key'] = 'dGhlIHNhbXBsZSBub25jZQ==';
    expect(evaluateUpgrade(request({ line: 'GET /chat HTTP/1.1', set }), policy).accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('§4.2.1 item 8 / §11.3.4: offered subprotocols are parsed from a list (repeated fields too), in the client\'s order', () => {
    expect(evaluateUpgrade(request({ add: [['Sec-WebSocket-Protocol', 'chat, superchat']] })).offeredProtocols).toEqual(['chat', 'superchat']);
    expect(
      evaluateUpgrade(request({ add: [['Sec-WebSocket-Protocol', 'v2.json'], ['Sec-WebSocket-Protocol', ' , v1.json ,']] })).offeredProtocols,
    ).toEqual(['v2.json', 'v1.json']);
    expect(evaluateUpgrade(request({ add: [['Sec-WebSocket-Protocol', '']] })).offeredProtocols).toEqual([]);
  });

  it('§4.1 a subprotocol that is not a token → 400', () => {
    for (const v of ['chat, super chat', 'a/b', '"quoted"', 'chat;v=1']) {
      expect(refusal(request({ add: [['Sec-WebSocket-Protocol', v]] })).status, v).toBe(400);
    }
  });
});

describe('selectSubprotocol (RFC 6455 §4.2.2 step 5.5)', () => {
  it('§4.2.2 picks the first of the server\'s list (its preference) that the client offered', () => {
    expect(selectSubprotocol(['chat', 'superchat'], ['superchat', 'chat'])).toBe('superchat');
    expect(selectSubprotocol(['a', 'b', 'c'], ['c', 'b'])).toBe('c');
    expect(selectSubprotocol(['chat'], ['x', 'chat'])).toBe('chat');
  });

  it('§4.2.2 no match, nothing offered or nothing supported → none (the client then decides)', () => {
    expect(selectSubprotocol(['a'], ['b'])).toBeUndefined();
    expect(selectSubprotocol([], ['b'])).toBeUndefined();
    expect(selectSubprotocol(['a'], undefined)).toBeUndefined();
    expect(selectSubprotocol(['a'], [])).toBeUndefined();
  });

  it('§4.1 subprotocol names are compared exactly (case-sensitive)', () => {
    expect(selectSubprotocol(['Chat'], ['chat'])).toBeUndefined();
  });
});

describe('responses (RFC 6455 §4.2.2, RFC 9112 §4)', () => {
  it('§4.2.2 step 5: the 101 response of §1.3, byte for byte', () => {
    expect(acceptResponse('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', undefined)).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        '\r\n',
    );
  });

  it('§4.2.2 step 5.5: with a selected subprotocol', () => {
    expect(acceptResponse('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'chat')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n',
    );
  });

  it('§4.2.2 errorResponse: status line, Connection: close, a text body whose Content-Length counts UTF-8 bytes, and the required headers', () => {
    const text = errorResponse(426, 'use wss:// — please', { 'Sec-WebSocket-Version': '13' });
    const [headPart, body] = text.split('\r\n\r\n');
    const lines = headPart.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 426 Upgrade Required');
    expect(lines).toContain('Connection: close');
    expect(lines).toContain('Content-Type: text/plain; charset=utf-8');
    expect(lines).toContain('Sec-WebSocket-Version: 13');
    expect(body).toBe('426 Upgrade Required: use wss:// — please\n');
    expect(lines).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length);
  });

  it('RFC 9110 §15 reason phrases for the statuses the handshake uses; unknown statuses still form a valid status line', () => {
    const phrases: [number, string][] = [
      [400, 'Bad Request'],
      [404, 'Not Found'],
      [405, 'Method Not Allowed'],
      [426, 'Upgrade Required'],
      [431, 'Request Header Fields Too Large'],
      [505, 'HTTP Version Not Supported'],
    ];
    for (const [status, phrase] of phrases) expect(errorResponse(status, 'x').startsWith(`HTTP/1.1 ${status} ${phrase}\r\n`)).toBe(true);
    expect(errorResponse(418, 'x')).toMatch(/^HTTP\/1\.1 418 [^\r\n]+\r\n/);
  });

  it('every refusal evaluateUpgrade makes renders to a well-formed response carrying its headers', () => {
    const refusals = [
      request({ line: 'GET /chat HTTP/1.0' }),
      request({ line: 'POST /chat HTTP/1.1' }),
      request({ set: { Upgrade: null } }),
      request({ set: { 'Sec-WebSocket-Version': '8' } }),
    ].map((h) => refusal(h));
    for (const e of refusals) {
      const text = errorResponse(e.status, e.message, e.headers);
      expect(text.startsWith(`HTTP/1.1 ${e.status} `)).toBe(true);
      for (const [name, value] of Object.entries(e.headers)) expect(text).toContain(`\r\n${name}: ${value}\r\n`);
      expect(text).not.toMatch(/[^\r]\n(?!$)/); // no bare LF in the head
    }
  });
});
