// Ticket key files (nginx's ssl_session_ticket_key layout: name, AES key,
// HMAC key, 16 bytes each) and the ring's answers to node:tls's ticket-key
// callback: the first key encrypts, any decrypts, an older one asks for a new
// ticket, an unknown one means a full handshake. Resumption itself, over real
// TLS, is test/integration/ticket-keys.test.ts.
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config-error.js';
import { MAX_TICKET_KEYS, parseTicketKeys, randomTicketKey, TicketKeyRing } from '../../../src/tls/ticket-keys.js';

type Answer = [number, Buffer, Buffer, Buffer?, Buffer?];
type Callback = (name: Buffer, iv: Buffer, encrypt: boolean) => Answer;

/** Installs `ring` on a fresh context and returns the callback node:tls would call. */
function callbackOf(ring: TicketKeyRing): Callback {
  const context = tls.createSecureContext({});
  expect(ring.install(context)).toBe(true);
  const native = (context as tls.SecureContext & { context: { onticketkeycallback: Callback } }).context;
  return native.onticketkeycallback;
}

describe('parseTicketKeys', () => {
  it('splits N × 48 bytes into name | AES | HMAC, as nginx reads its key files', () => {
    const bytes = Buffer.alloc(96);
    for (let i = 0; i < 96; i++) bytes[i] = i;
    const keys = parseTicketKeys(bytes, 'f');
    expect(keys).toHaveLength(2);
    expect([...keys[1].name]).toEqual([...Array(16).keys()].map((i) => 48 + i));
    expect([...keys[1].aes]).toEqual([...Array(16).keys()].map((i) => 64 + i));
    expect([...keys[1].hmac]).toEqual([...Array(16).keys()].map((i) => 80 + i));
    // A copy: the caller's buffer may be wiped.
    bytes.fill(0);
    expect(keys[0].name[1]).toBe(1);
  });

  it('refuses every other size, too many keys and repeated names with a ConfigError that says which', () => {
    for (const size of [0, 1, 47, 49, 95]) {
      expect(() => parseTicketKeys(Buffer.alloc(size, 7), 'the file k')).toThrow(ConfigError);
      expect(() => parseTicketKeys(Buffer.alloc(size, 7), 'the file k')).toThrow(`the file k must hold one or more 48-byte TLS ticket keys (48 × N bytes), got ${size} bytes`);
    }
    expect(() => parseTicketKeys(Buffer.concat(Array.from({ length: MAX_TICKET_KEYS + 1 }, randomTicketKey)), 'k')).toThrow(`k holds ${MAX_TICKET_KEYS + 1} TLS ticket keys; at most ${MAX_TICKET_KEYS}`);
    const key = randomTicketKey();
    expect(() => parseTicketKeys(Buffer.concat([key, randomTicketKey(), key]), 'k')).toThrow('k: TLS ticket keys 1 and 3 have the same name');
    expect(parseTicketKeys(Buffer.concat(Array.from({ length: MAX_TICKET_KEYS }, randomTicketKey)), 'k')).toHaveLength(MAX_TICKET_KEYS);
  });
});

describe('TicketKeyRing: the answers to node:tls', () => {
  const [a, b] = [randomTicketKey(), randomTicketKey()];
  const ring = new TicketKeyRing(parseTicketKeys(Buffer.concat([a, b]), 'k'));
  const [first, second] = ring.current;

  it('encrypts with the first key, a fresh random IV each time', () => {
    const answer = callbackOf(ring);
    const [r, hmac, aes, name, iv] = answer(Buffer.alloc(16), Buffer.alloc(16), true);
    expect(r).toBe(1);
    expect(hmac.equals(first.hmac) && aes.equals(first.aes) && name?.equals(first.name)).toBe(true);
    expect(iv).toHaveLength(16);
    expect(iv?.equals(answer(Buffer.alloc(16), Buffer.alloc(16), true)[4] ?? Buffer.alloc(0))).toBe(false);
  });

  it('decrypts with the key its name finds: 1 for the first, 2 (issue a new ticket) for an older one, 0 (full handshake) for none', () => {
    const answer = callbackOf(ring);
    expect(answer(first.name, Buffer.alloc(16), false)[0]).toBe(1);
    const [r, hmac, aes] = answer(second.name, Buffer.alloc(16), false);
    expect([r, hmac.equals(second.hmac), aes.equals(second.aes)]).toEqual([2, true, true]);
    expect(answer(Buffer.alloc(16, 0xee), Buffer.alloc(16), false)[0]).toBe(0);
  });

  it('one key goes to node:tls itself, in its order (name, HMAC, AES): no callback', () => {
    const r = new TicketKeyRing(parseTicketKeys(a, 'k'));
    const context = tls.createSecureContext({});
    expect(r.install(context)).toBe(true);
    const native = (context as tls.SecureContext & { context: { onticketkeycallback?: unknown; getTicketKeys(): Buffer } }).context;
    expect(native.onticketkeycallback).toBeUndefined();
    const [key] = r.current;
    expect(native.getTicketKeys().equals(Buffer.concat([key.name, key.hmac, key.aes]))).toBe(true);
  });

  it('replace() takes effect on contexts that have the callback, even back to one key; same() tells a reload that changes nothing', () => {
    const r = new TicketKeyRing(parseTicketKeys(Buffer.concat([a, b]), 'k'));
    const answer = callbackOf(r);
    const next = parseTicketKeys(Buffer.concat([b, a]), 'k');
    expect(r.same(parseTicketKeys(Buffer.concat([a, b]), 'k'))).toBe(true);
    expect(r.same(next)).toBe(false);
    r.replace(next);
    expect(answer(Buffer.alloc(16), Buffer.alloc(16), true)[3]?.equals(next[0].name)).toBe(true);
    expect(answer(next[1].name, Buffer.alloc(16), false)[0]).toBe(2);
    const only = parseTicketKeys(b, 'k');
    r.replace(only);
    expect(answer(only[0].name, Buffer.alloc(16), false)[0]).toBe(1);
    expect(answer(next[1].name, Buffer.alloc(16), false)[0]).toBe(0);
  });
});
