// No secret wssd is given ever leaves it by the ways an operator or a peer
// can read: the executable runs with every one of them set — the token
// secret, the API key, the events secret, a Redis password and TLS ticket
// keys, all from WSSD_* variables — and through its start, a client with a
// token, the server API (answers and refusals), /stats, /metrics and the
// other side routes, a ticket-key rotation and a refused reload on SIGHUP,
// and its shutdown, none of them appears in what it logs, serves or sends
// to the backend, in any usual spelling (as given, hex, base64,
// base64url, percent-encoded).
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { DEV_CA, RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A secret as a string of `bytes` random bytes in hex: long and unique, so any match is a leak. */
function secretText(prefix: string, bytes = 20): string {
  return `${prefix}-${randomBytes(bytes).toString('hex')}`;
}

/** Every spelling of a secret worth looking for. */
function spellings(secret: string | Buffer): string[] {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const forms = [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')];
  if (typeof secret === 'string') forms.push(secret, encodeURIComponent(secret));
  return forms;
}

/** An HS256 token, as a backend mints one. */
function token(secret: string, claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

interface Answer {
  status: number;
  headers: string;
  body: string;
}

/** A GET over TLS to the WebSocket port (the side routes), trusting the dev CA. */
function getTls(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ca: DEV_CA, servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: JSON.stringify(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
  });
}

/** A call to the server API. */
async function api(port: number, key: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: JSON.stringify([...res.headers]), body: await res.text() };
}

describe('secrets', () => {
  it('none appears in the log (start, reload, shutdown), /stats, /metrics, the side routes, the API\'s answers or the backend events', async () => {
    const jwtSecret = secretText('jwt');
    const apiKey = secretText('api');
    const eventsSecret = secretText('events');
    const redisPassword = secretText('redis');
    const ticketKey = randomBytes(48);
    const nextTicketKey = randomBytes(48);

    const redis = await RedisServer.start({ args: ['--requirepass', redisPassword] });
    cleanups.push(() => redis.stop());

    // The backend's events endpoint: what wssd sends it is kept, to be searched too.
    const sent: string[] = [];
    const backend = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        sent.push(JSON.stringify(req.headers) + Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => backend.close(resolve)));
    const eventsPort = (backend.address() as { port: number }).port;

    const dir = mkdtempSync(join(tmpdir(), 'wssd-secrets-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'ticket.keys');
    writeFileSync(keyFile, ticketKey, { mode: 0o600 });

    const port = await freePort();
    const apiPort = await freePort();
    const p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', '--stats', '--api-port', String(apiPort), '--history-size', '10', '--presence-prefix', '*'], {
      WSSD_JWT_SECRET: jwtSecret,
      WSSD_API_KEY: apiKey,
      WSSD_EVENTS_URL: `http://127.0.0.1:${eventsPort}/events`,
      WSSD_EVENTS_SECRET: eventsSecret,
      WSSD_REDIS: `redis://:${encodeURIComponent(redisPassword)}@127.0.0.1:${redis.port}/0`,
      WSSD_TICKET_KEYS: keyFile,
    });
    cleanups.push(() => p.kill());
    await p.waitForLine(/listening/, 10_000);
    await p.waitForLine(/connected to Redis/, 10_000);

    // A client with a token, subscribed by it; a client with a token signed by another secret.
    const client = await RawClient.connect({ port, tls: true });
    cleanups.push(() => client.destroy());
    const exp = Math.floor(Date.now() / 1000) + 600;
    await client.upgrade({ path: `/wss?token=${token(jwtSecret, { sub: 'u1', exp, topics: ['room'], info: { name: 'U1' } })}` });
    const forged = await RawClient.connect({ port, tls: true });
    cleanups.push(() => forged.destroy());
    forged.write(`GET /?token=${token(secretText('guess'), { sub: 'u2', exp })} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const refusal = await forged.readResponse();
    expect(refusal.status).toBe(401);

    // What anyone reading the API, the side routes and the log gets to see.
    const seen: string[] = [refusal.head, refusal.body.toString('utf8')];
    const answers = [
      await api(apiPort, apiKey, 'GET', '/api/info'),
      await api(apiPort, apiKey, 'GET', '/api/users/u1'),
      await api(apiPort, apiKey, 'GET', '/api/topics/room'),
      await api(apiPort, apiKey, 'GET', '/api/topics/room/presence'),
      await api(apiPort, apiKey, 'POST', '/api/publish', { topic: 'room', data: 'hello' }),
      await api(apiPort, apiKey, 'GET', '/api/topics/room/history'),
      await api(apiPort, apiKey, 'POST', '/api/batch', { commands: [{ method: 'info', params: {} }, { method: 'nope', params: {} }] }),
      await api(apiPort, apiKey, 'POST', '/api/publish', '{"topic":'),
      // A wrong key, and one that is the right one but for a character: neither is echoed.
      await api(apiPort, secretText('wrong'), 'GET', '/api/info'),
      await api(apiPort, apiKey.slice(0, -1), 'GET', '/api/info'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 400, 401, 401]);
    for (const a of answers) seen.push(a.headers, a.body);
    for (const path of ['/stats', '/metrics', '/healthz', '/', '/wssd-client.js', '/wssd-protocol.js']) {
      const a = await getTls(port, path);
      expect(a.status, path).toBe(200);
      seen.push(a.headers, a.body);
    }

    // A rotation (the new key first), then a file that is refused: each logged, by SIGHUP.
    writeFileSync(keyFile, Buffer.concat([nextTicketKey, ticketKey]));
    p.child.kill('SIGHUP');
    await p.waitForLine(/ticket keys reloaded/, 5000);
    writeFileSync(keyFile, Buffer.concat([ticketKey, nextTicketKey]).subarray(0, 47));
    p.child.kill('SIGHUP');
    await p.waitForLine(/ticket key reload refused/, 5000);

    // The backend heard of the connection before the shutdown; the shutdown itself is logged.
    await eventually(() => sent.some((s) => s.includes('"connect"')), 5000, 'the connect event at the backend');
    p.child.kill('SIGTERM');
    expect((await p.exited(10_000)).code).toBe(0);
    expect(p.stderr.some((l) => /SIGTERM/.test(l))).toBe(true);

    const everything = [...seen, ...p.stderr, ...p.stdout, ...sent].join('\n');
    const secrets: [string, string | Buffer][] = [
      ['the token secret', jwtSecret],
      ['the API key', apiKey],
      ['the events secret', eventsSecret],
      ['the Redis password', redisPassword],
      ['a ticket key', ticketKey],
      ['the next ticket key', nextTicketKey],
      // A ticket key's AES and HMAC halves, and its whole name (the log may show its first 4 bytes).
      ...[ticketKey, nextTicketKey].flatMap((key): [string, Buffer][] => [
        ['a ticket key name', key.subarray(0, 16)],
        ['a ticket key AES key', key.subarray(16, 32)],
        ['a ticket key HMAC key', key.subarray(32, 48)],
      ]),
    ];
    const leaks = secrets.flatMap(([what, secret]) => spellings(secret).filter((form) => everything.includes(form)).map((form) => `${what} (${form.slice(0, 12)}…)`));
    expect(leaks, 'secrets found in what wssd logged, served or sent').toEqual([]);
    // The log did say what happened: the search above looked at real lines.
    expect(p.stderr.join('\n')).toMatch(/connected to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/);
  }, 60_000);
});
