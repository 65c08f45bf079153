// What a deployment sees around the WebSocket itself: the demo page on a
// plain GET /, the client's real address behind a trusted proxy
// (X-Forwarded-For read from the right, never believed from anyone else),
// and the chat-room example app run through --app.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { Op, RawClient, upgradeRequest, type Frame } from '../helpers/raw-client.js';
import { MODES, PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

const CHAT_APP = fileURLToPath(new URL('../../docs/chat-app.mjs', import.meta.url));

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
});

describe.each(MODES)('demo page over $name', (mode) => {
  it('GET / → 200 text/html with a page that opens `new WebSocket` on the configured path', async () => {
    ts = await startServer(mode, { path: '/chat' });
    const client = await ts.connect();
    client.write('GET / HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n');
    const response = await client.readResponse();
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const page = response.body.toString('utf8');
    expect(page).toContain('new WebSocket');
    expect(page).toContain('"/chat"');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    // The page's WebSocket URL works.
    const ws = await ts.open({ path: '/chat' });
    ws.sendText('tom');
    expect((await ws.readFrame()).payload.toString('utf8')).toBe('tom');
    ws.destroy();
  });

  it('only GET / gets the page: GET /index.html → 426', async () => {
    ts = await startServer(mode);
    const client = await ts.connect();
    client.write('GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect((await client.readResponse()).status).toBe(426);
  });

  it('demoPage: false → GET / is answered 426 (Upgrade: websocket), no page', async () => {
    ts = await startServer(mode, { demoPage: false });
    const client = await ts.connect();
    client.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const response = await client.readResponse();
    expect(response.status).toBe(426);
    expect(response.headers.upgrade?.toLowerCase()).toBe('websocket');
    expect(response.body.toString('utf8')).not.toContain('new WebSocket');
  });
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

describe('the chat example app (node dist/server.js --app docs/chat-app.mjs)', () => {
  let p: WssdProcess | undefined;
  afterEach(() => {
    p?.kill();
    p = undefined;
  });

  /** Reads text frames until one matches `pattern`; fails on a non-text frame or after the deadline. */
  async function receive(client: RawClient, pattern: RegExp, timeoutMs = 2000): Promise<string> {
    const frames = await client.readFramesUntil(
      (frame) => {
        expect(frame.opcode).toBe(Op.Text);
        return pattern.test(frame.payload.toString('utf8'));
      },
      timeoutMs,
      `a text frame matching ${pattern}`,
    );
    return (frames.pop() as Frame).payload.toString('utf8');
  }

  it('a message from one client is received by both; join and leave are announced', async () => {
    const port = await freePort();
    p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', '--app', CHAT_APP]);
    await p.waitForLine(/listening/);
    const alice = await RawClient.connect({ port, tls: true });
    await alice.upgrade();
    const aliceName = `127.0.0.1:${alice.socket.localPort}`;
    expect(await receive(alice, /joined/)).toBe(`* ${aliceName} joined (1 here)`);
    const bob = await RawClient.connect({ port, tls: true });
    await bob.upgrade();
    const bobName = `127.0.0.1:${bob.socket.localPort}`;
    expect(await receive(bob, /joined/)).toBe(`* ${bobName} joined (2 here)`);
    expect(await receive(alice, /joined/)).toBe(`* ${bobName} joined (2 here)`);

    alice.sendText('hello, room');
    expect(await receive(alice, /room/)).toBe(`${aliceName}: hello, room`);
    expect(await receive(bob, /room/)).toBe(`${aliceName}: hello, room`);
    bob.sendText('hi alice');
    expect(await receive(alice, /alice/)).toBe(`${bobName}: hi alice`);
    expect(await receive(bob, /alice/)).toBe(`${bobName}: hi alice`);

    // Binary is refused with 1003 (unsupported data); the others hear that bob left.
    bob.sendBinary(Buffer.from([1, 2, 3]));
    expect((await bob.readClose()).code).toBe(1003);
    bob.sendClose(1003);
    await bob.waitClosed(2000);
    expect(await receive(alice, /left/)).toBe(`* ${bobName} left`);
    alice.destroy();
  });
});
