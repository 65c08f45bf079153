// WssdClient's connections: the handshake offer, the backoff and its reset, URL rotation, the
// closes that mean "do not come back", tokens (4001, proactive refresh) and liveness — all over a
// fake network and a manual clock.
import { describe, expect, it, vi } from 'vitest';
import { WssdClient } from '../../../src/client/wssd-client.js';
import type { ClientEvents } from '../../../src/client/wssd-client.js';
import { rng } from '../helpers/prng.js';
import { harness, jwt, settle } from './fake-server.js';
import type { Harness } from './fake-server.js';

const disconnects = (h: Harness): ClientEvents['disconnected'][] => h.events.filter((e) => e.name === 'disconnected').map((e) => e.value as ClientEvents['disconnected']);

describe('the handshake', () => {
  it('offers wssd.v1, with the token in the query', () => {
    const h = harness({ token: 'tok en' }, 'wss://a.example/wss?x=1');
    h.client.connect();
    expect(h.net.last.protocols).toEqual(['wssd.v1']);
    expect(h.net.last.url).toBe('wss://a.example/wss?x=1&token=tok%20en');
    expect(h.client.state).toBe('connecting');
    h.net.last.open();
    expect(h.client.state).toBe('connected');
    expect(h.events.map((e) => e.name)).toEqual(['connecting', 'connected']);
  });

  it('refuses a server that did not choose wssd.v1, and tries again later', () => {
    const h = harness();
    h.client.connect();
    h.net.last.open('');
    expect(h.events.find((e) => e.name === 'error')?.value).toMatchObject({ code: 'protocol_error' });
    expect(h.net.last.closedWith?.code).toBe(1000);
    expect(disconnects(h)).toMatchObject([{ code: 1002, reconnect: true }]);
  });

  it('correlates replies by id, whatever their order', async () => {
    const h = harness();
    h.client.connect();
    const socket = h.net.last.open();
    const a = h.client.rpc('a');
    const b = h.client.rpc('b');
    const [ca, cb] = socket.commands('rpc');
    expect(ca.id).not.toBe(cb.id);
    socket.reply(cb, { data: 'B' });
    socket.reply(ca, { data_base64: 'QQ==' });
    expect(await b).toBe('B');
    expect(await a).toEqual(new Uint8Array([65]));
  });

  it('fails the connection on a frame that is not wssd.v1', () => {
    const h = harness();
    h.client.connect();
    h.net.last.open().onmessage?.('not json');
    expect(disconnects(h)).toMatchObject([{ code: 1002, reconnect: true }]);
  });
});

describe('reconnecting', () => {
  it('waits a full-jitter backoff that doubles from 0.5 s to at most 20 s', () => {
    const h = harness();
    h.client.connect();
    for (let i = 0; i < 10; i++) {
      h.net.last.serverClose(1006);
      const { delay } = disconnects(h).at(-1) as { delay: number };
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(20_000, 500 * 2 ** i));
      const before = h.net.sockets.length;
      h.clock.advance(delay);
      expect(h.net.sockets.length).toBe(before + 1);
    }
  });

  it('draws the delay from random(): uniform over the range', () => {
    const draws: number[] = [];
    const random = rng(3);
    const h = harness({ random: () => draws[draws.push(random.next()) - 1] });
    h.client.connect();
    for (let i = 0; i < 2000; i++) {
      h.net.last.serverClose(1001);
      h.clock.advance(20_000);
    }
    const delays = disconnects(h).map((d) => d.delay as number);
    const capped = delays.slice(6); // attempts 6 on: the 20 s ceiling
    expect(capped.every((d, i) => Math.abs(d - draws[i + 6] * 20_000) < 1e-6)).toBe(true);
    const quarters = [0, 0, 0, 0];
    for (const d of capped) quarters[Math.floor(d / 5000)]++;
    for (const q of quarters) expect(q / capped.length).toBeGreaterThan(0.2), expect(q / capped.length).toBeLessThan(0.3);
  });

  it('starts the backoff again after a connection lasted 10 s, not before', () => {
    const h = harness({ random: () => 0.999 });
    h.client.connect();
    for (let i = 0; i < 5; i++) {
      h.net.last.serverClose(1006);
      h.clock.advance(20_000);
    }
    h.net.last.open();
    h.clock.advance(9_000);
    h.net.last.serverClose(1001);
    expect(disconnects(h).at(-1)?.delay).toBeGreaterThan(10_000);
    h.clock.advance(20_000);
    h.net.last.open();
    h.clock.advance(10_000);
    h.net.last.serverClose(1001);
    expect(disconnects(h).at(-1)?.delay).toBeLessThan(500);
  });

  it('rotates through the URLs', () => {
    const h = harness({}, ['wss://a/wss', 'wss://b/wss', 'wss://c/wss']);
    h.client.connect();
    for (let i = 0; i < 4; i++) {
      h.net.last.serverClose(1006);
      h.clock.advance(20_000);
    }
    expect(h.net.sockets.map((s) => s.url)).toEqual(['wss://a/wss', 'wss://b/wss', 'wss://c/wss', 'wss://a/wss', 'wss://b/wss']);
  });

  it('close 4000 stays disconnected and says so', () => {
    const h = harness();
    h.client.connect();
    h.net.last.open().serverClose(4000, 'kicked');
    h.clock.advance(60_000);
    expect(h.net.sockets).toHaveLength(1);
    expect(disconnects(h)).toEqual([{ code: 4000, reason: 'kicked', reconnect: false }]);
    expect(h.client.state).toBe('disconnected');
    expect(h.clock.timers).toBe(0);
  });

  it.each([
    { reconnect: false, code: 1000 },
    { reconnect: true, code: 1001 },
  ])('a disconnect push decides over the close that follows it (reconnect: $reconnect)', ({ reconnect, code }) => {
    const h = harness();
    h.client.connect();
    const socket = h.net.last.open();
    socket.push('disconnect', { code, reason: 'bye', reconnect });
    socket.serverClose(code, 'bye');
    h.clock.advance(60_000);
    expect(h.net.sockets.length > 1).toBe(reconnect);
    expect(disconnects(h)[0]).toMatchObject({ code, reason: 'bye', reconnect });
  });

  it('disconnect() closes, stops reconnecting, and leaves no timer behind', () => {
    const h = harness();
    h.client.connect();
    const socket = h.net.last.open();
    h.client.disconnect();
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'client disconnect' });
    socket.serverClose(1000); // late: ignored
    h.clock.advance(60_000);
    expect(h.net.sockets).toHaveLength(1);
    expect(disconnects(h)).toEqual([{ code: 1000, reason: 'client disconnect', reconnect: false }]);
    expect(h.clock.timers).toBe(0);
    h.client.connect();
    expect(h.net.sockets).toHaveLength(2);
  });

  it('gives up on a connection that does not open in time', () => {
    const h = harness({ connectTimeout: 5_000 });
    h.client.connect();
    h.clock.advance(5_000);
    expect(disconnects(h)).toMatchObject([{ code: 1006, reason: 'connect timeout', reconnect: true }]);
  });

  it('the default transport needs a WebSocket: a clear error without one', () => {
    vi.stubGlobal('WebSocket', undefined);
    try {
      expect(() => new WssdClient('wss://a/wss')).toThrow(/no WebSocket/);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('tokens', () => {
  it('close 4001 asks getToken() for a new token before reconnecting, and uses it', async () => {
    const getToken = vi.fn(async () => 'fresh');
    const h = harness({ token: 'old', getToken });
    h.client.connect();
    expect(h.net.last.url).toContain('token=old');
    h.net.last.open().serverClose(4001, 'token expired');
    h.clock.advance(1_000);
    await settle();
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(h.net.last.url).toContain('token=fresh');
  });

  it('without 4001 the same token is used again', async () => {
    const getToken = vi.fn(async () => 'fresh');
    const h = harness({ token: 'old', getToken });
    h.client.connect();
    h.net.last.open().serverClose(1001);
    h.clock.advance(1_000);
    await settle();
    expect(getToken).not.toHaveBeenCalled();
    expect(h.net.last.url).toContain('token=old');
  });

  it('after three attempts in a row that did not hold (a refused handshake looks like any failure), getToken() is asked again', async () => {
    const getToken = vi.fn(async () => 'fresh');
    const h = harness({ token: 'old', getToken });
    h.client.connect();
    for (let failed = 1; failed <= 3; failed++) {
      expect(h.net.last.url).toContain('token=old');
      h.net.last.serverClose(1006, 'could not connect');
      h.clock.advance(5_000); // past the backoff (at most 0.5, 1, 2 s), short of the next attempt's connect timeout
      await settle();
    }
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(h.net.last.url).toContain('token=fresh');
    h.net.last.open();
    expect(h.client.state).toBe('connected');
  });

  it('a first token comes from getToken(); one that failed is retried after a backoff', async () => {
    let calls = 0;
    const h = harness({
      getToken: async () => {
        if (++calls === 1) throw new Error('offline');
        return 'first';
      },
    });
    h.client.connect();
    await settle();
    expect(h.net.sockets).toHaveLength(0);
    expect(disconnects(h)).toMatchObject([{ reason: 'getToken() failed', reconnect: true }]);
    h.clock.advance(1_000);
    await settle();
    expect(h.net.last.url).toContain('token=first');
  });

  it('refreshes a JWT before its exp and sends refresh; a token_invalid makes the next connection ask again', async () => {
    const first = jwt({ sub: 'u', iat: 0, exp: 3600 });
    const second = jwt({ sub: 'u', iat: 3000, exp: 7200 });
    const tokens = [second, 'third'];
    const getToken = vi.fn(async () => tokens.shift() as string);
    const h = harness({ token: first, getToken, pingInterval: 1e9 });
    h.client.connect();
    const socket = h.net.last.open();
    h.clock.advance(3_239_000);
    await settle();
    expect(getToken).not.toHaveBeenCalled();
    h.clock.advance(1_000); // 6 min before exp: 10% of an hour
    await settle();
    expect(socket.last('refresh').token).toBe(second);
    socket.reply(socket.last('refresh'), { expires_at: 7200 });
    // The next refresh: 10% of the second token's lifetime (4200 s) before its exp.
    h.clock.advance((7200 - 420) * 1000 - h.clock.now() - 1);
    await settle();
    expect(getToken).toHaveBeenCalledTimes(1);
    h.clock.advance(1);
    await settle();
    socket.fail(socket.last('refresh'), 'token_invalid');
    expect(h.events.at(-1)).toMatchObject({ name: 'error', value: { code: 'token_invalid' } });
    tokens.push('fourth');
    socket.serverClose(1001);
    h.clock.advance(1_000);
    await settle();
    expect(h.net.last.url).toContain('token=fourth');
  });

  it('an expired JWT is replaced before connecting', async () => {
    const h = harness({ token: jwt({ exp: 1 }), getToken: async () => 'new' });
    h.clock.advance(2_000);
    h.client.connect();
    await settle();
    expect(h.net.last.url).toContain('token=new');
  });
});

describe('liveness', () => {
  it('pings after pingInterval of silence, and reconnects when nothing comes within pongTimeout', () => {
    const h = harness();
    h.client.connect();
    const socket = h.net.last.open();
    h.clock.advance(24_999);
    expect(socket.commands('ping')).toHaveLength(0);
    h.clock.advance(1);
    expect(socket.commands('ping')).toHaveLength(1);
    h.clock.advance(9_999);
    expect(h.client.state).toBe('connected');
    h.clock.advance(1);
    expect(socket.closedWith?.code).toBe(1000);
    expect(disconnects(h)).toMatchObject([{ code: 1006, reason: 'no reply to ping', reconnect: true }]);
    h.clock.advance(1_000);
    expect(h.net.sockets).toHaveLength(2);
  });

  it('any frame counts as a sign of life, and pushes the ping back', () => {
    const h = harness();
    h.client.connect();
    const socket = h.net.last.open();
    for (let i = 0; i < 10; i++) {
      h.clock.advance(20_000);
      socket.push('message', { data: 'tick' });
    }
    expect(socket.commands('ping')).toHaveLength(0);
    h.clock.advance(25_000);
    socket.reply(socket.last('ping'));
    h.clock.advance(20_000);
    expect(h.client.state).toBe('connected');
    expect(socket.commands('ping')).toHaveLength(1);
  });
});
