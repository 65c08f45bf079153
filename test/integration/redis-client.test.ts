// The Redis client against a real redis-server: RESP3 handshake, pipelined
// commands, AUTH with an ACL user, a database, pub/sub pushes on the same
// connection, reconnection that restores every subscription, a bounded queue
// while Redis is away, and a malformed reply refused with a clear error.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisClient, RedisUnavailableError } from '../../src/redis/redis-client.js';
import { parseRedisUrl } from '../../src/redis/redis-url.js';
import { RedisReplyError, RespPush, type RespValue } from '../../src/redis/resp.js';
import { eventually } from '../helpers/poll.js';
import { DEV_CA } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';

const servers: RedisServer[] = [];
const clients: RedisClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function redis(args?: string[]): Promise<RedisServer> {
  const server = await RedisServer.start({ args });
  servers.push(server);
  return server;
}

function client(url: string, extra: Partial<ConstructorParameters<typeof RedisClient>[0]> = {}): RedisClient {
  const c = new RedisClient({ endpoint: parseRedisUrl(url), name: 'wssd-test', minReconnectDelay: 20, maxReconnectDelay: 200, ...extra });
  clients.push(c);
  return c;
}

const text = (v: RespValue): string => (Buffer.isBuffer(v) ? v.toString() : String(v));

describe('RedisClient against redis-server', () => {
  it('HELLO 3 with SETNAME; 1,000 pipelined commands answered in order; an error reply rejects only its command', async () => {
    const server = await redis();
    const c = client(server.url);
    await c.connect();
    expect(c.state).toBe('ready');
    expect(text(await c.command(['CLIENT', 'GETNAME']))).toBe('wssd-test');
    const replies = await Promise.all(Array.from({ length: 1000 }, () => c.command(['INCR', 'n'])));
    expect(replies).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await expect(c.command(['LPUSH', 'n', 'x'])).rejects.toThrow(RedisReplyError);
    expect(await c.command(['GET', 'n'])).toEqual(Buffer.from('1000'));
    // RESP3 types come through: a map from HGETALL.
    await c.command(['HSET', 'h', 'a', '1']);
    expect(await c.command(['HGETALL', 'h'])).toEqual(new Map([['a', Buffer.from('1')]]));
  });

  it('AUTH with an ACL user and a database from the URL; a wrong password is refused and retried, not accepted', async () => {
    const server = await redis();
    const admin = client(server.url);
    await admin.connect();
    await admin.command(['ACL', 'SETUSER', 'wssd', 'on', '>s3cret', '~*', '&*', '+@all']);
    const c = client(`redis://wssd:s3cret@127.0.0.1:${server.port}/3`);
    await c.connect();
    expect(text(await c.command(['ACL', 'WHOAMI']))).toBe('wssd');
    await c.command(['SET', 'k', 'in db 3']);
    expect(await admin.command(['GET', 'k'])).toBeNull();
    await admin.command(['SELECT', 3]);
    expect(text(await admin.command(['GET', 'k']))).toBe('in db 3');
    const wrong = client(`redis://wssd:nope@127.0.0.1:${server.port}`);
    const downs: Error[] = [];
    wrong.on('down', (e) => downs.push(e));
    void wrong.connect().catch(() => {});
    await eventually(() => downs.length >= 2, 3000, 'refused and retried');
    expect(wrong.state).not.toBe('ready');
  });

  it('pub/sub: pushes on the same connection that still runs commands', async () => {
    const server = await redis();
    const sub = client(server.url);
    const pub = client(server.url);
    await Promise.all([sub.connect(), pub.connect()]);
    const got: string[] = [];
    sub.on('push', (p: RespPush) => {
      if (text(p.items[0]) === 'message') got.push(`${text(p.items[1])}=${text(p.items[2])}`);
    });
    sub.subscribe('wssd:a');
    await eventually(async () => (await pub.command(['PUBLISH', 'wssd:a', 'one'])) === 1, 2000, 'subscribed');
    expect(await sub.command(['PING'])).toBe('PONG');
    await pub.command(['PUBLISH', 'wssd:b', 'nobody']);
    await pub.command(['PUBLISH', 'wssd:a', 'two']);
    await eventually(() => got.length === 2, 2000, 'two messages');
    expect(got).toEqual(['wssd:a=one', 'wssd:a=two']);
  });

  it('Redis killed and restarted: the client reconnects by itself and every subscription is restored', async () => {
    const server = await redis();
    const sub = client(server.url);
    await sub.connect();
    const got: string[] = [];
    sub.on('push', (p: RespPush) => {
      if (text(p.items[0]) === 'message') got.push(text(p.items[2]));
    });
    for (const ch of ['c1', 'c2', 'c3']) sub.subscribe(ch);
    const readies: boolean[] = [];
    sub.on('ready', (again) => readies.push(again));
    await server.kill();
    await eventually(() => sub.state === 'reconnecting', 2000, 'the loss noticed');
    await server.run();
    await eventually(() => readies.includes(true), 5000, 'reconnected');
    const pub = client(server.url);
    await pub.connect();
    for (const ch of ['c1', 'c2', 'c3']) {
      await eventually(async () => (await pub.command(['PUBLISH', ch, `to ${ch}`])) === 1, 2000, `${ch} restored`);
    }
    await eventually(() => got.length >= 3, 2000, 'three messages');
    expect(new Set(got)).toEqual(new Set(['to c1', 'to c2', 'to c3']));
  });

  it('while Redis is away commands wait in a bounded queue: past maxQueued they are refused at once; the rest run when it is back', async () => {
    const server = await redis();
    const c = client(server.url, { maxPending: 5 });
    await c.connect();
    await server.kill();
    await eventually(() => c.state === 'reconnecting', 2000, 'the loss noticed');
    const waiting = Array.from({ length: 5 }, (_, i) => c.command(['SET', `k${i}`, String(i)]));
    await expect(c.command(['SET', 'k5', '5'])).rejects.toThrow(RedisUnavailableError);
    expect(c.queued).toBe(5);
    await server.run(true);
    expect(await Promise.all(waiting)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
  });

  it('rediss://: TLS to a redis-server with tls-port, the certificate checked against the CA given; an untrusted one refused', async () => {
    const server = await RedisServer.start({ tls: true });
    servers.push(server);
    const c = client(server.url, { tls: { ca: DEV_CA } });
    await c.connect();
    expect(await c.command(['PING'])).toBe('PONG');
    expect(text(await c.command(['CLIENT', 'INFO']))).toMatch(/name=wssd-test/);
    const untrusting = client(server.url, { connectTimeout: 1000 });
    const downs: Error[] = [];
    untrusting.on('down', (e) => downs.push(e));
    void untrusting.connect().catch(() => {});
    await eventually(() => downs.length >= 1, 3000, 'refused without the CA');
    expect(untrusting.state).not.toBe('ready');
  });

  it('a server that answers garbage: the reply is refused with a clear error (the command rejects), no hang', async () => {
    const fake = net.createServer((socket) => socket.on('data', () => socket.write('?what is this\r\n')));
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const port = (fake.address() as net.AddressInfo).port;
    const c = client(`redis://127.0.0.1:${port}`, { connectTimeout: 500 });
    const downs: Error[] = [];
    c.on('down', (e) => downs.push(e));
    void c.connect().catch(() => {});
    await eventually(() => downs.length >= 1, 3000, 'the garbage noticed');
    expect(c.state).not.toBe('ready');
    await c.close();
    fake.close();
  });
});
