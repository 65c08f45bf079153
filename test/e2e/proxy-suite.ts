// The checks every TLS-terminating proxy of method 1 must pass, whatever the
// proxy: `wssd --plain` started exactly as the docs say (with an --app that
// answers "whoami"), the proxy started from its docs file, then chromium's
// WebSocket (echo, 64 KiB binary, 1 MiB text, the client's real address over
// IPv6) and the raw client (forged X-Forwarded-For, TLS 1.2 only, TLS 1.1
// refused). nginx.test.ts and apache.test.ts each call proxySuite once.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { Op, RawClient } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';
import { SharedBrowser, type Chromium, type Page } from './chromium.js';
import { echoBinary, echoSizes, echoText, sendTom, whoami } from './page-scripts.js';
import { DEV_CERT_FILE, expectEchoAndClose, removeDir, startWssd, tempDir, writeWhoamiApp, type Daemon, type WhoAmI } from './support.js';

export const E2E_TIMEOUT = scaled(60_000);
/** Start-up (wssd, the proxy on two addresses) and tear-down (browser, proxy) have bounded steps that add up past vitest's 30 s default. */
export const HOOK_TIMEOUT = scaled(60_000);
const STATIC_TITLE = 'wssd e2e static site';

export interface FrontContext {
  /** A temp dir (0755) for the proxy's configuration, logs and runtime files. */
  dir: string;
  /** The site root, with an index.html. */
  root: string;
  /** Where `wssd --plain` listens, on 127.0.0.1. */
  wssdPort: number;
}

export interface Front {
  daemon: Daemon;
  /** The proxy's TLS port, on both 127.0.0.1 and [::1]. */
  port: number;
}

export interface ProxySuite {
  /** The running front (valid inside tests). */
  front(): Front;
}

/**
 * Registers beforeAll/afterAll and the shared tests in the current file.
 * `start` renders the proxy's docs configuration into ctx.dir and starts it
 * (and must have waited until it listens on 127.0.0.1 and [::1]).
 */
export function proxySuite(name: string, requireProxy: () => void, start: (ctx: FrontContext) => Promise<Front>): ProxySuite {
  let dir: string | undefined;
  let wssd: WssdProcess | undefined;
  let front: Front | undefined;
  let daemon: Daemon | undefined;
  const shared = new SharedBrowser({ trustCertificates: [DEV_CERT_FILE] });
  let startError: unknown;

  const current = (): Front => {
    if (front === undefined) {
      const why = startError instanceof Error ? startError.message : 'see the beforeAll error';
      throw new Error(`${name} is not running: ${why}`);
    }
    return front;
  };

  /** Launched on first use, so the tests that need no browser still run without chromium. */
  const browser = (): Promise<Chromium> => shared.get();

  /** A tab on the static site the proxy serves: the secure origin the page's WebSockets start from. */
  const sitePage = async (): Promise<Page> => {
    const { port } = current();
    const page = await (await browser()).open(`https://localhost:${port}/`);
    expect(await page.evaluate<string>('document.title'), 'the static index.html, served by the proxy').toBe(STATIC_TITLE);
    return page;
  };

  /** A raw TLS client to the proxy, optionally from another loopback address, upgraded on /wss. */
  const rawThroughProxy = async (options: { localAddress?: string; headers?: Record<string, string>; maxVersion?: tls.SecureVersion } = {}): Promise<RawClient> => {
    const { port } = current();
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: options.localAddress });
    const client = await RawClient.connect({ port, tls: true, tlsOptions: { socket, maxVersion: options.maxVersion }, timeoutMs: 5000 });
    try {
      await client.upgrade({ path: '/wss', host: `localhost:${port}`, headers: options.headers }, 5000);
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  };

  // A failed start (say, the proxy is not installed) is kept, not thrown: vitest
  // would report the tests as skipped; each of them fails with it instead.
  beforeAll(async () => {
    try {
      await setUp();
    } catch (error) {
      startError = error;
    }
  }, HOOK_TIMEOUT);

  const setUp = async (): Promise<void> => {
    requireProxy();
    dir = tempDir(name);
    // Readable by a proxy whose workers drop root (apache's www-data), whatever the umask.
    chmodSync(dir, 0o755);
    const root = join(dir, 'www');
    mkdirSync(root);
    chmodSync(root, 0o755);
    const index = join(root, 'index.html');
    writeFileSync(index, `<!doctype html><html><head><meta charset="utf-8"><title>${STATIC_TITLE}</title></head><body><p>static site served by ${name}</p></body></html>\n`);
    chmodSync(index, 0o644);
    const wssdPort = await freePort();
    // As docs/deploy/nginx.conf and docs/deploy/apache.conf start it, plus the whoami app, with permessage-deflate on:
    // the proxy passes the extension's headers and the compressed frames through untouched.
    wssd = await startWssd(['--plain', '--host', '127.0.0.1', '--port', String(wssdPort), '--path', '/wss', '--trust-proxy', '127.0.0.1,::1', '--deflate', '--app', writeWhoamiApp(dir)]);
    front = await start({ dir, root, wssdPort });
    daemon = front.daemon;
  };

  afterAll(async () => {
    // Each step on its own: one failing must not leave the others running.
    await shared.close();
    await daemon?.stop();
    wssd?.kill();
    removeDir(dir);
  }, HOOK_TIMEOUT);

  describe(`wssd behind ${name} (docs/deploy/${name}.conf)`, () => {
    it(
      'chromium: new WebSocket("wss://localhost:PORT/wss") opens, "tom" comes back as text, clean 1000 close, permessage-deflate negotiated through the proxy',
      async () => {
        const page = await sitePage();
        const result = await sendTom(page, `wss://localhost:${current().port}/wss`);
        expect(result.reply).toBe('tom');
        expect(result.replyType).toBe('string');
        // Chromium offers permessage-deflate; wssd (--deflate) accepts it, asking for client_no_context_takeover.
        expect(result.extensions).toBe('permessage-deflate; client_no_context_takeover');
        // The server's Close echoes the code (§5.5.1); echoing the reason is not required.
        expect(result.close).toMatchObject({ code: 1000, wasClean: true });
        await page.close();
      },
      E2E_TIMEOUT,
    );

    it(
      'chromium, permessage-deflate through the proxy: messages of 0 B, 1 KiB and 1 MiB, text and binary, come back intact',
      async () => {
        const page = await sitePage();
        const sizes = [0, 1024, 1024 * 1024];
        const result = await echoSizes(page, `wss://localhost:${current().port}/wss`, sizes);
        expect(result.extensions).toBe('permessage-deflate; client_no_context_takeover');
        expect(result.echoes).toEqual(sizes.map((size) => ({ size, text: true, binary: true })));
        expect(result.close).toMatchObject({ code: 1000, wasClean: true });
        await page.close();
      },
      E2E_TIMEOUT,
    );

    it(
      'chromium: a 64 KiB binary message (ArrayBuffer) comes back byte for byte',
      async () => {
        const page = await sitePage();
        const result = await echoBinary(page, `wss://localhost:${current().port}/wss`, 64 * 1024);
        expect(result).toEqual({ type: '[object ArrayBuffer]', length: 65536, mismatches: 0, firstMismatch: -1 });
        await page.close();
      },
      E2E_TIMEOUT,
    );

    it(
      'chromium: a 1 MiB text message (ending in multi-byte UTF-8) comes back equal',
      async () => {
        const page = await sitePage();
        const result = await echoText(page, `wss://localhost:${current().port}/wss`, 1024 * 1024);
        expect(result).toEqual({ type: 'string', sentBytes: 1048576, receivedBytes: 1048576, equal: true });
        await page.close();
      },
      E2E_TIMEOUT,
    );

    it(
      `chromium over IPv6 (wss://[::1]:PORT/wss), ${name} to wssd over IPv4: wssd reports the browser's address ::1, peer 127.0.0.1`,
      async () => {
        const page = await sitePage();
        const me = await whoami<WhoAmI>(page, `wss://[::1]:${current().port}/wss`);
        expect(me.peerAddress, JSON.stringify(me)).toBe('127.0.0.1');
        expect(me.xForwardedFor, JSON.stringify(me)).toBe('::1');
        expect(me.xRealIp, JSON.stringify(me)).toBe('::1');
        expect(me.xForwardedProto, JSON.stringify(me)).toBe('https');
        expect(me.remoteAddress, JSON.stringify(me)).toBe('::1');
        await page.close();
      },
      E2E_TIMEOUT,
    );

    it(
      `a forged X-Forwarded-For (and X-Real-IP) from the client does not win: ${name} appends the real address, wssd takes the right-most untrusted entry`,
      async () => {
        // From 127.0.0.2, which is not a trusted proxy: from 127.0.0.1 the
        // client would be indistinguishable from the proxy itself.
        const client = await rawThroughProxy({ localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '203.0.113.9', 'X-Real-IP': '203.0.113.10' } });
        try {
          client.sendText('whoami');
          const frame = await client.readFrame(5000);
          expect(frame.opcode).toBe(Op.Text);
          const me = JSON.parse(frame.payload.toString('utf8')) as WhoAmI;
          expect(me.xForwardedFor, JSON.stringify(me)).toBe('203.0.113.9, 127.0.0.2');
          expect(me.xRealIp, JSON.stringify(me)).toBe('127.0.0.2');
          expect(me.peerAddress, JSON.stringify(me)).toBe('127.0.0.1');
          expect(me.remoteAddress, JSON.stringify(me)).toBe('127.0.0.2');
        } finally {
          client.destroy();
        }
      },
      E2E_TIMEOUT,
    );

    it(
      `a TLS 1.2-only client (WeChat mini-programs need TLS 1.2) upgrades through ${name} and gets its echo, over a cipher from the docs list`,
      async () => {
        const client = await rawThroughProxy({ maxVersion: 'TLSv1.2' });
        try {
          const socket = client.socket as tls.TLSSocket;
          expect(socket.getProtocol()).toBe('TLSv1.2');
          expect(socket.getCipher().name).toMatch(/^ECDHE-(RSA|ECDSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/);
          await expectEchoAndClose(client, 'tom over TLS 1.2');
        } finally {
          client.destroy();
        }
      },
      E2E_TIMEOUT,
    );

    it(
      `TLS 1.1 is refused by ${name} (the docs allow TLSv1.2 and TLSv1.3 only)`,
      async () => {
        // Node's client still speaks TLS 1.1 at SECLEVEL=0, so this failure is the server's refusal.
        const attempt = RawClient.connect({
          port: current().port,
          tls: true,
          tlsOptions: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
          timeoutMs: 5000,
        });
        await expect(attempt).rejects.toThrow(/protocol version|unsupported protocol/i);
      },
      E2E_TIMEOUT,
    );
  });

  return { front: current };
}
