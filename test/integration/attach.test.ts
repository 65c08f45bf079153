// attach(httpServer, { path }): WebSocket on an existing node:http or
// node:https server. Ordinary HTTP requests still reach the application's
// handler; upgrades on the path are wssd's, with the same handshake rules and
// answers as the standalone server.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attach, type UpgradeRequest, type WebSocketServer } from '../../src/index.js';
import { Op, RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { DEV_CERT, DEV_KEY, withTimeout } from '../helpers/test-server.js';

interface Flavour {
  name: string;
  tls: boolean;
  create(handler: http.RequestListener): http.Server;
}

const FLAVOURS: readonly Flavour[] = [
  { name: 'node:http', tls: false, create: (handler) => http.createServer(handler) },
  { name: 'node:https (dev certificate)', tls: true, create: (handler) => https.createServer({ cert: DEV_CERT, key: DEV_KEY }, handler) },
];

describe.each(FLAVOURS)('attach() to a $name server, path /ws', (flavour) => {
  let httpServer: http.Server;
  let wss: WebSocketServer;
  let port: number;
  let httpRequests: string[];
  let requests: UpgradeRequest[];
  const clients: RawClient[] = [];

  beforeEach(async () => {
    httpRequests = [];
    requests = [];
    httpServer = flavour.create((req, res) => {
      httpRequests.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const body = `app says hi to ${req.url ?? ''}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    wss = attach(httpServer, { path: '/ws', logger: false, pingInterval: 0 });
    wss.on('connection', (ws, request) => {
      requests.push(request);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = (httpServer.address() as AddressInfo).port;
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    // wss.close() explicitly: the http server's 'close' event cannot be relied on
    // to do it (see the last test), and a leftover upgraded socket would keep
    // httpServer.close() from ever calling back.
    await wss.close(1001, 'test over', 300);
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  async function connect(): Promise<RawClient> {
    const client = await RawClient.connect({ port, tls: flavour.tls });
    clients.push(client);
    return client;
  }

  it("plain HTTP requests (GET /, GET /ws without Upgrade) reach the app's handler", async () => {
    for (const path of ['/', '/ws', '/page?x=1']) {
      const client = await connect();
      client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      const response = await client.readResponse();
      expect(response.status).toBe(200);
      expect(response.body.toString('utf8')).toBe(`app says hi to ${path}`);
    }
    expect(httpRequests).toEqual(['GET /', 'GET /ws', 'GET /page?x=1']);
  });

  it('an upgrade on /ws completes (101) and echoes text and binary; the request knows whether it came over TLS', async () => {
    const client = await connect();
    const response = await client.upgrade({ path: '/ws' });
    expect(response.headers.upgrade?.toLowerCase()).toBe('websocket');
    client.sendText('über');
    const text = await client.readFrame();
    expect(text.opcode).toBe(Op.Text);
    expect(text.payload.toString('utf8')).toBe('über');
    const big = Buffer.alloc(70_000, 0x5a);
    client.sendBinary(big);
    const binary = await client.readFrame();
    expect(binary.opcode).toBe(Op.Binary);
    expect(binary.payload.equals(big)).toBe(true);
    expect(requests).toHaveLength(1);
    expect(requests[0].path).toBe('/ws');
    expect(requests[0].secure).toBe(flavour.tls);
    expect(requests[0].remoteAddress).toBe('127.0.0.1');
    expect(httpRequests).toEqual([]);
    client.sendClose(1000);
    expect((await client.readClose()).code).toBe(1000);
    await client.waitClosed();
  });

  it('an upgrade on /other gets 404, and the app handler never sees it', async () => {
    const client = await connect();
    client.write(upgradeRequest({ path: '/other' }));
    const response = await client.readResponse();
    expect(response.status).toBe(404);
    expect(requests).toEqual([]);
    expect(httpRequests).toEqual([]);
  });

  it('the same handshake rules: Sec-WebSocket-Version 8 → 426 with Sec-WebSocket-Version: 13 (§4.4); a bad key → 400', async () => {
    const v8 = await connect();
    v8.write(upgradeRequest({ path: '/ws', version: '8' }));
    const r8 = await v8.readResponse();
    expect(r8.status).toBe(426);
    expect(r8.headers['sec-websocket-version']).toBe('13');
    const badKey = await connect();
    badKey.write(upgradeRequest({ path: '/ws', key: 'c2hvcnQ=' }));
    expect((await badKey.readResponse()).status).toBe(400);
    expect(requests).toEqual([]);
    // And a good one still works after the refusals.
    const good = await connect();
    await good.upgrade({ path: '/ws' });
    good.sendText('ok');
    expect((await good.readFrame()).payload.toString('utf8')).toBe('ok');
  });

  it('a client that drops TCP without a Close frame: the server-side connection closes (1006) and is released', async () => {
    const client = await connect();
    await client.upgrade({ path: '/ws' });
    client.sendText('bye');
    await client.readFrame();
    const closed = new Promise<number>((resolve) => {
      const [ws] = wss.connections;
      ws.once('close', (code) => resolve(code));
    });
    expect(wss.connections.size).toBe(1);
    // FIN without a WebSocket Close, as a crashed client or a dropped proxy leaves it.
    client.end();
    expect(await withTimeout(closed, 2000, "the server-side 'close' event")).toBe(1006);
    expect(wss.connections.size).toBe(0);
    await client.waitClosed(1000);
  });

  it('closing the http server closes the WebSocket connections with 1001', async () => {
    const client = await connect();
    await client.upgrade({ path: '/ws' });
    httpServer.close();
    const close = await client.readClose(2000);
    expect(close.code).toBe(1001);
    client.sendClose(1001);
    await client.waitClosed(2000);
  });
});
