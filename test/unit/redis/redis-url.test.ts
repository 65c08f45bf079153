// redis:// and rediss:// URLs, as redis-cli reads them.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config-error.js';
import { parseRedisUrl, redact } from '../../../src/redis/redis-url.js';

describe('parseRedisUrl', () => {
  it('host and port, defaults (6379, db 0, no auth), TLS for rediss://', () => {
    expect(parseRedisUrl('redis://127.0.0.1')).toEqual({ tls: false, host: '127.0.0.1', port: 6379, username: undefined, password: undefined, db: 0 });
    expect(parseRedisUrl('rediss://cache.example:6380/2')).toMatchObject({ tls: true, host: 'cache.example', port: 6380, db: 2 });
  });
  it('user and password (percent-decoded), a password alone, IPv6 literals', () => {
    expect(parseRedisUrl('redis://wssd:p%40ss%3Aword@[::1]:7000/3')).toEqual({ tls: false, host: '::1', port: 7000, username: 'wssd', password: 'p@ss:word', db: 3 });
    expect(parseRedisUrl('redis://:secret@localhost')).toMatchObject({ username: undefined, password: 'secret' });
  });
  it('refuses other schemes, no host, a database that is not a number, a query — with ConfigError, the password redacted', () => {
    for (const bad of ['http://localhost', 'localhost:6379', 'redis://', 'redis://h/one', 'redis://h/1?x=1']) {
      expect(() => parseRedisUrl(bad), bad).toThrow(ConfigError);
    }
    expect(() => parseRedisUrl('redis://u:topsecret@h/x')).toThrow(/u:\*\*\*@h/);
    expect(redact('redis://u:topsecret@h:1/0')).toBe('redis://u:***@h:1/0');
  });
});
