// What the application decides during the handshake: the subprotocol
// (RFC 6455 §4.2.2 step 5.4 / §11.3.4, the server's order of preference) and
// whether to accept at all (verifyRequest, sync or async, with a status).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, Op, upgradeRequest } from '../helpers/raw-client.js';
import { expectServing, MODES, sleep, startServer, type TestServer } from '../helpers/test-server.js';

describe.each(MODES)('subprotocols over $name://', (mode) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer(mode, { subprotocols: ['chat.v2', 'chat.v1'] });
  });
  afterAll(async () => {
    await ts.close();
  });

  it.each([
    { offered: 'chat.v1, chat.v2', chosen: 'chat.v2' },
    { offered: 'chat.v2, chat.v1', chosen: 'chat.v2' },
    { offered: 'other, chat.v1', chosen: 'chat.v1' },
    { offered: 'chat.v1', chosen: 'chat.v1' },
  ])('offered "$offered" → $chosen (the server prefers its own order)', async ({ offered, chosen }) => {
    const client = await ts.connect();
    const r = await client.upgrade({ headers: { 'Sec-WebSocket-Protocol': offered } });
    expect(r.headers['sec-websocket-protocol']).toBe(chosen);
    const side = await ts.serverSide(client);
    expect(side.connection.protocol).toBe(chosen);
    expect(side.request.protocols).toEqual(offered.split(', '));
    client.destroy();
  });

  it('offers split over two header lines are one list (RFC 9110 §5.3)', async () => {
    const client = await ts.connect();
    client.write(upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'x' } }).replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: chat.v1\r\n\r\n'));
    const r = await client.readResponse();
    expect(r.status).toBe(101);
    expect(r.headers['sec-websocket-protocol']).toBe('chat.v1');
    client.destroy();
  });

  it('nothing in common: 101 without Sec-WebSocket-Protocol, protocol ""', async () => {
    const client = await ts.connect();
    const r = await client.upgrade({ headers: { 'Sec-WebSocket-Protocol': 'mqtt, stomp' } });
    expect(r.headers['sec-websocket-protocol']).toBeUndefined();
    expect((await ts.serverSide(client)).connection.protocol).toBe('');
    client.destroy();
  });

  it('no offer: no Sec-WebSocket-Protocol in the answer', async () => {
    const client = await ts.connect();
    const r = await client.upgrade();
    expect(r.headers['sec-websocket-protocol']).toBeUndefined();
    client.destroy();
  });
});

describe.each(MODES)('verifyRequest over $name://', (mode) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer(mode, {
      // Synchronous answers for Origin checks, promises for the rest: both paths are exercised.
      verifyRequest: (request) => {
        const origin = request.headers['origin'];
        if (origin === 'https://evil.example') return { status: 403, reason: 'origin not allowed' };
        if (origin === 'https://sync.example') return false;
        if (request.path === '/slow') {
          return sleep(100).then(() =>
            request.headers['authorization'] === 'Bearer ok'
              ? true
              : { status: 401, reason: 'token required', headers: { 'WWW-Authenticate': 'Bearer' } },
          );
        }
        if (request.path === '/throws') return Promise.reject(new Error('verifier bug with secret details'));
        if (request.path === '/throws-sync') throw new Error('sync verifier bug with secret details');
        return undefined;
      },
    });
  });
  afterAll(async () => {
    await ts.close();
  });

  it('a refusal with a custom status: 403 with its reason, connection closed, server still serving', async () => {
    const client = await ts.connect();
    client.write(upgradeRequest({ headers: { Origin: 'https://evil.example' } }));
    const r = await client.readResponse();
    expect(r.status).toBe(403);
    expect(r.body.toString()).toMatch(/^403 .*origin not allowed\n$/);
    await client.waitClosed(2000);
    await expectServing(ts);
  });

  it('false → 403', async () => {
    const client = await ts.connect();
    client.write(upgradeRequest({ headers: { Origin: 'https://sync.example' } }));
    expect((await client.readResponse()).status).toBe(403);
    await client.waitClosed(2000);
  });

  it('an async verifier that refuses after a delay: 401 with WWW-Authenticate', async () => {
    const client = await ts.connect();
    client.write(upgradeRequest({ path: '/slow' }));
    const r = await client.readResponse();
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer');
    expect(r.body.toString()).toContain('token required');
    await client.waitClosed(2000);
  });

  it('an async verifier that accepts: frames sent with the head, and during the wait, are not lost', async () => {
    const client = await ts.connect();
    client.write(Buffer.concat([Buffer.from(upgradeRequest({ path: '/slow', headers: { Authorization: 'Bearer ok' } })), encodeFrame({ opcode: Op.Text, payload: 'with the head' })]));
    // Pacing: the verifier takes 100 ms, so this frame arrives while it runs.
    await sleep(30);
    client.sendText('during the wait');
    const r = await client.readResponse();
    expect(r.status).toBe(101);
    expect((await client.readFrame()).payload.toString()).toBe('with the head');
    expect((await client.readFrame()).payload.toString()).toBe('during the wait');
    client.destroy();
  });

  it.each(['/throws', '/throws-sync'])('a verifier that fails (%s): 500 without internal details, error logged, still serving', async (path) => {
    const client = await ts.connect();
    client.write(upgradeRequest({ path }));
    const r = await client.readResponse();
    expect(r.status).toBe(500);
    expect(r.body.toString()).not.toContain('secret');
    expect(ts.logs.lines('error').some((l) => l.includes('verifier bug'))).toBe(true);
    await client.waitClosed(2000);
    await expectServing(ts);
  });

  it("'refused' reports the status and the peer", async () => {
    const seen: Array<[number, string]> = [];
    const onRefused = (status: number, _reason: string, address: string): void => {
      seen.push([status, address]);
    };
    ts.server.on('refused', onRefused);
    try {
      const client = await ts.connect();
      client.write(upgradeRequest({ headers: { Origin: 'https://evil.example' } }));
      await client.readResponse();
      expect(seen).toEqual([[403, '127.0.0.1']]);
      client.destroy();
    } finally {
      ts.server.off('refused', onRefused);
    }
  });
});
