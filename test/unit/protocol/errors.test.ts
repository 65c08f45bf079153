// The catalogue of refusals and exits: every entry has a stable code of the
// documented shape and a status or close code the RFCs allow on the wire.
import { describe, expect, it } from 'vitest';
import { isValidWireCloseCode } from '../../../src/protocol/close.js';
import { CloseCode } from '../../../src/protocol/constants.js';
import { connectionExits, HandshakeError, handshakeErrors, ProtocolError, protocolErrors } from '../../../src/protocol/errors.js';

/** Each entry called with plausible arguments. */
function instances<T>(catalogue: Record<string, (...args: never[]) => T>): [string, T][] {
  return Object.entries(catalogue).map(([name, make]) => [name, (make as (...args: unknown[]) => T)('x', 'y')]);
}

describe('error catalogue', () => {
  it('protocol errors: WS_ERR_* codes, a close code an endpoint may send (§7.4.1), a message', () => {
    for (const [name, e] of instances(protocolErrors)) {
      expect(e, name).toBeInstanceOf(ProtocolError);
      expect(e.code, name).toMatch(/^WS_ERR_[A-Z0-9_]+$/);
      expect(isValidWireCloseCode(e.closeCode), `${name} ${e.closeCode}`).toBe(true);
      expect(e.message.length, name).toBeGreaterThan(0);
    }
  });

  it('connection exits: WS_ERR_* codes; all but the missing pong (1006, never sent) go on the wire', () => {
    for (const [name, e] of instances(connectionExits)) {
      // Their codes are the caller's: below.
      if (name === 'shutdown' || name === 'kicked') continue;
      expect(e.code, name).toMatch(/^WS_ERR_[A-Z0-9_]+$/);
      if (name === 'noPong') expect(e.closeCode).toBe(CloseCode.Abnormal);
      else expect(isValidWireCloseCode(e.closeCode), `${name} ${e.closeCode}`).toBe(true);
    }
    expect(connectionExits.handlerThrew()).toMatchObject({ code: 'WS_ERR_HANDLER', closeCode: 1011, message: 'internal error' });
    expect(connectionExits.sendBufferFull()).toMatchObject({ code: 'WS_ERR_SEND_BUFFER_FULL', closeCode: 1008 });
    expect(connectionExits.idle()).toMatchObject({ code: 'WS_ERR_IDLE_TIMEOUT', closeCode: 1001, message: 'idle timeout' });
    expect(connectionExits.noPong(250).message).toBe('no pong within 250 ms: connection terminated');
    expect(connectionExits.shutdown(1012, 'restart')).toMatchObject({ code: 'WS_ERR_SERVER_SHUTDOWN', closeCode: 1012, message: 'restart' });
    expect(connectionExits.kicked(4000, 'bye')).toMatchObject({ code: 'WS_ERR_KICKED', closeCode: 4000, message: 'bye' });
  });

  it('handshake refusals: HTTP_ERR_* / WS_HS_* codes, a 4xx/5xx status, the headers the RFCs require with it', () => {
    for (const [name, e] of instances(handshakeErrors)) {
      if (name === 'refusedByApplication' || name === 'refusedByBackend') continue; // its status is the application's or the backend's; below
      expect(e, name).toBeInstanceOf(HandshakeError);
      expect(e.code, name).toMatch(/^(HTTP_ERR|WS_HS)_[A-Z0-9_]+$/);
      expect(e.status, name).toBeGreaterThanOrEqual(400);
      expect(e.status, name).toBeLessThan(600);
      // RFC 9110 §15.5.6: 405 carries Allow; RFC 6455 §4.4: 426 carries the version spoken.
      if (e.status === 405) expect(e.headers.Allow, name).toBe('GET');
      if (e.status === 426) expect(e.headers['Sec-WebSocket-Version'], name).toBe('13');
      // RFC 9110 §11.6.1: a 401 carries a challenge.
      if (e.status === 401) expect(e.headers['WWW-Authenticate'], name).toMatch(/^Bearer/);
    }
  });

  it("the backend's refusal keeps its status and reason", () => {
    expect(handshakeErrors.refusedByBackend(403, 'banned')).toMatchObject({ code: 'WS_HS_REFUSED_BY_BACKEND', status: 403, message: 'banned' });
  });

  it('one code per cause: no two distinct refusals of the upgrade rules share a code', () => {
    const upgradeRules = ['httpVersion', 'method', 'missingHost', 'noService', 'notUpgrade', 'upgradeNotWebSocket', 'connectionNotUpgrade', 'missingVersion', 'unsupportedVersion', 'missingKey', 'badKey', 'badSubprotocol', 'serverFull', 'tooManyFromAddress', 'timeout', 'internal'] as const;
    const codes = upgradeRules.map((name) => (handshakeErrors[name] as (...args: string[]) => HandshakeError)('x').code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('token refusals: 401 each, one code per cause, invalid_token but for the missing token (RFC 6750 §3.1)', () => {
    const tokens = Object.entries(handshakeErrors).filter(([name]) => name.startsWith('token'));
    expect(tokens.length).toBeGreaterThanOrEqual(11);
    const refusals = tokens.map(([name, make]) => [name, (make as (...args: string[]) => HandshakeError)('x')] as const);
    for (const [name, e] of refusals) {
      expect(e.status, name).toBe(401);
      expect(e.code, name).toMatch(/^WS_HS_TOKEN_/);
      expect(e.headers['WWW-Authenticate'], name).toBe(name === 'tokenMissing' ? 'Bearer' : 'Bearer error="invalid_token"');
    }
    expect(new Set(refusals.map(([, e]) => e.code)).size).toBe(refusals.length);
  });

  it("an application's refusal keeps its status, reason and headers", () => {
    const e = handshakeErrors.refusedByApplication(401, 'who are you', { 'WWW-Authenticate': 'Bearer' });
    expect(e).toMatchObject({ code: 'WS_HS_REFUSED_BY_APPLICATION', status: 401, message: 'who are you', headers: { 'WWW-Authenticate': 'Bearer' } });
    expect(handshakeErrors.refusedByApplication()).toMatchObject({ status: 403, message: 'request refused by the server' });
  });
});
