// The server API under calls a backend should not make: each gets a precise
// 4xx and the server carries on. A `data` nested past what JSON.stringify can
// write back, client ids that are not client ids, topic names no publish could
// use asked about, a body that is not UTF-8, a client that goes away mid-body,
// a request that never finishes its head (408 at the 10 s deadline, not at
// Node's 30 s check), a head that is not HTTP; and a history question while
// Redis is away answers 503 at its deadline instead of waiting for Redis.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisServer } from '../helpers/redis-server.js';
import { PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

const KEY = 'a-key-of-the-tests-16+-characters';
const servers: TestServer[] = [];
let redis: RedisServer | undefined;
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await redis?.stop();
  redis = undefined;
});

async function apiServer(options: Record<string, unknown> = {}): Promise<{ ts: TestServer; port: number }> {
  const ts = await startServer(PLAIN_MODE, { apiPort: 0, apiKey: [KEY], ...options });
  servers.push(ts);
  return { ts, port: ts.server.apiAddress?.port ?? 0 };
}

async function call(port: number, method: string, path: string, body?: string | Buffer): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${KEY}` }, body });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown> };
}

/** Raw bytes to the API port; resolves with what came back once the server closed (or after ms). */
function raw(port: number, bytes: string, ms: number, end = false): Promise<{ text: string; afterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => (end ? socket.end(bytes) : socket.write(bytes)));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, afterMs: Date.now() - started });
    }, ms);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, afterMs: Date.now() - started });
    });
    socket.on('error', reject);
  });
}

describe('the server API refuses what it cannot do, precisely', () => {
  it('data nested too deeply to write back: 400 for publish, send and a batch command, and the server carries on', async () => {
    const { port } = await apiServer();
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    for (const [path, body] of [
      ['/api/publish', `{"topic":"t","data":${deep}}`],
      ['/api/send', `{"user":"42","data":${deep}}`],
      ['/api/broadcast', `{"topics":["a","b"],"data":${deep}}`],
    ]) {
      const answer = await call(port, 'POST', path, body);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error).toEqual({ code: 'API_ERR_BAD_PARAMS', message: 'data nests too deeply to be written as JSON text' });
    }
    const batch = await call(port, 'POST', '/api/batch', `{"commands":[{"method":"publish","params":{"topic":"t","data":${deep}}},{"method":"info"}]}`);
    expect(batch.status).toBe(200);
    expect((batch.body.results as unknown[])[0]).toEqual({ error: { code: 'API_ERR_BAD_PARAMS', message: 'data nests too deeply to be written as JSON text' } });
    expect((await call(port, 'POST', '/api/publish', '{"topic":"t","data":{"a":[1,2]}}')).status).toBe(200);
  });

  it('a client id that is not 20 lowercase hex digits: 400, for send, subscribe, disconnect and presence pages', async () => {
    const { port } = await apiServer();
    for (const client of ['xyz', 'ABCDEF0123456789ABCD', '0123456789abcdef01234', '']) {
      for (const path of ['/api/send', '/api/subscribe', '/api/disconnect']) {
        const answer = await call(port, 'POST', path, JSON.stringify({ client, topic: 't', data: 'x' }));
        expect(answer.status, `${path} ${client}`).toBe(400);
        expect(answer.body.error?.code).toBe('API_ERR_BAD_PARAMS');
      }
    }
    const page = await call(port, 'GET', '/api/topics/t/presence?after=junk');
    expect(page.status).toBe(400);
    expect(page.body.error?.message).toBe('after must be a client id: 20 lowercase hex digits');
    expect((await call(port, 'POST', '/api/send', JSON.stringify({ client: '0123456789abcdef0123', data: 'x' }))).status).toBe(200);
  });

  it('a question about a topic name no publish could use: 400, as publish says', async () => {
    const { port } = await apiServer();
    for (const topic of ['%00x', 'x'.repeat(257)]) {
      for (const path of [`/api/topics/${topic}`, `/api/topics/${topic}/presence`, `/api/topics/${topic}/history`]) {
        const answer = await call(port, 'GET', path);
        expect(answer.status, path.slice(0, 40)).toBe(400);
        expect(answer.body.error?.code).toBe('API_ERR_BAD_PARAMS');
      }
    }
    expect((await call(port, 'GET', '/api/topics/room')).body).toEqual({ subscribers: 0 });
  });

  it('a body that is not UTF-8: 400, not a topic renamed with U+FFFD', async () => {
    const { port } = await apiServer();
    const body = Buffer.concat([Buffer.from('{"topic":"a'), Buffer.from([0xff]), Buffer.from('","data":"x"}')]);
    const answer = await call(port, 'POST', '/api/publish', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toEqual({ code: 'API_ERR_MALFORMED_JSON', message: 'the request body is not valid UTF-8' });
  });

  it('a client gone mid-body is not logged as a server error; a head that is not HTTP gets 400; one that never ends gets 408 at 10 s', async () => {
    const { ts, port } = await apiServer();
    const head = `POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: 100\r\n\r\n{"topic":`;
    await raw(port, head, 300, true);
    const bad = await raw(port, 'NOT HTTP AT ALL\r\n\r\n', 5000);
    expect(bad.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*"API_ERR_BAD_REQUEST"/);
    const slow = await raw(port, 'GET /api/info HTTP/1.1\r\nHost: x\r\n', 20_000);
    expect(slow.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*"API_ERR_REQUEST_TIMEOUT"/);
    expect(slow.afterMs).toBeGreaterThanOrEqual(9_500);
    expect(slow.afterMs).toBeLessThan(13_000);
    expect(ts.logs.lines('error')).toEqual([]);
    expect((await call(port, 'GET', '/api/info')).status).toBe(200);
  }, 30_000);

  it('history while Redis is away: 503 at the 5 s deadline, not a request held until Redis returns', async () => {
    redis = await RedisServer.start();
    const { ts, port } = await apiServer({ redis: redis.url, historySize: 10 });
    const { eventually } = await import('../helpers/poll.js');
    await eventually(() => ts.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected');
    expect((await call(port, 'POST', '/api/publish', '{"topic":"t","data":"kept"}')).body).toMatchObject({ ok: true, offset: 1 });
    await redis.stop();
    redis = undefined;
    const started = Date.now();
    const answer = await call(port, 'GET', '/api/topics/t/history');
    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe('API_ERR_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 20_000);
});
