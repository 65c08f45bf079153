// The executable as operators run it: `node dist/server.js` with flags. The
// startup line, configuration errors (one clear line, exit 1, no stack),
// --plain, --app, and SIGTERM closing live connections with 1001.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { Op, RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';

let tmp: string;
const running: WssdProcess[] = [];

function wssd(args: string[]): WssdProcess {
  const p = new WssdProcess(args);
  running.push(p);
  return p;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wssd-cli-'));
});
afterEach(() => {
  for (const p of running.splice(0)) p.kill();
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Writes the --app module `source` as `name` and starts wssd (ws://) with it; resolves once it listens. */
async function startApp(name: string, source: string): Promise<{ p: WssdProcess; port: number }> {
  const app = join(tmp, name);
  writeFileSync(app, source);
  const port = await freePort();
  const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain', '--app', app]);
  await p.waitForLine(/listening/);
  return { p, port };
}

/** Every non-empty stderr line, with the assertion that none looks like a stack frame. */
function expectOneCleanErrorLine(p: WssdProcess): string {
  const lines = p.stderr.filter((l) => l.trim() !== '');
  expect(lines, lines.join('\n')).toHaveLength(1);
  expect(lines[0]).not.toMatch(/^\s+at /);
  expect(lines[0]).not.toMatch(/Error:|node:internal/);
  return lines[0];
}

describe('CLI (node dist/server.js)', () => {
  it("startup line names wss://, the port and 'TLSv1.2'; a wss client is served (default echo)", async () => {
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--cert', 'certs/dev-cert.pem', '--key', 'certs/dev-key.pem']);
    const line = await p.waitForLine(/listening/);
    expect(line).toContain('wss://');
    expect(line).toContain(String(port));
    expect(line).toContain('TLSv1.2');
    const client = await RawClient.connect({ port, tls: true });
    await client.upgrade();
    client.sendText('echo?');
    expect((await client.readFrame()).payload.toString()).toBe('echo?');
    client.destroy();
  });

  it('a --cert path that does not exist: exit 1 with one clear line, no stack trace', async () => {
    const port = await freePort();
    const missing = join(tmp, 'no-such-cert.pem');
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--cert', missing, '--key', 'certs/dev-key.pem']);
    const exit = await p.exited(5000);
    expect(exit.code).toBe(1);
    const line = expectOneCleanErrorLine(p);
    expect(line).toContain(missing);
    expect(line).toContain('ENOENT');
  });

  it('a key that does not match the certificate: exit 1 with one clear line', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = join(tmp, 'other-key.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--cert', 'certs/dev-cert.pem', '--key', keyFile]);
    const exit = await p.exited(5000);
    expect(exit.code).toBe(1);
    const line = expectOneCleanErrorLine(p);
    expect(line).toMatch(/does not match/);
  });

  it('a bad --port value: exit 1 with one clear line', async () => {
    const p = wssd(['--port', 'eighty', '--plain']);
    const exit = await p.exited(5000);
    expect(exit.code).toBe(1);
    expect(expectOneCleanErrorLine(p)).toContain('--port');
  });

  it('configuration errors name flags, not library options, in one line: --history-size without --redis, --workers -1', async () => {
    const cases: [string[], string][] = [
      [['--plain', '--history-size', '5'], 'wssd: --history-size needs --redis: history is kept in Redis'],
      [['--plain', '--workers', '-1'], 'wssd: --workers must be a positive integer or "auto", got "-1"'],
      [['--plain', '--port'], 'wssd: --port needs a value'],
    ];
    for (const [args, message] of cases) {
      const p = wssd(args);
      expect((await p.exited(5000)).code, args.join(' ')).toBe(1);
      expect(expectOneCleanErrorLine(p)).toMatch(new RegExp(`error +${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    }
  });

  it('a port already in use: exit 1 with one clear line', async () => {
    const port = await freePort();
    const first = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain']);
    await first.waitForLine(/listening/);
    const second = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain']);
    const exit = await second.exited(5000);
    expect(exit.code).toBe(1);
    expect(expectOneCleanErrorLine(second)).toContain('EADDRINUSE');
  });

  it('--plain serves ws:// (and --path limits the paths)', async () => {
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain', '--path', '/ws']);
    const line = await p.waitForLine(/listening/);
    expect(line).toContain(`ws://127.0.0.1:${port}/`);
    expect(line).not.toContain('wss://');
    const refused = await RawClient.connect({ port, tls: false });
    refused.write('GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const notFound = await refused.readResponse();
    expect(notFound.status).toBe(404);
    // The 404 says where the service is.
    expect(notFound.body.toString('utf8')).toContain('no WebSocket service at /other; this server serves /ws');
    refused.destroy();
    // A trailing slash more is the same service.
    const slashed = await RawClient.connect({ port, tls: false });
    await slashed.upgrade({ path: '/ws/' });
    slashed.destroy();
    const client = await RawClient.connect({ port, tls: false });
    await client.upgrade({ path: '/ws' });
    client.sendBinary(Buffer.from([1, 2, 3]));
    const frame = await client.readFrame();
    expect(frame.opcode).toBe(Op.Binary);
    expect([...frame.payload]).toEqual([1, 2, 3]);
    client.destroy();
  });

  it('the demo page is on (with --path too), and --no-demo-page or WSSD_DEMO_PAGE=0 turns it off', async () => {
    const getRoot = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> => {
      const port = await freePort();
      const p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', '--plain', ...args], env);
      running.push(p);
      await p.waitForLine(/listening/);
      const client = await RawClient.connect({ port, tls: false });
      try {
        client.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        return (await client.readResponse()).status;
      } finally {
        client.destroy();
      }
    };
    expect(await getRoot(['--path', '/wss'])).toBe(200);
    expect(await getRoot(['--no-demo-page'])).toBe(426);
    expect(await getRoot([], { WSSD_DEMO_PAGE: '0' })).toBe(426);
  });

  it('--stats without --stats-port: a warning at start that the counters are on the public port', async () => {
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain', '--stats']);
    await p.waitForLine(/listening/);
    const warning = await p.waitForLine(/\/stats and \/metrics on the public WebSocket port/);
    expect(warning).toMatch(/ warn /);
    expect(warning).toContain('--stats-port');
    const quiet = wssd(['--port', String(await freePort()), '--host', '127.0.0.1', '--plain', '--stats', '--stats-port', '0']);
    await quiet.waitForLine(/listening/);
    expect(quiet.stderr.filter((l) => l.includes('public WebSocket port'))).toEqual([]);
  });

  it('--max-payload is applied: a bigger message is closed with 1009', async () => {
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain', '--max-payload', '100']);
    await p.waitForLine(/listening/);
    const client = await RawClient.connect({ port, tls: false });
    await client.upgrade();
    client.sendBinary(Buffer.alloc(101));
    expect((await client.readClose()).code).toBe(1009);
    await client.waitClosed(2000);
  });

  it('SIGTERM with a live connection: the client gets Close 1001 and the process exits 0', async () => {
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--close-timeout', '2000']);
    await p.waitForLine(/listening/);
    const client = await RawClient.connect({ port, tls: true });
    await client.upgrade();
    p.child.kill('SIGTERM');
    const close = await client.readClose(3000);
    expect(close.code).toBe(1001);
    client.sendClose(1001);
    await client.waitClosed(2000);
    const exit = await p.exited(3000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(p.stderr.some((l) => l.includes('SIGTERM'))).toBe(true);
  });

  it('SIGTERM with a client that never answers: exit 0 once --close-timeout passes', async () => {
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--plain', '--close-timeout', '300']);
    await p.waitForLine(/listening/);
    const client = await RawClient.connect({ port, tls: false });
    await client.upgrade();
    const started = performance.now();
    p.child.kill('SIGTERM');
    expect((await client.readClose(2000)).code).toBe(1001);
    const exit = await p.exited(3000);
    expect(exit.code).toBe(0);
    expect(performance.now() - started).toBeLessThan(300 + scaled(2200));
    await client.waitClosed(1000);
  });

  it("--app MODULE: its default export handles connections (sends 'hello' on connect)", async () => {
    const { port } = await startApp(
      'hello-app.mjs',
      "export default function onConnection(connection) {\n  connection.send('hello');\n  connection.on('message', (data) => connection.send('app:' + data));\n}\n",
    );
    const client = await RawClient.connect({ port, tls: false });
    await client.upgrade();
    const hello = await client.readFrame();
    expect(hello.opcode).toBe(Op.Text);
    expect(hello.payload.toString()).toBe('hello');
    client.sendText('x');
    expect((await client.readFrame()).payload.toString()).toBe('app:x');
    client.destroy();
  });

  it('--app verifyRequest refuses a handshake before the upgrade: its status, no 101; with the header, 101', async () => {
    const { port } = await startApp(
      'verify-app.mjs',
      [
        "export function verifyRequest(request) {",
        "  if (request.headers['x-token'] === undefined) return { status: 401, reason: 'no token' };",
        "  return request.headers['x-token'] === 'good';",
        '}',
        "export function onConnection(ws) { ws.send('welcome'); }",
      ].join('\n'),
    );
    for (const [headers, status] of [[{}, 401], [{ 'X-Token': 'forged' }, 403]] as const) {
      const refused = await RawClient.connect({ port, tls: false });
      refused.write(upgradeRequest({ headers }));
      const response = await refused.readResponse();
      expect(response.status, JSON.stringify(headers)).toBe(status);
      // The refusal is all there is: the connection ends, no 101 and no frame follow.
      await refused.waitClosed(2000);
      refused.destroy();
    }
    const client = await RawClient.connect({ port, tls: false });
    await client.upgrade({ headers: { 'X-Token': 'good' } });
    expect((await client.readFrame()).payload.toString()).toBe('welcome');
    client.destroy();
  });

  it('--app init(server) is awaited before listening and gets the server the connections come to', async () => {
    const { p, port } = await startApp(
      'init-app.mjs',
      [
        'let initServer;',
        'export default {',
        '  async init(server) {',
        '    await new Promise((resolve) => setTimeout(resolve, 100));',
        '    initServer = server;',
        "    console.error('init done, ' + server.connections.size + ' connection(s)');",
        '  },',
        '  onConnection(ws, request, server) {',
        "    ws.send('same server: ' + (server === initServer));",
        '  },',
        '};',
      ].join('\n'),
    );
    const initLine = p.stderr.findIndex((l) => l === 'init done, 0 connection(s)');
    expect(initLine, p.stderr.join('\n')).toBeGreaterThanOrEqual(0);
    expect(initLine).toBeLessThan(p.stderr.findIndex((l) => l.includes('listening')));
    const client = await RawClient.connect({ port, tls: false });
    await client.upgrade();
    expect((await client.readFrame()).payload.toString()).toBe('same server: true');
    client.destroy();
  });

  it('--app init that throws: exit 1 with one clear line', async () => {
    const app = join(tmp, 'failing-init-app.mjs');
    writeFileSync(app, "export async function init() { throw new Error('no database'); }\nexport function onConnection() {}\n");
    const p = wssd(['--port', String(await freePort()), '--plain', '--app', app]);
    expect((await p.exited(5000)).code).toBe(1);
    expect(expectOneCleanErrorLine(p)).toContain(`wssd: --app ${app}: init failed: no database`);
  });

  it('--app with a module that exports no function: exit 1 with one clear line', async () => {
    const app = join(tmp, 'not-an-app.mjs');
    writeFileSync(app, 'export const answer = 42;\n');
    const p = wssd(['--port', String(await freePort()), '--plain', '--app', app]);
    const exit = await p.exited(5000);
    expect(exit.code).toBe(1);
    expect(expectOneCleanErrorLine(p)).toContain('exports no function');
  });
});
