// Liveness in production: heartbeat pings (§5.5.2) find peers that are gone
// without a FIN (a pulled cable, a NAT that forgot the mapping) and free
// their sockets; anything the peer sends counts as a sign of life. The idle
// timeout closes connections that send nothing with a Close 1001.
import { afterEach, describe, expect, it } from 'vitest';
import { Op, type Frame, type RawClient } from '../helpers/raw-client.js';
import { expectServing, startServer, TLS_MODE, type TestServer } from '../helpers/test-server.js';

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

/** Reads frames for `ms`, answering every Ping with a Pong of the same payload; returns what came. */
async function answerPingsFor(client: RawClient, ms: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  const deadline = performance.now() + ms;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return frames;
    let frame: Frame;
    try {
      frame = await client.readFrame(left);
    } catch (error) {
      if (client.closed) throw new Error(`connection closed while answering pings: ${String(error)}`);
      return frames;
    }
    frames.push(frame);
    if (frame.opcode === Op.Ping) client.send({ opcode: Op.Pong, payload: frame.payload });
  }
}

describe('heartbeat: pingInterval 300 ms, pingTimeout 200 ms (wss://)', () => {
  it('a client that answers the pings stays connected over 1.5 s and receives several pings', async () => {
    ts = await startServer(TLS_MODE, { pingInterval: 300, pingTimeout: 200 });
    const client = await ts.open();
    const side = await ts.serverSide(client);
    let pongs = 0;
    side.connection.on('pong', () => pongs++);
    const frames = await answerPingsFor(client, 1500);
    const pings = frames.filter((f) => f.opcode === Op.Ping);
    expect(pings.length).toBeGreaterThanOrEqual(3);
    expect(frames.every((f) => f.opcode === Op.Ping && f.fin && f.payload.length <= 125 && !f.masked)).toBe(true);
    expect(pongs).toBeGreaterThanOrEqual(3);
    expect(client.closed).toBe(false);
    expect(side.connection.readyState).toBe(1);
    client.sendText('alive');
    const echo = (await answerPingsFor(client, 200)).find((f) => f.opcode === Op.Text);
    expect(echo?.payload.toString('utf8')).toBe('alive');
  });

  it('a client that sends nothing (no pong, no data) is terminated within ~1 s; other connections stay', async () => {
    ts = await startServer(TLS_MODE, { pingInterval: 300, pingTimeout: 200 });
    const healthy = await ts.open();
    const started = performance.now();
    const silent = await ts.open();
    const side = await ts.serverSide(silent);
    // The healthy client answers pings meanwhile.
    const healthyFrames = answerPingsFor(healthy, 1300);
    await silent.waitClosed(1000);
    const took = performance.now() - started;
    // Not before the first ping and its timeout (300 + 200 ms).
    expect(took).toBeGreaterThanOrEqual(450);
    const closed = await side.closed;
    expect(closed.code).toBe(1006);
    expect(side.errors.some((e) => /no pong/.test(e.message))).toBe(true);
    // The silent client did get a ping first (and no Close: it was terminated, not closed).
    const frames = await silent.framesUntilClosed(100);
    expect(frames.map((f) => f.opcode)).toEqual([Op.Ping]);
    expect((await healthyFrames).length).toBeGreaterThanOrEqual(3);
    expect(healthy.closed).toBe(false);
    await expectServing(ts);
  });

  it('a client that never reads but keeps sending data is not terminated: incoming data counts as life', async () => {
    ts = await startServer(TLS_MODE, { pingInterval: 300, pingTimeout: 200, echo: false });
    const client = await ts.open();
    client.socket.pause();
    const side = await ts.serverSide(client);
    const timer = setInterval(() => client.sendBinary(Buffer.from([1])), 100);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1200));
    } finally {
      clearInterval(timer);
    }
    expect(side.connection.readyState).toBe(1);
    expect(side.messages.length).toBeGreaterThanOrEqual(8);
    expect(client.closed).toBe(false);
  });
});

describe('idleTimeout 300 ms (wss://, no heartbeat)', () => {
  it('a silent connection is closed with Close 1001 after ~300 ms; one that keeps talking stays open', async () => {
    ts = await startServer(TLS_MODE, { idleTimeout: 300, closeTimeout: 500 });
    const talker = await ts.open();
    const started = performance.now();
    const silent = await ts.open();
    const timer = setInterval(() => talker.sendText('tick'), 100);
    try {
      const close = await silent.readClose(1500);
      const took = performance.now() - started;
      expect(close.code).toBe(1001);
      expect(close.before).toEqual([]);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(1000);
      silent.sendClose(1001);
      await silent.waitClosed(1000);
      // The talker outlived the silent one by a good margin.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(talker.closed).toBe(false);
    } finally {
      clearInterval(timer);
    }
    const side = await ts.serverSide(talker);
    expect(side.connection.readyState).toBe(1);
    expect(side.messages.length).toBeGreaterThanOrEqual(6);
  });
});
