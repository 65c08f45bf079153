// What send() and trySend() report over a real TLS socket: Success while the
// peer keeps up, Backpressure (queued; 'drain' follows) past highWaterMark,
// Dropped when nothing was sent — after a Close, or past maxBuffered under
// either policy. The server's reasons for ending connections are counted in
// /stats by their catalogue code.
import { afterEach, describe, expect, it } from 'vitest';
import { SendStatus, type Connection } from '../../src/index.js';
import { eventually } from '../helpers/poll.js';
import { startServer, TLS_MODE, PLAIN_MODE, type TestServer } from '../helpers/test-server.js';

const KiB = 1024;
let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

/** Sends 64 KiB messages until `until` is reported (at most 2,000), returning every status seen in order. */
function sendUntil(ws: Connection, until: SendStatus): SendStatus[] {
  const seen: SendStatus[] = [];
  const payload = Buffer.alloc(64 * KiB, 7);
  for (let i = 0; i < 2000; i++) {
    const status = ws.trySend(payload);
    seen.push(status);
    if (status === until) break;
  }
  return seen;
}

interface StatsBody {
  exits: Record<string, number>;
  handshakes: { refused: Record<string, number>; refusals: Record<string, number> };
}
const stats = (server: TestServer): StatsBody => JSON.parse(server.server.statsJson()) as StatsBody;

describe('SendStatus over TLS', () => {
  it('Success, then Backpressure past highWaterMark while the peer does not read; send() is false then; drain follows once it reads', async () => {
    ts = await startServer(TLS_MODE, { echo: false, highWaterMark: 64 * KiB, maxBuffered: 64 * 1024 * KiB });
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.socket.pause();
    expect(side.connection.trySend('small')).toBe(SendStatus.Success);
    const seen = sendUntil(side.connection, SendStatus.Backpressure);
    expect(seen.at(-1)).toBe(SendStatus.Backpressure);
    expect(seen.every((s, i) => s === (i === seen.length - 1 ? SendStatus.Backpressure : SendStatus.Success))).toBe(true);
    expect(side.connection.send(Buffer.alloc(10))).toBe(false);
    const drained = new Promise<void>((resolve) => side.connection.once('drain', resolve));
    client.socket.resume();
    await drained;
    expect(side.connection.bufferedAmount).toBeLessThan(64 * KiB);
    expect(side.connection.trySend('again')).toBe(SendStatus.Success);
  });

  it("past maxBuffered with bufferPolicy 'drop': Dropped, the connection stays open and counts it", async () => {
    ts = await startServer(TLS_MODE, { echo: false, highWaterMark: 16 * KiB, maxBuffered: 256 * KiB, bufferPolicy: 'drop' });
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.socket.pause();
    const seen = sendUntil(side.connection, SendStatus.Dropped);
    expect(seen.at(-1)).toBe(SendStatus.Dropped);
    expect(side.connection.droppedMessages).toBe(1);
    expect(side.connection.readyState).toBe(1);
    expect(stats(ts).exits).toEqual({});
  });

  it("past maxBuffered with bufferPolicy 'close': Dropped, then Close 1008, counted as WS_ERR_SEND_BUFFER_FULL", async () => {
    ts = await startServer(TLS_MODE, { echo: false, highWaterMark: 16 * KiB, maxBuffered: 256 * KiB, bufferPolicy: 'close', closeTimeout: 300 });
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.socket.pause();
    const seen = sendUntil(side.connection, SendStatus.Dropped);
    expect(seen.at(-1)).toBe(SendStatus.Dropped);
    expect(side.connection.readyState).toBe(2);
    expect(stats(ts).exits).toEqual({ WS_ERR_SEND_BUFFER_FULL: 1 });
    // Nothing more is accepted once the Close is on its way.
    expect(side.connection.trySend('late')).toBe(SendStatus.Dropped);
  });
});

describe('exits and refusals counted by cause in /stats', () => {
  it('a protocol violation, an idle timeout and a server Close each count under their own code; refusals under theirs', async () => {
    ts = await startServer(PLAIN_MODE, { idleTimeout: 200, closeTimeout: 300 });
    const violator = await ts.open();
    violator.write(Buffer.from([0x81, 0x01, 0x61])); // unmasked: §5.1
    expect((await violator.readClose()).code).toBe(1002);
    const idle = await ts.open();
    expect((await idle.readClose(3000)).code).toBe(1001);
    const refused = await ts.connect();
    refused.write('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expect((await refused.readResponse()).status).toBe(426);
    await eventually(() => stats(ts as TestServer).exits.WS_ERR_IDLE_TIMEOUT === 1, 3000, 'the idle exit counted');
    const body = stats(ts);
    expect(body.exits).toEqual({ WS_ERR_EXPECTED_MASK: 1, WS_ERR_IDLE_TIMEOUT: 1 });
    expect(body.handshakes.refused).toEqual({ '426': 1 });
    expect(body.handshakes.refusals).toEqual({ WS_HS_UNSUPPORTED_VERSION: 1 });
  });
});
