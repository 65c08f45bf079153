// The handshake deadline (handshakeTimeout) against slow and silent clients
// over real TLS: slowloris (a head dribbled one byte at a time), a TLS
// handshake started late, crowds of silent sockets, and a head completed
// just after the 408. The deadline runs from TCP accept. After each, a
// connection opened beforehand still echoes.
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { DEV_CA, type RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { expectServing, sleep, startServer, TLS_MODE, type StartOptions, type TestServer, expectTextEcho } from '../helpers/test-server.js';
import { describeMs, scaled } from '../helpers/timeouts.js';

let ts: TestServer | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await ts?.close();
  ts = undefined;
});

const expectEchoes = expectTextEcho;

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

describe('slow and silent clients against handshakeTimeout', () => {
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
