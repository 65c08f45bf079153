// The upgrade decision after the RFC's rules, and the admission limits: pure.
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/http/admission.js';
import { TrustedProxies } from '../../../src/http/real-ip.js';
import { parseRequestHead } from '../../../src/http/request-head.js';
import { sideRouteResponse, type SideRoutes } from '../../../src/http/side-routes.js';
import { chooseSubprotocol, refusalOf, upgradeRequest, type UpgradePolicy } from '../../../src/http/upgrade.js';

const head = (...lines: string[]) => parseRequestHead(Buffer.from(lines.join('\r\n')));
const upgradeHead = (...extra: string[]) =>
  head('GET /chat?room=a HTTP/1.1', 'Host: example.com', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...extra);
const policy = (over: Partial<UpgradePolicy> = {}): UpgradePolicy => ({ paths: undefined, trustProxy: new TrustedProxies([]), subprotocols: undefined, selectSubprotocol: undefined, ...over });
const peer = { address: '127.0.0.1', port: 5000, secure: true };

describe('upgradeRequest', () => {
  it('§4.2.2 the accept key of the RFC example, the request as the application sees it', () => {
    const { request, accept } = upgradeRequest(upgradeHead('Sec-WebSocket-Protocol: chat, superchat'), peer, policy());
    expect(accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(request).toMatchObject({ path: '/chat', query: 'room=a', remoteAddress: '127.0.0.1', peerAddress: '127.0.0.1', remotePort: 5000, secure: true, protocols: ['chat', 'superchat'] });
  });

  it('X-Forwarded-For is believed only from a trusted proxy', () => {
    const h = upgradeHead('X-Forwarded-For: 203.0.113.9');
    expect(upgradeRequest(h, peer, policy()).request.remoteAddress).toBe('127.0.0.1');
    const trusted = upgradeRequest(h, peer, policy({ trustProxy: new TrustedProxies(['127.0.0.1']) })).request;
    expect(trusted).toMatchObject({ remoteAddress: '203.0.113.9', peerAddress: '127.0.0.1' });
  });

  it('a path not served is refused with WS_HS_NO_SERVICE (404)', () => {
    expect(() => upgradeRequest(upgradeHead(), peer, policy({ paths: ['/wss'] }))).toThrow(expect.objectContaining({ code: 'WS_HS_NO_SERVICE', status: 404 }));
  });
});

describe('refusalOf (verifyRequest answers)', () => {
  it('true / undefined accept; false is 403; an object refuses with its status, reason and headers', () => {
    expect(refusalOf(true)).toBeUndefined();
    expect(refusalOf(undefined)).toBeUndefined();
    expect(refusalOf(false)).toMatchObject({ status: 403, code: 'WS_HS_REFUSED_BY_APPLICATION' });
    expect(refusalOf({ status: 401, reason: 'token', headers: { 'WWW-Authenticate': 'Bearer' } })).toMatchObject({ status: 401, message: 'token', headers: { 'WWW-Authenticate': 'Bearer' } });
    expect(refusalOf({ status: 451 })).toMatchObject({ status: 451, message: 'request refused by the server' });
  });
});

describe('chooseSubprotocol', () => {
  const request = upgradeRequest(upgradeHead('Sec-WebSocket-Protocol: b, a'), peer, policy()).request;
  it("the server's order of preference decides; none when nothing matches", () => {
    expect(chooseSubprotocol(request, policy({ subprotocols: ['a', 'b'] }))).toBe('a');
    expect(chooseSubprotocol(request, policy({ subprotocols: ['c'] }))).toBeUndefined();
    expect(chooseSubprotocol(request, policy())).toBeUndefined();
  });
  it("the application's choice overrides, and choosing one not offered is a programming error", () => {
    expect(chooseSubprotocol(request, policy({ subprotocols: ['a'], selectSubprotocol: () => 'b' }))).toBe('b');
    expect(() => chooseSubprotocol(request, policy({ selectSubprotocol: () => 'z' }))).toThrow(/did not offer/);
  });
});

describe('Admission', () => {
  it('503 at the server-wide limit, 429 at the per-address one, with Retry-After; a closed connection frees its place', () => {
    const admission = new Admission(3, 2);
    expect(admission.check('a', 0)).toBeUndefined();
    admission.opened('a');
    admission.opened('a');
    expect(admission.check('a', 2)).toMatchObject({ status: 429, code: 'WS_HS_TOO_MANY_FROM_ADDRESS', headers: { 'Retry-After': '10' } });
    expect(admission.check('b', 2)).toBeUndefined();
    expect(admission.check('b', 3)).toMatchObject({ status: 503, code: 'WS_HS_SERVER_FULL' });
    admission.closed('a');
    expect(admission.check('a', 1)).toBeUndefined();
  });
  it('without a per-address limit, no address is remembered', () => {
    const admission = new Admission(10, 0);
    for (let i = 0; i < 100; i++) admission.opened('a');
    expect(admission.check('a', 5)).toBeUndefined();
    expect((admission as unknown as { perAddress: Map<string, number> }).perAddress.size).toBe(0);
  });
});

describe('sideRouteResponse', () => {
  const routes: SideRoutes = {
    demoPage: true,
    stats: true,
    wsPath: '/wss',
    statsJson: () => '{"connections":0}\n',
    metrics: () => 'wssd_connections 0\n',
    health: () => ({ ok: true, reason: 'ok' }),
  };
  it('GET / is the test page (connecting to the first served path), GET /stats the counters; HTTP/1.0 too', () => {
    expect(sideRouteResponse(head('GET / HTTP/1.1', 'Host: a'), routes)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*text\/html[\s\S]*"\/wss"/);
    expect(sideRouteResponse(head('GET /stats HTTP/1.0'), routes)).toMatch(/application\/json[\s\S]*\r\n\r\n\{"connections":0\}\n$/);
  });
  it('GET /healthz: 200 "ok", or 503 with the reason; always on, stats or not', () => {
    expect(sideRouteResponse(head('GET /healthz HTTP/1.1', 'Host: a'), { ...routes, stats: false })).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/);
    const down = { ...routes, health: () => ({ ok: false, reason: 'broker disconnected' }) };
    expect(sideRouteResponse(head('GET /healthz HTTP/1.1', 'Host: a'), down)).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\r\n\r\nbroker disconnected\n$/);
  });

  it('GET /wssd-client.js and /wssd-protocol.js: the built client, loadable from a page of any origin', () => {
    for (const path of ['/wssd-client.js', '/wssd-protocol.js']) {
      expect(sideRouteResponse(head(`GET ${path} HTTP/1.1`, 'Host: a'), routes)).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: text\/javascript; charset=utf-8\r\nAccess-Control-Allow-Origin: \*\r\n[\s\S]*\r\n\r\n[\s\S]*export /);
    }
  });

  it('GET /metrics in the Prometheus text format, only with stats on', () => {
    expect(sideRouteResponse(head('GET /metrics HTTP/1.1', 'Host: a'), routes)).toMatch(/text\/plain; version=0\.0\.4[\s\S]*wssd_connections 0\n$/);
    expect(sideRouteResponse(head('GET /metrics HTTP/1.1', 'Host: a'), { ...routes, stats: false })).toBeUndefined();
  });

  it('an upgrade, another method, another path, or a route switched off goes on to the upgrade rules', () => {
    expect(sideRouteResponse(head('GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket'), routes)).toBeUndefined();
    expect(sideRouteResponse(head('POST / HTTP/1.1', 'Host: a'), routes)).toBeUndefined();
    expect(sideRouteResponse(head('GET /other HTTP/1.1', 'Host: a'), routes)).toBeUndefined();
    expect(sideRouteResponse(head('GET /stats HTTP/1.1', 'Host: a'), { ...routes, stats: false })).toBeUndefined();
    expect(sideRouteResponse(head('GET / HTTP/1.1', 'Host: a'), { ...routes, demoPage: false })).toBeUndefined();
  });
});
