// Where Redis is: redis://[user:pass@]host:port/db, or rediss:// for TLS
// (the URL scheme IANA registered for Redis, as redis-cli and every client
// library read it). User and password are percent-decoded; a password alone
// is redis://:pass@host. The database number is the path.
import { ConfigError } from '../config-error.js';

export interface RedisEndpoint {
  tls: boolean;
  host: string;
  port: number;
  /** ACL user (Redis 6+); undefined: "default". */
  username: string | undefined;
  password: string | undefined;
  db: number;
}

export function parseRedisUrl(text: string): RedisEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`not a Redis URL: ${JSON.stringify(text)} (redis://[user:pass@]host:port/db or rediss://…)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`a Redis URL starts with redis:// or rediss://, got ${url.protocol}//`);
  }
  if (url.hostname === '') throw new ConfigError(`the Redis URL ${redact(url)} names no host`);
  const port = url.port === '' ? 6379 : Number(url.port);
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^[0-9]{1,5}$/.test(path)) throw new ConfigError(`the Redis database in ${redact(url)} is a number, got ${JSON.stringify(path)}`);
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`the Redis URL ${redact(url)} takes no query or fragment`);
  return {
    tls: url.protocol === 'rediss:',
    // URL keeps IPv6 literals in brackets; sockets want them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    db: path === '' ? 0 : Number(path),
  };
}

/** The URL without its password, for logs and messages. */
export function redact(url: URL | string): string {
  const copy = new URL(url.toString());
  if (copy.password !== '') copy.password = '***';
  return copy.toString();
}
