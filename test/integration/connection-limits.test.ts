// The connection limits over real TLS: maxConnections → 503 and
// maxConnectionsPerIp → 429 (IPv4 and IPv6 counted apart), both with
// Retry-After, and room again once a connection leaves. A connection opened
// beforehand keeps echoing.
import { afterEach, describe, expect, it } from 'vitest';
import { type RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { startServer, TLS_MODE, type StartOptions, type TestServer, expectTextEcho } from '../helpers/test-server.js';

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

const expectEchoes = expectTextEcho;

/** A TLS server and one connection (from 127.0.0.1) that must keep working through the test. */
async function start(options: StartOptions): Promise<{ server: TestServer; bystander: RawClient }> {
  ts = await startServer(TLS_MODE, options);
  return { server: ts, bystander: await ts.open({}, { host: '127.0.0.1' }) };
}

describe('connection limits', () => {
  it('maxConnections 3: the 4th handshake gets 503 with Retry-After; after one closes, a new one succeeds', async () => {
    const { server, bystander } = await start({ maxConnections: 3 });
    const second = await server.open();
    const third = await server.open();
    const fourth = await server.connect();
    fourth.write(upgradeRequest());
    const refused = await fourth.readResponse();
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    await fourth.waitClosed(2000);
    expect(server.server.connections.size).toBe(3);

    const thirdSide = await server.serverSide(third);
    third.sendClose(1000);
    expect((await third.readClose()).code).toBe(1000);
    await thirdSide.closed;
    const fifth = await server.open();
    await expectEchoes(fifth, 'fifth');
    await expectEchoes(second);
    await expectEchoes(bystander);
  });

  it("maxConnectionsPerIp 2: a third from 127.0.0.1 gets 429 with Retry-After while ::1 still succeeds", async () => {
    const { server, bystander } = await start({ host: '::', maxConnectionsPerIp: 2 });
    const v4 = { host: '127.0.0.1' };
    // The bystander is the first connection from 127.0.0.1.
    expect((await server.serverSide(bystander)).request.remoteAddress).toBe('127.0.0.1');
    const second = await server.open({}, v4);
    expect((await server.serverSide(second)).request.remoteAddress).toBe('127.0.0.1');
    const third = await server.connect(v4);
    third.write(upgradeRequest());
    const refused = await third.readResponse();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    await third.waitClosed(2000);

    const v6 = await server.open({}, { host: '::1' });
    expect((await server.serverSide(v6)).request.remoteAddress).toBe('::1');
    await expectEchoes(v6, 'over IPv6');

    // One IPv4 connection leaves; the next IPv4 one gets in.
    const secondSide = await server.serverSide(second);
    second.sendClose(1000);
    await second.readClose();
    await secondSide.closed;
    const again = await server.open({}, v4);
    await expectEchoes(again, 'room again');
    await expectEchoes(bystander);
  });
});
