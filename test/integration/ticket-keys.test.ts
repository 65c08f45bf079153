// TLS session resumption (RFC 8446 §2.2, RFC 5077) with shared ticket keys:
// a client resumes against the same server, against another server (another
// node) or another worker given the same keys, does a full handshake — and
// still gets its WebSocket — against different keys, and after a rotation its
// old ticket still resumes while new tickets are under the new key. Real TLS
// on loopback, the dev CA verified; `isSessionReused()` is the client's word.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createServer } from '../../src/index.js';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { DEV_CA, upgradeRequest } from '../helpers/raw-client.js';
import { startServer, TLS_MODE, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';
import { randomTicketKey } from '../../src/tls/ticket-keys.js';

let dir: string;
let files = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wssd-tickets-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A key file holding `keys` back to back. */
function keyFile(...keys: Buffer[]): string {
  const file = join(dir, `keys-${files++}.bin`);
  writeFileSync(file, Buffer.concat(keys));
  return file;
}

interface Visit {
  reused: boolean;
  /** The newest session the server gave (a TLS 1.3 ticket arrives after the handshake). */
  session: Buffer | undefined;
  /** The first text frame the server sent after the 101, if `greeting`. */
  greeting: string | undefined;
}

/**
 * One WebSocket connection over TLS, offering `session`: the upgrade must
 * succeed either way (a refused ticket means a full handshake, not a failure).
 */
function visit(port: number, session: Buffer | undefined, options: { greeting?: boolean; maxVersion?: tls.SecureVersion } = {}): Promise<Visit> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    let reused = false;
    let received = Buffer.alloc(0);
    let upgraded = false;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: DEV_CA, session, maxVersion: options.maxVersion });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no WebSocket over TLS from port ${port} within ${scaled(3000)} ms`));
    }, scaled(3000));
    const finish = (greeting: string | undefined): void => {
      clearTimeout(timer);
      socket.end();
      // The tickets came before any application data; give the socket its close.
      socket.once('close', () => resolve({ reused, session: latest, greeting }));
    };
    socket.on('session', (s: Buffer) => (latest = s));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write(upgradeRequest());
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(`no 101: ${status}`));
        upgraded = true;
        received = received.subarray(end + 4);
        if (options.greeting !== true) return finish(undefined);
      }
      // One small unmasked text frame: 0x81, length < 126, payload.
      if (received.length >= 2 && received.length >= 2 + received[1]) finish(received.subarray(2, 2 + received[1]).toString('utf8'));
    });
  });
}

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serverWith(options: Parameters<typeof startServer>[1]): Promise<TestServer> {
  const ts = await startServer(TLS_MODE, options);
  servers.push(ts);
  return ts;
}

describe('--ticket-keys (ticketKeysFile): resumption across servers', () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: resumes on the same server and on a second server with the same key file; a different key means a full handshake that still upgrades`, async () => {
      const shared = keyFile(randomTicketKey());
      const a = await serverWith({ ticketKeysFile: shared });
      const b = await serverWith({ ticketKeysFile: shared });
      const other = await serverWith({ ticketKeysFile: keyFile(randomTicketKey()) });

      const first = await visit(a.port, undefined, { maxVersion: version });
      expect(first.reused).toBe(false);
      expect(first.session).toBeDefined();
      expect((await visit(a.port, first.session, { maxVersion: version })).reused).toBe(true);
      expect((await visit(b.port, first.session, { maxVersion: version })).reused).toBe(true);
      const refused = await visit(other.port, first.session, { maxVersion: version });
      expect(refused.reused).toBe(false);
      // The full handshake gave a ticket of the other server's own.
      expect((await visit(other.port, refused.session, { maxVersion: version })).reused).toBe(true);
    });
  }

  it('rotation: after the file gets a new first key, old tickets still resume (and are replaced), new tickets are under the new key', async () => {
    const [oldKey, newKey] = [randomTicketKey(), randomTicketKey()];
    const file = keyFile(oldKey);
    const server = await serverWith({ ticketKeysFile: file, watchCertificates: false });
    const oldOnly = await serverWith({ ticketKeys: oldKey });
    const newOnly = await serverWith({ ticketKeys: newKey });

    const before = await visit(server.port, undefined);
    expect(before.reused).toBe(false);
    // An open connection lives through the rotation.
    const open = await server.open();

    writeFileSync(file, Buffer.concat([newKey, oldKey]));
    expect(server.server.reloadTicketKeys()).toBe('reloaded');
    expect(server.logs.lines('info').some((l) => /TLS ticket keys reloaded .*2 key\(s\)/.test(l))).toBe(true);
    expect(server.server.reloadTicketKeys()).toBe('unchanged');

    const resumed = await visit(server.port, before.session);
    expect(resumed.reused).toBe(true);
    // The ticket issued on that resumption is under the new key: it resumes where only the new key is known.
    expect((await visit(newOnly.port, resumed.session)).reused).toBe(true);
    const fresh = await visit(server.port, undefined);
    expect((await visit(newOnly.port, fresh.session)).reused).toBe(true);
    expect((await visit(oldOnly.port, fresh.session)).reused).toBe(false);

    open.sendText('still here');
    expect((await open.readFrame(2000)).payload.toString('utf8')).toBe('still here');

    // Retiring the old key: its tickets now get a full handshake.
    writeFileSync(file, newKey);
    expect(server.server.reloadTicketKeys()).toBe('reloaded');
    expect((await visit(server.port, before.session)).reused).toBe(false);
  });

  it('a bad key file at reload is refused with a log line; the keys in force stay', async () => {
    const key = randomTicketKey();
    const file = keyFile(key);
    const server = await serverWith({ ticketKeysFile: file, watchCertificates: false });
    const first = await visit(server.port, undefined);
    writeFileSync(file, key.subarray(0, 40));
    expect(server.server.reloadTicketKeys()).toBe('refused');
    expect(server.logs.lines('error').some((l) => l.includes('TLS ticket key reload refused') && l.includes('got 40 bytes'))).toBe(true);
    expect((await visit(server.port, first.session)).reused).toBe(true);
  });

  it('a key file of the wrong size, too many keys, or both forms given is a ConfigError naming the problem', () => {
    const base = { cert: DEV_CA, key: DEV_CA, logger: false as const };
    expect(() => createServer({ ...base, ticketKeysFile: keyFile(Buffer.alloc(47)) })).toThrow(ConfigError);
    expect(() => createServer({ ...base, ticketKeysFile: keyFile(Buffer.alloc(47)) })).toThrow(/48-byte TLS ticket keys .* got 47 bytes/);
    expect(() => createServer({ ...base, ticketKeysFile: keyFile(Buffer.alloc(0)) })).toThrow(/got 0 bytes/);
    expect(() => createServer({ ...base, ticketKeysFile: join(dir, 'missing.bin') })).toThrow(/cannot read the TLS ticket key file .*ENOENT/);
    expect(() => createServer({ ...base, ticketKeys: Buffer.alloc(48 * 17, 1) })).toThrow(/17 TLS ticket keys; at most 16/);
    expect(() => createServer({ ...base, ticketKeys: Buffer.concat([Buffer.alloc(48, 1), Buffer.alloc(48, 1)]) })).toThrow(/same name/);
    expect(() => createServer({ ...base, ticketKeys: randomTicketKey(), ticketKeysFile: keyFile(randomTicketKey()) })).toThrow(/either ticketKeys or ticketKeysFile/);
  });
});

describe('--workers: one ticket key for every worker', () => {
  let tmp: string;
  let app: string;
  const running: WssdProcess[] = [];
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'wssd-ticket-workers-'));
    app = join(tmp, 'pid-app.mjs');
    writeFileSync(app, "export default function (ws) {\n  ws.send('pid ' + process.pid);\n}\n");
  });
  afterEach(() => {
    for (const p of running.splice(0)) p.kill();
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Resumes one session until two different workers have resumed it. */
  async function resumedByWorkers(port: number): Promise<Set<string>> {
    const first = await visit(port, undefined, { greeting: true });
    expect(first.reused).toBe(false);
    const resumedBy = new Set<string>();
    await eventually(
      async () => {
        const v = await visit(port, first.session, { greeting: true });
        expect(v.reused).toBe(true);
        if (v.greeting !== undefined) resumedBy.add(v.greeting);
        return resumedBy.size >= 2;
      },
      8000,
      () => `a session resumed by two workers (by ${[...resumedBy].join(', ') || 'none'})`,
      0,
    );
    return resumedBy;
  }

  // node:cluster on its own also gives later workers the first one's default
  // key (net.Server's _setServerData), so this passes without wssd's shared
  // key too; it pins the behaviour either way. The restart test below is the
  // one node:cluster's sharing breaks and wssd's re-install fixes.
  it('without --ticket-keys: the primary shares a random key, a session from one worker resumes on the other', async () => {
    const port = await freePort();
    const p = new WssdProcess(['--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--app', app]);
    running.push(p);
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 2, 10_000, 'both workers listening');
    expect((await resumedByWorkers(port)).size).toBe(2);
  });

  it('with --ticket-keys FILE: every worker resumes the others\' sessions, and SIGHUP rotates the key in each', async () => {
    const port = await freePort();
    const [oldKey, newKey] = [randomTicketKey(), randomTicketKey()];
    const file = join(tmp, 'ticket.key');
    writeFileSync(file, oldKey);
    const p = new WssdProcess(['--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--app', app, '--ticket-keys', file]);
    running.push(p);
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 2, 10_000, 'both workers listening');
    expect((await resumedByWorkers(port)).size).toBe(2);
    const before = await visit(port, undefined, { greeting: true });
    writeFileSync(file, Buffer.concat([newKey, oldKey]));
    p.child.kill('SIGHUP');
    await eventually(() => p.stderr.filter((l) => l.includes('TLS ticket keys reloaded')).length >= 2, 10_000, () => `both workers reloaded the ticket keys; stderr:\n${p.stderr.join('\n')}`);
    for (let i = 0; i < 4; i++) expect((await visit(port, before.session, { greeting: true })).reused).toBe(true);
  });

  it('a worker restarted after a rotation uses the file\'s key, not the one node:cluster kept from the first worker', async () => {
    const port = await freePort();
    const [oldKey, newKey] = [randomTicketKey(), randomTicketKey()];
    const file = join(tmp, 'rotated.key');
    writeFileSync(file, oldKey);
    const p = new WssdProcess(['--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--app', app, '--ticket-keys', file]);
    running.push(p);
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 2, 10_000, 'both workers listening');
    // The old key retired at once: one key in the file, the new one.
    writeFileSync(file, newKey);
    p.child.kill('SIGHUP');
    await eventually(() => p.stderr.filter((l) => l.includes('TLS ticket keys reloaded')).length >= 2, 10_000, () => `both workers reloaded the ticket keys; stderr:\n${p.stderr.join('\n')}`);
    const victim = Number(/^pid (\d+)$/.exec((await visit(port, undefined, { greeting: true })).greeting ?? '')?.[1]);
    process.kill(victim, 'SIGKILL');
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 3, 10_000, 'the replacement worker listening');
    // The survivor and the replacement resume each other's sessions: both encrypt and decrypt with the new key.
    expect((await resumedByWorkers(port)).size).toBe(2);
  });

  it('a --ticket-keys file of the wrong size stops startup with one line and exit code 1', async () => {
    const file = join(tmp, 'short.key');
    writeFileSync(file, Buffer.alloc(32));
    const p = new WssdProcess(['--port', String(await freePort()), '--ticket-keys', file]);
    running.push(p);
    const exit = await p.exited(5000);
    expect(exit.code).toBe(1);
    expect(p.stderr.join('\n')).toMatch(/wssd: --ticket-keys: the TLS ticket key file .*short\.key must hold one or more 48-byte TLS ticket keys .*got 32 bytes/);
  });
});
