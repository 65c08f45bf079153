// TLS handshake failures ('tlsClientError'): classification of OpenSSL's
// error codes, and the per-key log rate limiter, driven by an injected clock.
import { describe, expect, it } from 'vitest';
import { classifyTlsClientError, RateLimiter } from '../../../src/tls/client-errors.js';

const tlsError = (code: string | undefined, message = 'boom'): Error & { code?: string } => Object.assign(new Error(message), code === undefined ? {} : { code });

describe('classifyTlsClientError', () => {
  it('ERR_SSL_HTTP_REQUEST (plain HTTP / ws:// to the TLS port) → http_request, with an explanation naming wss://', () => {
    const k = classifyTlsClientError(tlsError('ERR_SSL_HTTP_REQUEST'));
    expect(k.kind).toBe('http_request');
    expect(k.explanation).toContain('wss://');
  });

  it('known OpenSSL / Node codes map to stable kinds', () => {
    const cases: [string, string][] = [
      ['ERR_SSL_HTTPS_PROXY_REQUEST', 'http_proxy_request'],
      ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'unsupported_protocol'],
      ['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'unsupported_protocol'],
      ['ERR_SSL_NO_SHARED_CIPHER', 'no_shared_cipher'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'not_tls'],
      ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'certificate_rejected'],
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'certificate_rejected'],
      ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'certificate_rejected'],
      ['ECONNRESET', 'reset'],
      ['ERR_TLS_HANDSHAKE_TIMEOUT', 'handshake_timeout'],
    ];
    for (const [code, kind] of cases) {
      const k = classifyTlsClientError(tlsError(code));
      expect(k.kind, code).toBe(kind);
      expect(k.explanation.length, code).toBeGreaterThan(0);
    }
  });

  it('an unknown code is kept, lower-cased, as the kind; the explanation names it', () => {
    const k = classifyTlsClientError(tlsError('ERR_SSL_SOMETHING_NEW'));
    expect(k.kind).toBe('err_ssl_something_new');
    expect(k.explanation).toContain('ERR_SSL_SOMETHING_NEW');
  });

  it('no code at all → unknown, the explanation quotes (at most 80 chars of) the message', () => {
    const k = classifyTlsClientError(tlsError(undefined, 'socket hang up'));
    expect(k.kind).toBe('unknown');
    expect(k.explanation).toContain('socket hang up');
    const long = classifyTlsClientError(tlsError(undefined, 'x'.repeat(500)));
    expect(long.explanation).toContain('x'.repeat(80));
    expect(long.explanation).not.toContain('x'.repeat(81));
  });
});

describe('RateLimiter (injected clock)', () => {
  function limiter(windowMs: number, maxKeys: number): { rl: RateLimiter; clock: { t: number } } {
    const clock = { t: 1_000_000 };
    return { rl: new RateLimiter(windowMs, maxKeys, () => clock.t), clock };
  }

  it('one line per key per window; the next line after the window reports how many were held back', () => {
    const { rl, clock } = limiter(60_000, 100);
    expect(rl.take('1.2.3.4')).toBe(0);
    clock.t += 1;
    expect(rl.take('1.2.3.4')).toBe(-1);
    clock.t += 30_000;
    expect(rl.take('1.2.3.4')).toBe(-1);
    clock.t += 29_998; // 59 999 ms after the first line: still inside the window
    expect(rl.take('1.2.3.4')).toBe(-1);
    clock.t += 1; // exactly one window later
    expect(rl.take('1.2.3.4')).toBe(3);
    // A new window started at that line, and the count started over.
    clock.t += 10;
    expect(rl.take('1.2.3.4')).toBe(-1);
    clock.t += 60_000;
    expect(rl.take('1.2.3.4')).toBe(1);
    clock.t += 60_000;
    expect(rl.take('1.2.3.4')).toBe(0);
  });

  it('keys are independent', () => {
    const { rl, clock } = limiter(1000, 100);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('b')).toBe(0);
    expect(rl.take('a')).toBe(-1);
    clock.t += 500;
    expect(rl.take('c')).toBe(0);
    expect(rl.take('b')).toBe(-1);
    clock.t += 500;
    expect(rl.take('a')).toBe(1);
    expect(rl.take('b')).toBe(1);
    expect(rl.take('c')).toBe(-1);
  });

  it('the key table is bounded: past maxKeys, with every entry recent, the oldest is dropped', () => {
    const { rl } = limiter(60_000, 2);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('b')).toBe(0);
    expect(rl.take('c')).toBe(0); // table full of recent keys: 'a' goes
    expect(rl.take('b')).toBe(-1); // kept
    expect(rl.take('c')).toBe(-1); // kept
    expect(rl.take('a')).toBe(0); // forgotten, so logged again (and 'b', now oldest, goes)
    expect(rl.take('c')).toBe(-1);
    expect(rl.take('b')).toBe(0);
  });

  it('the key table is bounded: expired entries are dropped first, keeping recent ones', () => {
    const { rl, clock } = limiter(1000, 3);
    rl.take('old1');
    rl.take('old2');
    clock.t += 900;
    rl.take('recent');
    clock.t += 200; // old1, old2 expired; recent is 200 ms old
    expect(rl.take('new')).toBe(0);
    expect(rl.take('recent')).toBe(-1);
    expect(rl.take('new')).toBe(-1);
  });

  it('memory stays bounded under a flood of distinct keys (behaviourally: old keys are forgotten, recent ones kept)', () => {
    const { rl, clock } = limiter(60_000, 100);
    const key = (i: number): string => `10.0.${i >> 8}.${i & 255}`;
    let logged = 0;
    for (let i = 0; i < 5_000; i++) {
      clock.t += 1;
      if (rl.take(key(i)) === 0) logged++;
    }
    expect(logged).toBe(5_000);
    // The most recent keys are remembered (held back), the first is long forgotten.
    expect(rl.take(key(4_999))).toBe(-1);
    expect(rl.take(key(4_950))).toBe(-1);
    expect(rl.take(key(0))).toBe(0);
  });

  it('defaults: a 60 s window using Date.now', () => {
    const rl = new RateLimiter();
    expect(rl.take('k')).toBe(0);
    expect(rl.take('k')).toBe(-1);
  });
});
