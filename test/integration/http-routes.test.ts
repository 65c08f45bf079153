// Plain HTTP on the WebSocket port: the demo page on a GET / (its WebSocket
// URL on the configured path), 426 for every other plain request, and
// demoPage: false turning the page off.
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, startServer, type TestServer } from '../helpers/test-server.js';

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
