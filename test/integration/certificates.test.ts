// Certificates in production: renewed files are picked up without a restart
// (a directory watch that survives certbot's rename-over, SIGHUP, or
// reloadCertificates()), a bad new pair is refused while the old one keeps
// serving, and SNI chooses among several pairs (exact name, then a wildcard
// for one label, RFC 6125 §6.4.3, else the default). Every leaf here is
// signed by the dev CA and verified by the client: nothing switches
// verification off.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type tls from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { makeLeaf, peerCertificate, replaceFile, type Leaf } from '../helpers/leaf-certs.js';
import { eventually } from '../helpers/poll.js';
import { Op, RawClient } from '../helpers/raw-client.js';
import { sleep, startServer, TLS_MODE, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'wssd-certs-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let dirCount = 0;
function freshDir(): string {
  const dir = join(root, `d${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

/** A leaf for localhost (and the loopback IPs), as the server's default certificate. */
function localhostLeaf(dir: string, org: string): Leaf {
  return makeLeaf(dir, { dnsNames: ['localhost'], org, loopbackIps: true });
}

/** The serial of the certificate a live client connection was given. */
function liveSerial(client: RawClient): string {
  return (client.socket as tls.TLSSocket).getPeerCertificate().serialNumber.toUpperCase();
}

async function expectEcho(client: RawClient, text: string): Promise<void> {
  client.sendText(text);
  const frame = await client.readFrame(2000);
  expect(frame.opcode).toBe(Op.Text);
  expect(frame.payload.toString('utf8')).toBe(text);
}

describe('certificate reload without a restart (in-process server, certFile/keyFile)', () => {
  let ts: TestServer | undefined;
  let dir: string;
  let certFile: string;
  let keyFile: string;
  let first: Leaf;

  beforeEach(() => {
    dir = freshDir();
    certFile = join(dir, 'fullchain.pem');
    keyFile = join(dir, 'privkey.pem');
    first = localhostLeaf(dir, 'first');
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
  });
  afterEach(async () => {
    await ts?.close();
    ts = undefined;
  });

  it('files renamed over (as certbot does): new TLS connections get the new certificate within 3 s, a live connection keeps echoing', async () => {
    ts = await startServer(TLS_MODE, { certFile, keyFile });
    const server = ts;
    const live = await server.open();
    expect(liveSerial(live)).toBe(first.serial);
    expect((await peerCertificate(server.port, 'localhost')).serial).toBe(first.serial);

    const second = localhostLeaf(dir, 'second');
    expect(second.serial).not.toBe(first.serial);
    replaceFile(keyFile, second.key);
    replaceFile(certFile, second.cert);

    const seen = await eventually(
      async () => {
        const peer = await peerCertificate(server.port, 'localhost');
        return peer.serial === second.serial ? peer : undefined;
      },
      3000,
      'a new TLS connection presents the replaced certificate',
      100,
    );
    expect(seen.org).toBe('second');
    expect(seen.nameMatches).toBe(true);
    // The open connection keeps its session (and its certificate) and still works.
    expect(liveSerial(live)).toBe(first.serial);
    await expectEcho(live, 'survived the reload');
    expect(server.logs.lines('info').some((l) => l.includes('certificates reloaded') && l.includes('O=second'))).toBe(true);
    expect(server.logs.lines('error')).toEqual([]);
    // A full WebSocket handshake over the new certificate.
    await expectEcho(await server.open(), 'new certificate');
  });

  it("reloadCertificates(): 'unchanged' for the same files, 'reloaded' after a replacement (watching off)", async () => {
    ts = await startServer(TLS_MODE, { certFile, keyFile, watchCertificates: false });
    expect(ts.server.reloadCertificates()).toBe('unchanged');
    const second = localhostLeaf(dir, 'second');
    replaceFile(keyFile, second.key);
    replaceFile(certFile, second.cert);
    // With watching off nothing changes until the explicit call. The wait
    // outlasts the watcher's 500 ms debounce, after which a watching server
    // would have reloaded.
    await sleep(500 + scaled(300));
    expect((await peerCertificate(ts.port, 'localhost')).serial).toBe(first.serial);
    expect(ts.server.reloadCertificates()).toBe('reloaded');
    const peer = await peerCertificate(ts.port, 'localhost');
    expect(peer.serial).toBe(second.serial);
    expect(peer.org).toBe('second');
    expect(ts.server.reloadCertificates()).toBe('unchanged');
  });

  it("a new certificate whose key does not match is refused with a 'certificate reload refused' line; the old one keeps serving", async () => {
    ts = await startServer(TLS_MODE, { certFile, keyFile });
    const server = ts;
    const live = await server.open();
    // Only the certificate is replaced: privkey.pem still holds the first key.
    const mismatched = localhostLeaf(dir, 'mismatched');
    replaceFile(certFile, mismatched.cert);

    const line = await eventually(
      () => server.logs.lines('error').find((l) => l.includes('certificate reload refused')),
      3000,
      "the watcher logs 'certificate reload refused'",
    );
    expect(line).toContain('does not match');
    expect(line).toContain(certFile);
    // It also says what is still being served.
    expect(line).toContain('O=first');
    expect(server.logs.lines('info').some((l) => l.includes('certificates reloaded'))).toBe(false);
    expect(server.server.reloadCertificates()).toBe('refused');

    for (let i = 0; i < 3; i++) {
      const peer = await peerCertificate(server.port, 'localhost');
      expect(peer.serial).toBe(first.serial);
    }
    await expectEcho(live, 'old pair still serving');
    await expectEcho(await server.open(), 'new connection on the old pair');

    // The operator puts the matching key in place: the next reload takes both.
    replaceFile(keyFile, mismatched.key);
    expect(server.server.reloadCertificates()).toBe('reloaded');
    expect((await peerCertificate(server.port, 'localhost')).serial).toBe(mismatched.serial);
  });
});

describe('SNI: several pairs chosen by server name (in-process server)', () => {
  let ts: TestServer | undefined;
  let byOrg: Record<'default' | 'a' | 'wild', Leaf>;

  beforeAll(async () => {
    const dir = freshDir();
    const files = (leaf: Leaf, name: string): { certFile: string; keyFile: string } => {
      writeFileSync(join(dir, `${name}.crt`), leaf.cert);
      writeFileSync(join(dir, `${name}.key`), leaf.key);
      return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
    };
    byOrg = {
      default: localhostLeaf(dir, 'default'),
      a: makeLeaf(dir, { dnsNames: ['a.test'], org: 'a' }),
      wild: makeLeaf(dir, { dnsNames: ['*.b.test'], org: 'wild-b' }),
    };
    const main = files(byOrg.default, 'default');
    ts = await startServer(TLS_MODE, { ...main, sni: [files(byOrg.a, 'a'), files(byOrg.wild, 'wild')] });
  });
  afterAll(async () => {
    await ts?.close();
  });

  const cases: Array<{ servername: string; expected: 'default' | 'a' | 'wild'; nameMatches: boolean }> = [
    { servername: 'a.test', expected: 'a', nameMatches: true },
    { servername: 'A.Test', expected: 'a', nameMatches: true },
    { servername: 'x.b.test', expected: 'wild', nameMatches: true },
    { servername: 'localhost', expected: 'default', nameMatches: true },
    { servername: 'unknown.example', expected: 'default', nameMatches: false },
    // RFC 6125 §6.4.3: "*" stands for exactly one label.
    { servername: 'deep.x.b.test', expected: 'default', nameMatches: false },
    { servername: 'b.test', expected: 'default', nameMatches: false },
  ];
  it.each(cases)('SNI $servername → the $expected certificate', async ({ servername, expected, nameMatches }) => {
    const peer = await peerCertificate((ts as TestServer).port, servername);
    expect(peer.serial).toBe(byOrg[expected].serial);
    expect(peer.nameMatches).toBe(nameMatches);
  });

  it('a verified wss:// connection with SNI a.test completes the handshake and echoes', async () => {
    const client = await (ts as TestServer).open({ host: 'a.test' }, { tlsOptions: { servername: 'a.test' } });
    expect(liveSerial(client)).toBe(byOrg.a.serial);
    await expectEcho(client, 'hello a.test');
    client.destroy();
  });
});

describe('the CLI: SIGHUP reload and --sni-dir', () => {
  const running: WssdProcess[] = [];
  afterEach(() => {
    for (const p of running.splice(0)) p.kill();
  });
  function wssd(args: string[]): WssdProcess {
    const p = new WssdProcess(args);
    running.push(p);
    return p;
  }

  it("SIGHUP to `node dist/server.js --cert F --key K` reloads: 'certificates reloaded', new connections get the new pair, live ones echo", async () => {
    // The configured paths are symlinks into another directory, and the files
    // change there: the directory watch cannot see that, so only SIGHUP can
    // make this reload happen.
    const liveDir = freshDir();
    const archive = freshDir();
    const first = localhostLeaf(archive, 'first');
    writeFileSync(join(archive, 'cert.pem'), first.cert);
    writeFileSync(join(archive, 'key.pem'), first.key);
    symlinkSync(join(archive, 'cert.pem'), join(liveDir, 'cert.pem'));
    symlinkSync(join(archive, 'key.pem'), join(liveDir, 'key.pem'));
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--cert', join(liveDir, 'cert.pem'), '--key', join(liveDir, 'key.pem')]);
    expect(await p.waitForLine(/listening/)).toContain('O=first');
    const live = await RawClient.connect({ port, tls: true });
    await live.upgrade();
    expect(liveSerial(live)).toBe(first.serial);

    const second = localhostLeaf(archive, 'second');
    replaceFile(join(archive, 'key.pem'), second.key);
    replaceFile(join(archive, 'cert.pem'), second.cert);
    p.child.kill('SIGHUP');
    await p.waitForLine(/SIGHUP: reloading certificates/, 3000);
    expect(await p.waitForLine(/certificates reloaded/, 3000)).toContain('O=second');
    const peer = await peerCertificate(port, 'localhost');
    expect(peer.serial).toBe(second.serial);
    await expectEcho(live, 'still here after SIGHUP');
    live.destroy();
  });

  it('--sni-dir DIR: NAME.crt + NAME.key pairs are chosen by SNI (exact, wildcard), unknown names get the --cert pair', async () => {
    const dir = freshDir();
    const sniDir = freshDir();
    const main = localhostLeaf(dir, 'main');
    writeFileSync(join(dir, 'main.crt'), main.cert);
    writeFileSync(join(dir, 'main.key'), main.key);
    const a = makeLeaf(dir, { dnsNames: ['a.test'], org: 'a' });
    const wild = makeLeaf(dir, { dnsNames: ['*.b.test'], org: 'wild-b' });
    writeFileSync(join(sniDir, 'a.test.crt'), a.cert);
    writeFileSync(join(sniDir, 'a.test.key'), a.key);
    writeFileSync(join(sniDir, 'wild.b.test.pem'), wild.cert);
    writeFileSync(join(sniDir, 'wild.b.test.key'), wild.key);
    // Not a pair (no key beside it): ignored.
    writeFileSync(join(sniDir, 'README.txt'), 'certificates for SNI\n');
    const port = await freePort();
    const p = wssd(['--port', String(port), '--host', '127.0.0.1', '--cert', join(dir, 'main.crt'), '--key', join(dir, 'main.key'), '--sni-dir', sniDir]);
    const line = await p.waitForLine(/listening/);
    expect(line).toContain('a.test');
    expect(line).toContain('*.b.test');
    expect((await peerCertificate(port, 'a.test')).serial).toBe(a.serial);
    expect((await peerCertificate(port, 'x.b.test')).serial).toBe(wild.serial);
    expect((await peerCertificate(port, 'localhost')).serial).toBe(main.serial);
    expect((await peerCertificate(port, 'nobody.example')).serial).toBe(main.serial);
    const client = await RawClient.connect({ port, tls: true, tlsOptions: { servername: 'x.b.test' } });
    await client.upgrade({ host: 'x.b.test' });
    await expectEcho(client, 'wildcard');
    client.destroy();
  });
});
