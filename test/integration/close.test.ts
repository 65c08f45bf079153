// The closing handshake over real sockets (RFC 6455 §5.5.1, §7.1, §7.4):
// client-initiated closes are echoed, server-initiated ones wait for the
// client's answer and then close TCP, and a client that never answers is
// dropped after closeTimeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, Op } from '../helpers/raw-client.js';
import { MODES, startServer, withTimeout, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

/** For the tests that wait for closeTimeout itself. */
const CLOSE_TIMEOUT = 500;
/**
 * The shared server's closeTimeout: longer than any wait in these tests, so
 * a TCP close they see after the client's answer came from the closing
 * handshake, never from this timer running out.
 */
const LONG_CLOSE_TIMEOUT = scaled(60_000);

describe.each(MODES)('closing handshake over $name://', (mode) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer(mode, { closeTimeout: LONG_CLOSE_TIMEOUT });
  });
  afterAll(async () => {
    await ts.close();
  });

  it.each([1000, 1001, 1003, 1007, 1008, 1011, 1012, 3000, 4000, 4999])(
    '§5.5.1: a client Close %i is answered with the same code, then TCP closes',
    async (code) => {
      const client = await ts.open();
      const side = await ts.serverSide(client);
      client.sendClose(code, 'client reason');
      const close = await client.readClose();
      expect(close.code).toBe(code);
      await client.waitClosed(2000);
      // §7.1.5: the server's 'close' reports the code and reason the client sent.
      expect(await withTimeout(side.closed, 1000, 'server close event')).toEqual({ code, reason: 'client reason' });
      expect(side.errors).toEqual([]);
    },
  );

  it('§7.1.5: an empty client Close is answered with an empty Close; the server reports 1005', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.send({ opcode: Op.Close });
    const close = await client.readClose();
    expect(close.code).toBeUndefined();
    await client.waitClosed(2000);
    expect((await withTimeout(side.closed, 1000, 'server close event')).code).toBe(1005);
  });

  it('a Close with a 123-byte UTF-8 reason is accepted', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    const reason = 'é'.repeat(61) + 'x'; // 123 bytes
    client.sendClose(3001, reason);
    expect((await client.readClose()).code).toBe(3001);
    expect((await withTimeout(side.closed, 2000, 'server close event')).reason).toBe(reason);
  });

  it('a message queued before the Close is delivered, then the Close is answered', async () => {
    const client = await ts.open();
    client.write(Buffer.concat([encodeFrame({ opcode: Op.Text, payload: 'last words' }), encodeFrame({ opcode: Op.Close, payload: closePayload(1000) })]));
    const close = await client.readClose();
    expect(close.before.map((f) => f.payload.toString())).toEqual(['last words']);
    expect(close.code).toBe(1000);
    await client.waitClosed(2000);
  });

  it("conn.close(4000, 'bye'): the client gets Close 4000 'bye'; after its answer TCP ends and 'close' reports the client's code", async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    side.connection.close(4000, 'bye');
    const close = await client.readClose();
    expect(close).toMatchObject({ code: 4000, reason: 'bye' });
    // The server accepts no new messages while closing.
    expect(side.connection.send('too late')).toBe(false);
    client.sendClose(4000);
    await client.waitClosed();
    expect(await withTimeout(side.closed, 1000, 'server close event')).toEqual({ code: 4000, reason: '' });
  });

  it('server-initiated close: the client may answer with its own code, which is what the server reports', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    side.connection.close(1001, 'going away');
    expect((await client.readClose()).code).toBe(1001);
    client.sendClose(1000, 'ok');
    await client.waitClosed();
    expect(await withTimeout(side.closed, 1000, 'server close event')).toEqual({ code: 1000, reason: 'ok' });
  });

  it('§7.1.2: data frames the client sent before seeing our Close are still delivered', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    side.connection.close(1000);
    client.sendText('crossing');
    expect((await client.readClose()).code).toBe(1000);
    client.sendClose(1000);
    await client.waitClosed();
    expect(side.messages.map((m) => m.data)).toEqual(['crossing']);
    expect((await withTimeout(side.closed, 1000, 'server close event')).code).toBe(1000);
  });

  it('a client that never answers the Close is dropped after closeTimeout', async () => {
    const own = await startServer(mode, { closeTimeout: CLOSE_TIMEOUT });
    try {
      const client = await own.open();
      const side = await own.serverSide(client);
      const started = performance.now();
      side.connection.close(4001, 'answer me');
      expect((await client.readClose()).code).toBe(4001);
      await client.waitClosed(CLOSE_TIMEOUT + 1000);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(CLOSE_TIMEOUT - 50);
      expect(elapsed).toBeLessThan(CLOSE_TIMEOUT + scaled(1000));
      expect((await withTimeout(side.closed, 1000, 'server close event')).code).toBe(1006);
    } finally {
      await own.close();
    }
  });

  it('terminate() drops TCP at once, without a Close frame', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    side.connection.terminate();
    const frames = await client.framesUntilClosed(1000);
    expect(frames).toEqual([]);
    expect((await withTimeout(side.closed, 1000, 'server close event')).code).toBe(1006);
  });

  it('a client that drops TCP without a Close: the server reports 1006', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.destroy();
    expect((await withTimeout(side.closed, 2000, 'server close event')).code).toBe(1006);
  });

  it('conn.close() refuses codes an endpoint may not send (§7.4.2)', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    for (const code of [1004, 1006, 1015, 999, 2999, 5000]) expect(() => side.connection.close(code)).toThrow();
    expect(() => side.connection.close(1000, 'r'.repeat(124))).toThrow();
    // Nothing was sent: the connection still echoes.
    client.sendText('still open');
    expect((await client.readFrame()).payload.toString()).toBe('still open');
    client.destroy();
  });

  it('ping() and pong() from the server reach the client; the client pong is reported', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    const pongs: Buffer[] = [];
    side.connection.on('pong', (p) => pongs.push(p));
    const firstPong = new Promise<void>((resolve) => side.connection.once('pong', () => resolve()));
    side.connection.ping('are you there');
    const ping = await client.readFrame();
    expect(ping.opcode).toBe(Op.Ping);
    expect(ping.payload.toString()).toBe('are you there');
    client.send({ opcode: Op.Pong, payload: ping.payload });
    side.connection.pong('beat');
    const pong = await client.readFrame();
    expect(pong.opcode).toBe(Op.Pong);
    expect(pong.payload.toString()).toBe('beat');
    await withTimeout(firstPong, 1000, "the server's 'pong' event");
    expect(pongs.map((p) => p.toString())).toEqual(['are you there']);
    client.destroy();
  });

  it('server.close() sends 1001 to every open connection and stops listening', async () => {
    const own = await startServer(mode, { closeTimeout: CLOSE_TIMEOUT });
    const a = await own.open();
    const b = await own.open();
    const closing = own.server.close();
    for (const c of [a, b]) {
      expect((await c.readClose()).code).toBe(1001);
      c.sendClose(1001);
    }
    await withTimeout(closing, 2000, 'server.close()');
    await a.waitClosed(1000);
    await b.waitClosed(1000);
    await expect(own.connect({ timeoutMs: 1000 })).rejects.toThrow();
  });
});
