// The client's real address behind a trusted proxy: X-Forwarded-For read
// from the right, X-Real-IP as a fallback, never believed from a peer that
// is not a trusted proxy, and used by the per-address connection limit.
import { afterEach, describe, expect, it } from 'vitest';
import { upgradeRequest } from '../helpers/raw-client.js';
import { PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

describe('trust-proxy over real sockets (ws://, as behind nginx)', () => {
  const forwarded = { 'X-Forwarded-For': '6.6.6.6, 198.51.100.7', 'X-Real-IP': '203.0.113.9' };

  it("trustProxy ['127.0.0.1']: remoteAddress is the right-most untrusted X-Forwarded-For entry, peerAddress the proxy", async () => {
    ts = await startServer(PLAIN_MODE, { trustProxy: ['127.0.0.1'] });
    const client = await ts.open({ headers: forwarded });
    const side = await ts.serverSide(client);
    expect(side.request.remoteAddress).toBe('198.51.100.7');
    expect(side.request.peerAddress).toBe('127.0.0.1');
    expect(side.connection.remoteAddress).toBe('198.51.100.7');
    client.sendText('via proxy');
    expect((await client.readFrame()).payload.toString('utf8')).toBe('via proxy');
  });

  it('a trusted proxy that sends only X-Real-IP: that address', async () => {
    ts = await startServer(PLAIN_MODE, { trustProxy: ['127.0.0.0/8'] });
    const client = await ts.open({ headers: { 'X-Real-IP': '203.0.113.9' } });
    expect((await ts.serverSide(client)).request.remoteAddress).toBe('203.0.113.9');
  });

  it('without trustProxy (or with a list that does not hold the peer) the headers are ignored', async () => {
    for (const trustProxy of [undefined, ['10.0.0.0/8', '::1']]) {
      const server = await startServer(PLAIN_MODE, trustProxy === undefined ? {} : { trustProxy });
      try {
        const client = await server.open({ headers: forwarded });
        const side = await server.serverSide(client);
        expect(side.request.remoteAddress).toBe('127.0.0.1');
        expect(side.request.peerAddress).toBe('127.0.0.1');
      } finally {
        await server.close();
      }
    }
  });

  it('the per-address limit counts the forwarded client, not the proxy (maxConnectionsPerIp 1)', async () => {
    ts = await startServer(PLAIN_MODE, { trustProxy: ['127.0.0.1'], maxConnectionsPerIp: 1 });
    const refusedFrom: string[] = [];
    ts.server.on('refused', (_status, _reason, address) => refusedFrom.push(address));
    await ts.open({ headers: { 'X-Forwarded-For': '198.51.100.1' } });
    await ts.open({ headers: { 'X-Forwarded-For': '198.51.100.2' } });
    const third = await ts.connect();
    third.write(upgradeRequest({ headers: { 'X-Forwarded-For': '198.51.100.1' } }));
    expect((await third.readResponse()).status).toBe(429);
    expect(refusedFrom).toEqual(['198.51.100.1']);
  });
});
