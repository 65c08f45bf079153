// The gateway's own guards: the server API never runs without a key (of at
// least 16 characters) and never answers on the public WebSocket port, only
// on its own listener, on loopback unless told otherwise; a client that
// sends faster than the message proxy answers is held back by TCP — its
// messages waiting for the backend stay under --message-max-queue, reading
// from it pauses, and nothing is dropped; a backend that does not answer
// holds at most --proxy-concurrency handshakes, as many wait, the rest are
// refused at once; and what the backend answers is read under a cap.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createServer } from '../../src/index.js';
import { eventually } from '../helpers/poll.js';
import { upgradeRequest } from '../helpers/raw-client.js';
import { PLAIN_MODE, startServer, TLS_MODE, type TestServer } from '../helpers/test-server.js';

const KEY = 'a-key-of-the-tests-16+-characters';
const servers: TestServer[] = [];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const c of closers.splice(0)) await c();
});

describe('the server API', () => {
  it('never runs without a key, nor with one shorter than 16 characters; events never go unsigned', () => {
    expect(() => createServer({ plain: true, apiPort: 0 })).toThrow(ConfigError);
    expect(() => createServer({ plain: true, apiPort: 0, apiKey: ['short key'] })).toThrow(/at least 16 characters/);
    expect(() => createServer({ plain: true, eventsUrl: 'http://127.0.0.1:9/events' })).toThrow(/events-secret|eventsSecret/);
  });

  it('answers on its own listener, on 127.0.0.1 by default, and never on the WebSocket port', async () => {
    const ts = await startServer(TLS_MODE, { apiPort: 0, apiKey: [KEY], stats: true });
    servers.push(ts);
    const api = ts.server.apiAddress;
    expect(api?.host).toBe('127.0.0.1');
    expect(api?.port).not.toBe(ts.port);
    const own = await fetch(`http://127.0.0.1:${api?.port}/api/info`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ totals: { nodes: 1 } });
    // The same request on the public port, with the right key, is a WebSocket endpoint's answer, not the API's.
    for (const path of ['/api/info', '/api/users/42']) {
      const client = await ts.connect();
      client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
      const response = await client.readResponse();
      expect(response.status, path).toBe(426);
      expect(response.body.toString('utf8')).not.toContain('nodes');
      client.destroy();
    }
  });
});

/** A backend that holds every request until `release()`, answering each with `answer(body)`. */
async function holdingBackend(answer: (body: string) => { status: number; type?: string; body?: string | Buffer } = () => ({ status: 204 })) {
  const held: { body: string; res: http.ServerResponse }[] = [];
  let hold = true;
  const reply = (h: { body: string; res: http.ServerResponse }): void => {
    const a = answer(h.body);
    h.res.writeHead(a.status, a.type === undefined ? {} : { 'content-type': a.type }).end(a.body);
  };
  const backend = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = { body: Buffer.concat(chunks).toString('utf8'), res };
      if (hold) held.push(h);
      else reply(h);
    });
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    backend.closeAllConnections();
    return new Promise((resolve) => backend.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${(backend.address() as { port: number }).port}/`,
    held,
    release(): void {
      hold = false;
      for (const h of held.splice(0)) reply(h);
    },
  };
}

describe('the connect proxy', () => {
  it('a backend that does not answer holds at most --proxy-concurrency handshakes, as many wait, the rest get 503 at once', async () => {
    const backend = await holdingBackend(() => ({ status: 200, type: 'application/json', body: '{"user":"u"}' }));
    const ts = await startServer(PLAIN_MODE, { connectUrl: backend.url, proxyConcurrency: 2, proxyTimeout: 60_000 });
    servers.push(ts);
    const waiting = [];
    for (let i = 0; i < 4; i++) {
      const client = await ts.connect();
      client.write(upgradeRequest());
      waiting.push(client);
    }
    await eventually(() => backend.held.length === 2, 2000, 'two requests at the backend');
    const refused = await ts.connect();
    refused.write(upgradeRequest());
    const answer = await refused.readResponse();
    expect(answer.status).toBe(503);
    expect(answer.body.toString('utf8')).toContain('too many connections waiting');
    expect(backend.held).toHaveLength(2);
    backend.release();
    for (const client of waiting) expect((await client.readResponse()).status).toBe(101);
  });
});

describe('the message proxy', () => {
  it('an answer over 1 MiB is not read past the cap, not sent, and counted; the connection stays', async () => {
    const backend = await holdingBackend((body) =>
      (JSON.parse(body) as { data: string }).data === 'big' ? { status: 200, type: 'text/plain', body: Buffer.alloc(2 * 1024 * 1024, 0x61) } : { status: 200, type: 'text/plain', body: 'small' },
    );
    backend.release();
    const ts = await startServer(PLAIN_MODE, { echo: false, messageUrl: backend.url, stats: true });
    servers.push(ts);
    const client = await ts.open();
    client.sendText('big');
    client.sendText('next');
    const frame = await client.readFrame(5000);
    expect(frame.payload.toString()).toBe('small');
    const stats = JSON.parse(ts.server.statsJson()) as { backendErrors: Record<string, number>; losses: Record<string, number> };
    expect(stats.backendErrors['message-proxy-too-large']).toBe(1);
    expect(stats.losses['message-proxy']).toBe(1);
  });

  it('a client sending faster than the backend answers: at most --message-max-queue wait, reading pauses, nothing is lost, order kept', async () => {
    // A backend that holds every request until released.
    const held: { body: string; res: http.ServerResponse }[] = [];
    let released = false;
    const backend = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (released) res.writeHead(204).end();
        else held.push({ body, res });
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => backend.close(resolve)));
    const port = (backend.address() as { port: number }).port;

    const ts = await startServer(PLAIN_MODE, { echo: false, messageUrl: `http://127.0.0.1:${port}/message`, messageMaxQueue: 4, proxyTimeout: 60_000 });
    servers.push(ts);
    const client = await ts.open();
    const side = await ts.serverSide(client);
    const sent = 60;
    for (let i = 0; i < sent; i++) {
      client.sendText(`m${i}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // One request at a time for a connection; the server stopped reading once 4 waited.
    await eventually(() => held.length === 1, 2000, 'the first message at the backend');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(held).toHaveLength(1);
    expect(side.messages.length).toBeGreaterThanOrEqual(4);
    expect(side.messages.length).toBeLessThan(10);

    // The backend answers: every message comes, once, in order.
    const seen: string[] = [];
    const answer = (): void => {
      for (const h of held.splice(0)) {
        seen.push((JSON.parse(h.body) as { data: string }).data);
        h.res.writeHead(204).end();
      }
    };
    answer();
    await eventually(
      () => {
        answer();
        return seen.length === sent;
      },
      10_000,
      () => `all ${sent} messages at the backend (got ${seen.length})`,
    );
    released = true;
    expect(seen).toEqual(Array.from({ length: sent }, (_, i) => `m${i}`));
    expect(side.messages).toHaveLength(sent);
  });
});
