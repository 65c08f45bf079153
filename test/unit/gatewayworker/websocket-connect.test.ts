// The body of CMD_ON_WEBSOCKET_CONNECT (GatewayWorker spec §10.3): the
// verified example, and upgrade requests that Workerman 5's own Http\Request
// turned into PHP's $data (fixtures/websocket-connect.json), each request
// going through wssd's head parser first, as the Gateway will.
import { describe, expect, it } from 'vitest';
import { unserialize } from '../../../src/gatewayworker/php-serialize.js';
import { websocketConnectBody, websocketConnectData, workermanRemoteIp, type WebsocketConnectRequest } from '../../../src/gatewayworker/websocket-connect.js';
import type { PhpArray, PhpValue } from '../../../src/gatewayworker/php-value.js';
import { parseRequestHead } from '../../../src/http/request-head.js';
import { bin, fixture, unhex } from './fixtures.js';

type Case = { head: string; remoteIp: string; remotePort: number; localPort: number; body: string };
const cases = fixture<Case[]>('websocket-connect.json');

function requestOf(c: Case): WebsocketConnectRequest {
  const head = unhex(c.head);
  const parsed = parseRequestHead(head.subarray(0, head.length - 4));
  // Node reports '::1' where Workerman writes '[::1]'.
  return { ...parsed, remoteAddress: c.remoteIp.replace(/^\[(.*)\]$/, '$1'), remotePort: c.remotePort, localPort: c.localPort };
}

function at(value: PhpValue, ...path: string[]): PhpValue {
  let v = value;
  for (const key of path) v = (v as PhpArray).get(key) ?? null;
  return v;
}

describe('CMD_ON_WEBSOCKET_CONNECT body (§10.3)', () => {
  for (const [i, c] of cases.entries()) {
    it(`request ${i}: ${unhex(c.head).toString('latin1').split('\r\n')[0]}`, () => {
      const body = websocketConnectBody(requestOf(c));
      expect(body.toString('latin1')).toBe(unhex(c.body).toString('latin1'));
    });
  }

  it('the verified example: get, server, cookie as the PHP app reads them', () => {
    const data = websocketConnectData(requestOf(cases[0]));
    expect(at(data, 'get', 'a')).toEqual(bin('1'));
    expect([...(at(data, 'get', 'b') as PhpArray).values()]).toEqual([bin('2'), bin('3')]);
    expect(at(data, 'get', 'c_d')).toEqual(bin('4'));
    expect(at(data, 'server', 'QUERY_STRING')).toEqual(bin('a=1&b[]=2&b[]=3&c.d=4'));
    expect(at(data, 'server', 'REQUEST_URI')).toEqual(bin('/chat?a=1&b[]=2&b[]=3&c.d=4'));
    expect(at(data, 'server', 'SERVER_PROTOCOL')).toEqual(bin('HTTP/1.1'));
    expect(at(data, 'server', 'SERVER_NAME')).toEqual(bin('127.0.0.1:34282'));
    expect(at(data, 'server', 'CONTENT_TYPE')).toBeNull();
    expect([at(data, 'server', 'REMOTE_ADDR'), at(data, 'server', 'REMOTE_PORT'), at(data, 'server', 'SERVER_PORT')]).toEqual([bin('127.0.0.1'), 58162n, 34282n]);
    expect(at(data, 'server', 'HTTP_COOKIE')).toEqual(bin('sid=ab%20c; x = y'));
    expect(at(data, 'server', 'HTTP_X_DUP')).toEqual(bin('1,2'));
    expect([at(data, 'cookie', 'sid'), at(data, 'cookie', 'x')]).toEqual([bin('ab%20c'), bin(' y')]);
    expect([...(at(data, 'server') as PhpArray).keys()].slice(9)).toEqual([
      'HTTP_HOST',
      'HTTP_UPGRADE',
      'HTTP_CONNECTION',
      'HTTP_SEC_WEBSOCKET_KEY',
      'HTTP_SEC_WEBSOCKET_VERSION',
      'HTTP_COOKIE',
      'HTTP_X_DUP',
    ]);
  });

  it('the body is what unserialize reads back, and the version may come without "HTTP/"', () => {
    const request = { ...requestOf(cases[0]), httpVersion: '1.1' };
    expect(unserialize(websocketConnectBody(request))).toEqual(websocketConnectData(requestOf(cases[0])));
  });
});

describe("Workerman's remote address", () => {
  it('IPv4 as is, IPv4-mapped as IPv4, IPv6 in brackets', () => {
    expect(['127.0.0.1', '::ffff:10.0.0.1', '::1', 'fe80::1%eth0'].map(workermanRemoteIp)).toEqual(['127.0.0.1', '10.0.0.1', '[::1]', '[fe80::1%eth0]']);
  });
});
