// GET /stats from the executable: --stats serves JSON counters on the
// WebSocket port, --stats-port on a separate plain-HTTP port (127.0.0.1), and
// without either nothing answers /stats with JSON.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { RawClient, upgradeRequest, type HttpResponse } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';

/** The /stats document as operators read it (written out here, not imported from src/). */
interface Stats {
  uptimeSeconds: number;
  connections: number;
  handshakes: { accepted: number; refused: Record<string, number> };
  messages: { in: number; out: number };
  bytes: { in: number; out: number };
  closeCodes: Record<string, number>;
  tlsClientErrors: Record<string, number>;
  memory: { rss: number; heapUsed: number; external: number };
  pid: number;
}

const running: WssdProcess[] = [];
const clients: RawClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of running.splice(0)) p.kill();
});

async function start(args: string[]): Promise<{ p: WssdProcess; port: number }> {
  const port = await freePort();
  const p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', ...args]);
  running.push(p);
  await p.waitForLine(/listening/);
  return { p, port };
}

async function connect(port: number, secure: boolean): Promise<RawClient> {
  const client = await RawClient.connect({ port, tls: secure });
  clients.push(client);
  return client;
}

/** A plain GET on the WebSocket port (over TLS when `secure`), as curl would send it. */
async function get(port: number, secure: boolean, path: string): Promise<HttpResponse> {
  const client = await connect(port, secure);
  client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n`);
  return client.readResponse(2000);
}

function parseStats(response: HttpResponse): Stats {
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(response.body.toString('utf8')) as Stats;
}

/** Plain-HTTP GET through node:http, for the separate stats port. */
function httpGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: scaled(2000) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }));
    });
    req.on('timeout', () => req.destroy(new Error('stats request timed out')));
    req.on('error', reject);
  });
}

describe('--stats: GET /stats on the WebSocket port', () => {
  it('counts connections, handshakes (accepted, refused by status), messages and bytes, close codes, TLS client errors; has memory, uptime, pid', async () => {
    const { p, port } = await start(['--stats']);
    // Plain HTTP on the TLS port: counted as a TLS client error of kind http_request.
    const wrongScheme = await connect(port, false);
    wrongScheme.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await wrongScheme.waitClosed(2000);
    // One connection that exchanges two messages and closes with 1000…
    const done = await connect(port, true);
    await done.upgrade();
    done.sendText('hello');
    done.sendBinary(Buffer.alloc(100, 7));
    await done.readFrame();
    await done.readFrame();
    done.sendClose(1000);
    expect((await done.readClose()).code).toBe(1000);
    await done.waitClosed(2000);
    // …one that stays open…
    const open = await connect(port, true);
    await open.upgrade();
    // …and one refused with 426 (§4.4: version 8).
    const refused = await connect(port, true);
    refused.write(upgradeRequest({ version: '8' }));
    expect((await refused.readResponse()).status).toBe(426);

    const stats = await eventually(
      async () => {
        const s = parseStats(await get(port, true, '/stats'));
        return s.closeCodes['1000'] === 1 ? s : undefined;
      },
      2000,
      'close code 1000 counted',
    );
    expect(stats.connections).toBe(1);
    expect(stats.handshakes.accepted).toBe(2);
    expect(stats.handshakes.refused['426']).toBe(1);
    expect(stats.messages).toEqual({ in: 2, out: 2 });
    expect(stats.bytes).toEqual({ in: 105, out: 105 });
    expect(stats.closeCodes).toEqual({ '1000': 1 });
    expect(stats.tlsClientErrors.http_request).toBeGreaterThanOrEqual(1);
    expect(stats.memory.rss).toBeGreaterThan(1024 * 1024);
    expect(stats.memory.heapUsed).toBeGreaterThan(0);
    expect(stats.memory.external).toBeGreaterThan(0);
    expect(stats.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(stats.uptimeSeconds).toBeLessThan(60);
    expect(stats.pid).toBe(p.child.pid);
    // The open connection still works after the /stats requests.
    open.sendText('after stats');
    expect((await open.readFrame()).payload.toString('utf8')).toBe('after stats');
  });

  it('without --stats, GET /stats is not served as JSON (it gets the WebSocket endpoint answer)', async () => {
    const { port } = await start(['--plain']);
    const response = await get(port, false, '/stats');
    expect(response.status).not.toBe(200);
    expect(response.status).toBe(426);
    expect(response.headers['content-type'] ?? '').not.toMatch(/json/);
    expect(response.body.toString('utf8')).not.toContain('"connections"');
  });

  it('--stats-port serves /stats on its own plain-HTTP port (not on the WebSocket port); other paths there get 404', async () => {
    const statsPort = await freePort();
    const { p, port } = await start(['--plain', '--stats-port', String(statsPort)]);
    const ws = await connect(port, false);
    await ws.upgrade();
    ws.sendText('x');
    await ws.readFrame();
    const res = await eventually(
      async () => {
        const r = await httpGet(statsPort, '/stats');
        return (JSON.parse(r.body) as Stats).messages.in === 1 ? r : undefined;
      },
      2000,
      'the message counted on the stats port',
    );
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    const stats = JSON.parse(res.body) as Stats;
    expect(stats.connections).toBe(1);
    expect(stats.handshakes.accepted).toBe(1);
    expect(stats.pid).toBe(p.child.pid);
    expect((await httpGet(statsPort, '/other')).status).toBe(404);
    // The WebSocket port does not serve it.
    const onWsPort = await get(port, false, '/stats');
    expect(onWsPort.status).not.toBe(200);
    expect(onWsPort.body.toString('utf8')).not.toContain('"connections"');
  });
});
