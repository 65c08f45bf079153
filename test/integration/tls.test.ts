// The TLS listener: versions (TLS 1.2 and 1.3 only, RFC 8996), ALPN, the
// dev certificate chain, the rate-limited log line for plain HTTP sent to the
// TLS port, the TLS handshake deadline, and IPv4/IPv6 loopback.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { DEV_CA, RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { expectServing, sleep, startServer, TLS_MODE, PLAIN_MODE, type TestServer } from '../helpers/test-server.js';
import { describeMs, scaled } from '../helpers/timeouts.js';

const PLAIN_HTTP = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/** Sends bytes over plain TCP to `port` and waits for the server to close. */
async function plainTcpHit(port: number, host: string, bytes: string): Promise<void> {
  const client = await RawClient.connect({ port, host, tls: false });
  client.write(bytes);
  try {
    await client.waitClosed(2000);
  } finally {
    client.destroy();
  }
}

/** A TLS connection with explicit options; resolves with the socket or rejects with the TLS error. */
function tlsConnect(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: DEV_CA, ...options });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS connect timed out after ${describeMs(3000)}`));
    }, scaled(3000));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** A real ClientHello from node:tls, recorded by a TCP listener that answers nothing. */
async function recordedClientHello(): Promise<Buffer> {
  const recorder = net.createServer();
  recorder.listen(0, '127.0.0.1');
  await once(recorder, 'listening');
  const client = tls.connect({ host: '127.0.0.1', port: (recorder.address() as net.AddressInfo).port, servername: 'localhost', ca: DEV_CA });
  client.on('error', () => {});
  try {
    const [socket] = (await once(recorder, 'connection')) as [net.Socket];
    const [hello] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    return hello;
  } finally {
    client.destroy();
    recorder.close();
  }
}

describe('TLS listener', () => {
  let ts: TestServer | undefined;
  afterEach(async () => {
    await ts?.close();
    ts = undefined;
  });

  it("plain HTTP on the TLS port: one warn line with the peer and OpenSSL's 'http request', rate-limited per IP, still serving wss", async () => {
    ts = await startServer(TLS_MODE);
    const server = ts;
    await plainTcpHit(server.port, '127.0.0.1', PLAIN_HTTP);
    await eventually(() => server.logs.lines('warn').length >= 1, 1000, 'a warn line');
    const warns = server.logs.lines('warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain('plain HTTP request on the TLS port');
    expect(warns[0]).toContain('127.0.0.1');
    expect(warns[0]).toContain('http request');
    // A second hit from the same IP within the minute: counted, not logged.
    await plainTcpHit(server.port, '127.0.0.1', PLAIN_HTTP);
    await eventually(() => server.server.tlsClientErrors.get('http_request') === 2, 1000, 'second hit counted');
    // Nothing to wait for: the test shows that no second line comes.
    await sleep(scaled(50));
    expect(server.logs.lines('warn')).toHaveLength(1);
    expect(server.logs.lines('error')).toEqual([]);
    await expectServing(server);
  });

  it('plain HTTP on the TLS port is answered 400 in plain HTTP, telling the client to use https:// or wss://; wss still works', async () => {
    ts = await startServer(TLS_MODE, { path: '/wss' });
    const upgrade = upgradeRequest({ path: '/wss' });
    for (const request of [PLAIN_HTTP, upgrade]) {
      const client = await RawClient.connect({ port: ts.port, tls: false });
      try {
        client.write(request);
        const response = await client.readResponse(2000);
        expect(response.status, request).toBe(400);
        expect(response.headers.connection).toBe('close');
        expect(response.body.toString('utf8')).toMatch(/use https:\/\/ or wss:\/\//);
        // Then the server ends the connection.
        await client.waitClosed(2000);
      } finally {
        client.destroy();
      }
    }
    // Still counted as before, and the normal path is untouched.
    const server = ts;
    await eventually(() => server.server.tlsClientErrors.get('http_request') === 2, 1000, 'both hits counted');
    const client = await server.open({ path: '/wss' });
    client.sendText('still serving');
    expect((await client.readFrame(2000)).payload.toString('utf8')).toBe('still serving');
    client.destroy();
  });

  it("the 'tlsClientError' event reports the kind and the normalized peer address", async () => {
    ts = await startServer(TLS_MODE, { host: '::' });
    const seen: Array<[string, string]> = [];
    ts.server.on('tlsClientError', (kind, _error, address) => seen.push([kind, address]));
    await plainTcpHit(ts.port, '127.0.0.1', PLAIN_HTTP);
    await plainTcpHit(ts.port, '::1', PLAIN_HTTP);
    await eventually(() => seen.length === 2, 1000, 'two tlsClientError events');
    // A dual-stack socket sees "::ffff:127.0.0.1"; operators expect "127.0.0.1".
    expect(seen).toEqual([
      ['http_request', '127.0.0.1'],
      ['http_request', '::1'],
    ]);
    const warns = ts.logs.lines('warn');
    expect(warns).toHaveLength(2);
    expect(warns[0]).toMatch(/from 127\.0\.0\.1:\d+/);
    expect(warns[1]).toMatch(/from \[::1\]:\d+/);
  });

  it("TLS 1.1 is refused by the server (counted and logged as 'unsupported_protocol')", async () => {
    ts = await startServer(TLS_MODE);
    const kinds: string[] = [];
    ts.server.on('tlsClientError', (kind) => kinds.push(kind));
    // The client allows everything down to TLS 1.0 at security level 0, so the refusal is the server's.
    await expect(
      tlsConnect(ts.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/) as unknown });
    const server = ts;
    await eventually(() => kinds.length === 1, 1000, 'tlsClientError');
    expect(kinds).toEqual(['unsupported_protocol']);
    expect(server.server.tlsClientErrors.get('unsupported_protocol')).toBe(1);
    const warns = server.logs.lines('warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain('unsupported_protocol');
    expect(warns[0]).toContain('127.0.0.1');
    await expectServing(server);
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('%s is accepted, ALPN is http/1.1, the chain verifies for "localhost"', async (version) => {
    ts = await startServer(TLS_MODE);
    const socket = await tlsConnect(ts.port, { minVersion: version, maxVersion: version, ALPNProtocols: ['h2', 'http/1.1'] });
    try {
      expect(socket.getProtocol()).toBe(version);
      expect(socket.alpnProtocol).toBe('http/1.1');
      expect(socket.authorized).toBe(true);
      expect(socket.getPeerCertificate().subject.CN).toBe('localhost');
    } finally {
      socket.destroy();
    }
    // And a WebSocket works over that version.
    const client = await ts.open({}, { tlsOptions: { minVersion: version, maxVersion: version } });
    expect((client.socket as tls.TLSSocket).getProtocol()).toBe(version);
    client.sendText(version);
    expect((await client.readFrame()).payload.toString()).toBe(version);
    client.destroy();
  });

  it('a TCP connection that never starts TLS is closed within ~1 s (handshakeTimeout 300 ms)', async () => {
    ts = await startServer(TLS_MODE, { handshakeTimeout: 300 });
    const started = performance.now();
    const client = await ts.connect({ tls: false });
    try {
      await client.waitClosed(1500);
    } finally {
      client.destroy();
    }
    expect(performance.now() - started).toBeLessThan(300 + scaled(900));
  });

  it('a TLS handshake stalled after part of a ClientHello is closed within ~1 s (handshakeTimeout 300 ms)', async () => {
    ts = await startServer(TLS_MODE, { handshakeTimeout: 300 });
    const started = performance.now();
    const client = await ts.connect({ tls: false });
    // A TLS record header announcing 512 bytes of handshake, then one byte of it.
    client.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    try {
      await client.waitClosed(1500);
    } finally {
      client.destroy();
    }
    expect(performance.now() - started).toBeLessThan(300 + scaled(900));
    expect(ts.server.tlsClientErrors.get('handshake_timeout')).toBe(1);
  });

  it('a peer that resets TCP in the middle of the TLS handshake: one warn line naming its address and port [reset]; still serving', async () => {
    ts = await startServer(TLS_MODE);
    const server = ts;
    const hello = await recordedClientHello();
    const raw = net.connect(server.port, '127.0.0.1');
    raw.on('error', () => {});
    await once(raw, 'connect');
    const localPort = raw.localPort;
    raw.write(hello);
    // The server's answer (ServerHello …) means it is inside the TLS handshake, waiting for the client.
    await once(raw, 'data');
    raw.resetAndDestroy();
    await eventually(() => server.server.tlsClientErrors.get('reset') === 1, 2000, 'the reset counted');
    // The socket no longer knows its peer at this point; the server remembered it from TCP accept.
    const warns = server.logs.lines('warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain(`127.0.0.1:${localPort}`);
    expect(warns[0]).toContain('[reset]');
    expect(server.logs.lines('error')).toEqual([]);
    await expectServing(server);
  });

  it.each(['after the TLS handshake', 'in the middle of the HTTP head', 'on an open WebSocket'])(
    'a peer that resets TCP %s: no error line, nothing left open, still serving',
    async (when) => {
      ts = await startServer(TLS_MODE);
      const server = ts;
      const raw = net.connect(server.port, '127.0.0.1');
      raw.on('error', () => {});
      await once(raw, 'connect');
      const secure = tls.connect({ socket: raw, servername: 'localhost', ca: DEV_CA });
      secure.on('error', () => {});
      await once(secure, 'secureConnect');
      if (when === 'in the middle of the HTTP head') secure.write('GET / HTTP/1.1\r\nHost: localhost\r\n');
      if (when === 'on an open WebSocket') {
        secure.write(
          'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        await once(secure, 'data');
        await eventually(() => server.server.connections.size === 1, 2000, 'the connection open');
      } else {
        // Pacing, not a wait for an event: give the server a moment to read what was sent.
        await sleep(50);
      }
      raw.resetAndDestroy();
      await eventually(() => server.server.connections.size === 0, 2000, 'no connection left');
      // The test shows that no error line follows the cleanup.
      await sleep(scaled(50));
      expect(server.logs.lines('error')).toEqual([]);
      await expectServing(server);
    },
  );

  it('the handshake deadline counts the TLS handshake too: TLS then nothing → closed by ~300 ms after accept', async () => {
    ts = await startServer(TLS_MODE, { handshakeTimeout: 300 });
    const started = performance.now();
    const client = await ts.connect();
    await client.waitClosed(1500);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(300 + scaled(700));
  });
});

describe.each([TLS_MODE, PLAIN_MODE])('loopback addresses over $name://', (mode) => {
  let ts: TestServer | undefined;
  afterEach(async () => {
    await ts?.close();
    ts = undefined;
  });

  it('bound to :: (dual stack): 127.0.0.1 and ::1 clients both connect; remoteAddress is normalized', async () => {
    ts = await startServer(mode, { host: '::' });
    const v4 = await ts.open({}, { host: '127.0.0.1' });
    const v6 = await ts.open({}, { host: '::1' });
    expect((await ts.serverSide(v4)).connection.remoteAddress).toBe('127.0.0.1');
    expect((await ts.serverSide(v6)).connection.remoteAddress).toBe('::1');
    for (const c of [v4, v6]) {
      c.sendText('hi');
      expect((await c.readFrame()).payload.toString()).toBe('hi');
      c.destroy();
    }
  });

  it('bound to ::1 only: address() gives a bracketed URL, 127.0.0.1 is not served', async () => {
    ts = await startServer(mode, { host: '::1' });
    expect(ts.url).toBe(`${mode.name}://[::1]:${ts.port}/`);
    const c = await ts.open({}, { host: '::1' });
    c.sendText('v6');
    expect((await c.readFrame()).payload.toString()).toBe('v6');
    c.destroy();
    await expect(
      new Promise<void>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: ts?.port ?? 0 });
        s.once('connect', () => {
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
