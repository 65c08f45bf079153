// Liveness in production: heartbeat pings (§5.5.2) find peers that are gone
// without a FIN (a pulled cable, a NAT that forgot the mapping) and free
// their sockets; anything the peer sends counts as a sign of life. The idle
// timeout closes connections that send nothing with a Close 1001.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { Op, type Frame, type RawClient } from '../helpers/raw-client.js';
import { expectServing, startServer, TLS_MODE, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

/** Answers every Ping with a Pong of the same payload until `until` holds for a frame; returns every frame read. */
function answerPingsUntil(client: RawClient, until: (frame: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame[]> {
  return client.readFramesUntil(
    (frame) => {
      if (frame.opcode === Op.Ping) client.send({ opcode: Op.Pong, payload: frame.payload });
      return until(frame);
    },
    timeoutMs,
    what,
  );
}

/** Answers the next `count` pings (a connection closed meanwhile fails the read). */
function answerPings(client: RawClient, count: number): Promise<Frame[]> {
  let pings = 0;
  return answerPingsUntil(client, (f) => f.opcode === Op.Ping && ++pings === count, count * PING_INTERVAL + 1000, `${count} pings`);
}

describe('heartbeat: pingInterval 300 ms, pingTimeout 200 ms (wss://)', () => {
  it('a client that answers the pings stays connected through 5 of them (1.5 s, three times the ping cycle)', async () => {
    ts = await startServer(TLS_MODE, { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT });
    const client = await ts.open();
    const side = await ts.serverSide(client);
    let pongs = 0;
    side.connection.on('pong', () => pongs++);
    const frames = await answerPings(client, 5);
    expect(frames).toHaveLength(5);
    expect(frames.every((f) => f.opcode === Op.Ping && f.fin && f.payload.length <= 125 && !f.masked)).toBe(true);
    await eventually(() => pongs === 5, 1000, () => `the server's 'pong' event for each of the 5 pongs (${pongs} so far)`);
    expect(client.closed).toBe(false);
    expect(side.connection.readyState).toBe(1);
    client.sendText('alive');
    const echo = (await answerPingsUntil(client, (f) => f.opcode === Op.Text, 1000, 'the echo')).pop();
    expect(echo?.payload.toString('utf8')).toBe('alive');
  });

  it('a client that sends nothing (no pong, no data) is terminated within ~1 s; other connections stay', async () => {
    ts = await startServer(TLS_MODE, { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT });
    const healthy = await ts.open();
    const started = performance.now();
    const silent = await ts.open();
    const side = await ts.serverSide(silent);
    // The healthy client answers three pings meanwhile, outliving the silent one.
    const healthyFrames = answerPings(healthy, 3);
    await silent.waitClosed(1000);
    const took = performance.now() - started;
    // Not before the first ping and its timeout (300 + 200 ms).
    expect(took).toBeGreaterThanOrEqual(PING_INTERVAL + PING_TIMEOUT - 50);
    const closed = await side.closed;
    expect(closed.code).toBe(1006);
    expect(side.errors.some((e) => /no pong/.test(e.message))).toBe(true);
    // The silent client did get a ping first (and no Close: it was terminated, not closed).
    const frames = await silent.framesUntilClosed(100);
    expect(frames.map((f) => f.opcode)).toEqual([Op.Ping]);
    expect((await healthyFrames).map((f) => f.opcode)).toEqual([Op.Ping, Op.Ping, Op.Ping]);
    expect(healthy.closed).toBe(false);
    await expectServing(ts);
  });

  it('a client that never reads but keeps sending data is not terminated: incoming data counts as life', async () => {
    ts = await startServer(TLS_MODE, { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, echo: false });
    const client = await ts.open();
    client.socket.pause();
    const side = await ts.serverSide(client);
    const timer = setInterval(() => client.sendBinary(Buffer.from([1])), 100);
    try {
      // 12 messages, 100 ms apart, span more than two ping cycles (300 + 200 ms):
      // a server that wanted a pong would have terminated the connection meanwhile.
      await eventually(
        () => side.messages.length >= 12,
        1200 + 2000,
        () => `12 messages received (${side.messages.length} so far, readyState ${side.connection.readyState})`,
      );
    } finally {
      clearInterval(timer);
    }
    expect(side.connection.readyState).toBe(1);
    expect(client.closed).toBe(false);
  });
});

const IDLE_TIMEOUT = 300;

describe('idleTimeout 300 ms (wss://, no heartbeat)', () => {
  it('a silent connection is closed with Close 1001 after ~300 ms; one that keeps talking stays open', async () => {
    ts = await startServer(TLS_MODE, { idleTimeout: IDLE_TIMEOUT, closeTimeout: 500 });
    const talker = await ts.open();
    const side = await ts.serverSide(talker);
    const started = performance.now();
    const silent = await ts.open();
    const timer = setInterval(() => talker.sendText('tick'), 100);
    try {
      const close = await silent.readClose(1500);
      const took = performance.now() - started;
      expect(close.code).toBe(1001);
      expect(close.before).toEqual([]);
      expect(took).toBeGreaterThanOrEqual(IDLE_TIMEOUT - 50);
      expect(took).toBeLessThan(IDLE_TIMEOUT + scaled(1000));
      silent.sendClose(1001);
      await silent.waitClosed(1000);
      // The talker outlives the silent one by a good margin: five more ticks
      // (500 ms, more than the idle timeout) reach the server.
      const heard = side.messages.length;
      await eventually(
        () => side.messages.length >= heard + 5,
        500 + 2000,
        () => `five more ticks from the talker (${side.messages.length - heard} so far, readyState ${side.connection.readyState})`,
      );
      expect(talker.closed).toBe(false);
    } finally {
      clearInterval(timer);
    }
    expect(side.connection.readyState).toBe(1);
    expect(side.messages.length).toBeGreaterThanOrEqual(6);
  });
});
