// Connection-level attacks over real TLS: slowloris (a head dribbled one
// byte at a time), crowds of silent sockets, and the connection limits
// (maxConnections → 503, maxConnectionsPerIp → 429, both with Retry-After).
// After each, a connection opened beforehand still echoes.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { DEV_CA, Op, RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { expectServing, sleep, startServer, TLS_MODE, type StartOptions, type TestServer } from '../helpers/test-server.js';
import { describeMs, scaled } from '../helpers/timeouts.js';

let ts: TestServer | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await ts?.close();
  ts = undefined;
});

async function expectEchoes(client: RawClient, text = 'still here'): Promise<void> {
  client.sendText(text);
  const frame = await client.readFrame(2000);
  expect(frame.opcode).toBe(Op.Text);
  expect(frame.payload.toString('utf8')).toBe(text);
}

/** A TLS server and one connection (from 127.0.0.1) that must keep working through the test. */
async function start(options: StartOptions): Promise<{ server: TestServer; bystander: RawClient }> {
  ts = await startServer(TLS_MODE, options);
  return { server: ts, bystander: await ts.open({}, { host: '127.0.0.1' }) };
}

/** Resolves with the ms from `since` until `socket` closes; rejects after `timeoutMs` (scaled). */
function closedAfter(socket: net.Socket, since: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      resolve(performance.now() - since);
      return;
    }
    const timer = setTimeout(() => reject(new Error(`socket still open after ${describeMs(timeoutMs)}`)), scaled(timeoutMs));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - since);
    });
  });
}

describe('slow and silent clients (handshakeTimeout 600 ms)', () => {
  it('a head completed just after the 408 is not upgraded', async () => {
    const { server, bystander } = await start({ handshakeTimeout: 300, closeTimeout: 2000 });
    const client = await server.connect();
    const head = Buffer.from(upgradeRequest());
    client.write(head.subarray(0, 20));
    const response = await client.readResponse(1500);
    expect(response.status).toBe(408);
    // The rest of the head right after the refusal: it must not turn into a 101.
    // The server ends the connection after its 408; an upgraded one would stay open.
    if (!client.closed) client.write(head.subarray(20));
    await client.waitClosed();
    expect(server.accepted).toHaveLength(1);
    await expectEchoes(bystander);
  });

  it('slowloris: one byte of the head every 200 ms → 408 (or dropped) by the deadline, ~0.6 s after TCP accept', async () => {
    const { server, bystander } = await start({ handshakeTimeout: 600 });
    const started = performance.now();
    const client = await server.connect();
    const head = Buffer.from(upgradeRequest());
    let sent = 0;
    const dribble = setInterval(() => {
      if (client.closed || sent >= head.length) return;
      client.write(head.subarray(sent, sent + 1));
      sent++;
    }, 200);
    try {
      const took = await closedAfter(client.socket, started, 2000);
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(600 + scaled(1000));
    } finally {
      clearInterval(dribble);
    }
    // Only a few bytes of the head ever arrived: one per 200 ms until the close.
    expect(sent).toBeLessThan((600 + scaled(1000)) / 200);
    if (client.pending > 0) expect((await client.readResponse(100)).status).toBe(408);
    expect(server.accepted).toHaveLength(1);
    await expectEchoes(bystander);
  });

  it('the deadline counts the TLS handshake: TLS started 400 ms after TCP connect, then silence → closed ~1000 ms after connect (handshakeTimeout 1000)', async () => {
    const handshakeTimeout = 1000;
    const { server, bystander } = await start({ handshakeTimeout });
    const started = performance.now();
    const tcp = net.connect({ host: '127.0.0.1', port: server.port });
    sockets.push(tcp);
    await new Promise<void>((resolve, reject) => {
      tcp.once('connect', resolve);
      tcp.once('error', reject);
    });
    // Part of the scenario, not a wait for an event: TCP open, no ClientHello yet.
    await sleep(400);
    const secure = tls.connect({ socket: tcp, servername: 'localhost', ca: DEV_CA });
    sockets.push(secure);
    secure.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const tlsDone = performance.now() - started;
    const answer: Buffer[] = [];
    secure.on('data', (chunk: Buffer) => answer.push(chunk));
    const took = await closedAfter(secure, started, 2500);
    expect(took).toBeGreaterThanOrEqual(handshakeTimeout - 50);
    // Had the deadline started at the end of the TLS handshake, the close
    // could not come before tlsDone + handshakeTimeout (≥ 1400 ms here).
    expect(took).toBeLessThan(tlsDone + handshakeTimeout - 50);
    expect(Buffer.concat(answer).toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
    await expectEchoes(bystander);
  });

  it('50 parallel silent TCP connections (no ClientHello) are all closed at handshakeTimeout; the server keeps serving', async () => {
    const { server, bystander } = await start({ handshakeTimeout: 600 });
    const started = performance.now();
    const crowd = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const socket = net.connect({ host: '127.0.0.1', port: server.port });
        sockets.push(socket);
        socket.on('error', () => {});
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        });
        return socket;
      }),
    );
    // While they wait, the server still completes handshakes.
    await expectServing(server);
    const times = await Promise.all(crowd.map((s) => closedAfter(s, started, 2000)));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...times)).toBeLessThan(600 + scaled(1000));
    await eventually(() => server.server.tlsClientErrors.get('handshake_timeout') === 50, 1000, '50 handshake timeouts counted');
    expect(server.logs.lines('error')).toEqual([]);
    await expectEchoes(bystander);
    await expectServing(server);
  });
});

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
