import { describe, expect, it } from 'vitest';
import { clientAddress, TrustedProxies } from '../../../src/http/real-ip.js';

const proxies = new TrustedProxies(['127.0.0.1', '::1', '10.0.0.0/8']);

describe('real client IP behind trusted proxies', () => {
  it('ignores forwarding headers from an untrusted peer (no spoofing)', () => {
    expect(clientAddress('203.0.113.9', { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '5.6.7.8' }, proxies)).toBe('203.0.113.9');
  });

  it('ignores them when no proxy is trusted (the default)', () => {
    expect(clientAddress('127.0.0.1', { 'x-real-ip': '5.6.7.8' }, new TrustedProxies([]))).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', { 'x-real-ip': '5.6.7.8' }, undefined)).toBe('127.0.0.1');
  });

  it('takes the right-most untrusted X-Forwarded-For entry from a trusted peer', () => {
    // The client forged "6.6.6.6"; nginx appended what it saw (198.51.100.7); an inner proxy appended 10.1.1.1.
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.1.1' }, proxies)).toBe('198.51.100.7');
  });

  it('falls back to X-Real-IP, then to the peer', () => {
    expect(clientAddress('::1', { 'x-real-ip': '2001:db8::5' }, proxies)).toBe('2001:db8::5');
    expect(clientAddress('::1', { 'x-real-ip': 'not-an-ip' }, proxies)).toBe('::1');
    expect(clientAddress('::1', {}, proxies)).toBe('::1');
  });

  it('strips ports, brackets and IPv4-mapped prefixes', () => {
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.7:5123' }, proxies)).toBe('198.51.100.7');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '[2001:db8::1]:443' }, proxies)).toBe('2001:db8::1');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '::ffff:198.51.100.7' }, proxies)).toBe('198.51.100.7');
  });

  it('returns the left-most hop when every hop is trusted', () => {
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': '10.0.0.5, 10.0.0.6' }, proxies)).toBe('10.0.0.5');
  });

  it('CIDR matching: 10.0.0.0/8 trusts 10.x, not 11.x', () => {
    expect(proxies.has('10.200.3.4')).toBe(true);
    expect(proxies.has('11.0.0.1')).toBe(false);
    expect(proxies.has('::ffff:127.0.0.1')).toBe(true);
  });

  it('refuses a bad spec at startup', () => {
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(RangeError);
    expect(() => new TrustedProxies(['example.com'])).toThrow(RangeError);
    expect(() => new TrustedProxies(['::1/129'])).toThrow(RangeError);
  });
});
