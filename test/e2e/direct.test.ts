// Method 2: wssd terminates TLS itself (`node dist/server.js --port P --host
// 127.0.0.1`, the dev certificate). Chromium loads the demo page wssd serves
// on GET / and must see it connect, send "tom" and show the echo (with a
// screenshot kept in test-output/e2e/); the page connects to the first
// --path; examples/chat-app.mjs relays between two browser tabs and a raw
// client and refuses binary with 1003; what the browser sees of
// --max-payload (1009), of the heartbeat and of SIGTERM (1001); a TLS
// 1.2-only client is served.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type tls from 'node:tls';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { Op, RawClient, type Frame } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';
import { SharedBrowser, type Chromium, type Page } from './chromium.js';
import { echoSizes, inPage } from './page-scripts.js';
import { DEV_CERT_FILE, expectEchoAndClose, OUTPUT_DIR, ROOT, startWssd } from './support.js';

const E2E_TIMEOUT = scaled(60_000);

const processes: WssdProcess[] = [];
const shared = new SharedBrowser({ trustCertificates: [DEV_CERT_FILE] });
const browser = (): Promise<Chromium> => shared.get();

/** `node dist/server.js --host 127.0.0.1 --port <free> …extra`, with the dev certificate. */
async function wssd(extra: readonly string[] = []): Promise<number> {
  return (await wssdProcess(extra)).port;
}

async function wssdProcess(extra: readonly string[] = []): Promise<{ port: number; process: WssdProcess }> {
  const port = await freePort();
  const p = await startWssd(['--port', String(port), '--host', '127.0.0.1', ...extra]);
  processes.push(p);
  return { port, process: p };
}

/** Resolves with the close event of window[name] (a wsOpen socket), within `ms` (scaled). */
function closeEventOf(name: string, ms = 10_000): string {
  return inPage(`
    const ws = window[${JSON.stringify(name)}];
    return await new Promise((resolve, reject) => {
      if (ws.closeEvent) return resolve(ws.closeEvent);
      const timer = setTimeout(() => reject(new Error('no close event within ${scaled(ms)} ms')), ${scaled(ms)});
      ws.addEventListener('close', () => { clearTimeout(timer); resolve(ws.closeEvent); });
    });`);
}

let echoPort = 0;
let chatPort = 0;

let startError: unknown;

// A failed start is kept, not thrown (vitest would mark the tests skipped): the tests that need it fail with it.
beforeAll(async () => {
  try {
    echoPort = await wssd();
  } catch (error) {
    startError = error;
  }
}, scaled(30_000));

/** The port of the default echo wssd started in beforeAll. */
function echoServer(): number {
  if (echoPort === 0) throw new Error(`wssd did not start: ${startError instanceof Error ? startError.message : String(startError)}`);
  return echoPort;
}

afterAll(async () => {
  await shared.close();
  for (const p of processes.splice(0)) p.kill();
}, scaled(30_000));

interface PngInfo {
  width: number;
  height: number;
  /** How many different byte values the decompressed image data holds: 1–2 for a blank image. */
  distinctBytes: number;
}

/** Reads a PNG's IHDR and inflates its IDAT chunks; throws if it is no PNG. */
function pngInfo(png: Buffer): PngInfo {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!png.subarray(0, 8).equals(signature)) throw new Error('not a PNG (bad signature)');
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    at += 12 + length;
  }
  const pixels = inflateSync(Buffer.concat(idat));
  return { width, height, distinctBytes: new Set(pixels).size };
}

async function demoPage(port: number): Promise<Page> {
  const page = await (await browser()).open(`https://localhost:${port}/`);
  expect(await page.evaluate<string>('document.title')).toBe('wssd — WebSocket test');
  return page;
}

describe('wssd terminating TLS itself (method 2)', () => {
  it(
    'the demo page on https://localhost:PORT/ connects, sends "tom" and shows it back; a screenshot is kept in test-output/e2e/demo-page.png',
    async () => {
      const page = await demoPage(echoServer());
      const state = await page.waitFor<{ status: string; reply: string; url: string }>(
        `(() => {
          const s = { status: document.getElementById('status').textContent, reply: document.getElementById('reply').textContent, url: document.getElementById('url').textContent };
          return s.status === 'open' && s.reply === 'tom' ? s : null;
        })()`,
        10_000,
        'the demo page showing status "open" and reply "tom"',
      );
      expect(state).toEqual({ status: 'open', reply: 'tom', url: `wss://localhost:${echoPort}/` });
      const file = join(OUTPUT_DIR, 'demo-page.png');
      await page.screenshot(file);
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).size).toBeGreaterThan(5000);
      const png = pngInfo(readFileSync(file));
      expect(png.width).toBeGreaterThanOrEqual(300);
      expect(png.height).toBeGreaterThanOrEqual(200);
      // Text, a green "open", an input: far from a blank or one-colour image.
      expect(png.distinctBytes).toBeGreaterThan(20);
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'with --path /wss --path /other, the demo page connects to the first path, wss://localhost:PORT/wss',
    async () => {
      const port = await wssd(['--path', '/wss', '--path', '/other']);
      const page = await demoPage(port);
      const state = await page.waitFor<{ status: string; reply: string; url: string }>(
        `(() => {
          const s = { status: document.getElementById('status').textContent, reply: document.getElementById('reply').textContent, url: document.getElementById('url').textContent };
          return s.status === 'open' && s.reply === 'tom' ? s : null;
        })()`,
        10_000,
        'the demo page showing status "open" and reply "tom"',
      );
      expect(state.url).toBe(`wss://localhost:${port}/wss`);
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'examples/chat-app.mjs: a message typed into the demo page reaches a second tab and a raw client, and the second tab is heard back',
    async () => {
      const port = await wssd(['--app', join(ROOT, 'examples', 'chat-app.mjs')]);
      chatPort = port;
      // Tab A: the demo page, whose own connection joins the room (its "tom" is broadcast).
      const a = await demoPage(port);
      await a.waitFor<boolean>(`document.getElementById('status').textContent === 'open'`, 10_000, 'tab A open');
      // Tab B: a WebSocket of our own, kept on window for later evaluations.
      const b = await (await browser()).open(`https://localhost:${port}/`);
      await b.evaluate<string>(inPage(`window.chat = await wsOpen('wss://localhost:${port}/'); return 'open';`));
      const raw = await RawClient.connect({ port, tls: true, timeoutMs: 5000 });
      try {
        await raw.upgrade({ path: '/', host: `localhost:${port}` }, 5000);
        /** Frames until one whose text includes `needle` (chat traffic from the others comes in between). */
        const rawUntil = async (needle: string): Promise<string> => {
          const frames = await raw.readFramesUntil(
            (frame) => {
              expect(frame.opcode).toBe(Op.Text);
              return frame.payload.toString('utf8').includes(needle);
            },
            10_000,
            `a text frame with ${JSON.stringify(needle)}`,
          );
          return (frames.pop() as Frame).payload.toString('utf8');
        };

        // A types into the demo page's form and sends.
        await a.evaluate<boolean>(`(() => { document.getElementById('text').value = 'hello from tab A'; document.getElementById('form').requestSubmit(); return true; })()`);
        const inB = await b.evaluate<string>(
          inPage(`
            for (;;) {
              const m = await wsNext(window.chat, ${scaled(10_000)});
              if (typeof m === 'string' && m.includes('hello from tab A')) return m;
            }`),
        );
        expect(inB).toMatch(/^127\.0\.0\.1:\d+: hello from tab A$/);
        expect(await rawUntil('hello from tab A')).toBe(inB);

        // B answers; A's log shows it, and so does the raw client.
        await b.evaluate<boolean>(`(window.chat.send('hello from tab B'), true)`);
        const logLine = await a.waitFor<string>(
          `document.getElementById('log').textContent.split('\\n').find((l) => l.includes('hello from tab B')) ?? null`,
          10_000,
          "tab A's log showing B's message",
        );
        expect(logLine).toMatch(/^< 127\.0\.0\.1:\d+: hello from tab B$/);
        expect(await rawUntil('hello from tab B')).toMatch(/^127\.0\.0\.1:\d+: hello from tab B$/);

        // The raw client talks too: both tabs hear it.
        raw.sendText('hello from the raw client');
        await a.waitFor<boolean>(`document.getElementById('log').textContent.includes('hello from the raw client')`, 10_000, "tab A's log showing the raw client's message");
        const inB2 = await b.evaluate<string>(
          inPage(`
            for (;;) {
              const m = await wsNext(window.chat, ${scaled(10_000)});
              if (typeof m === 'string' && m.includes('hello from the raw client')) return m;
            }`),
        );
        expect(inB2).toBe(`127.0.0.1:${raw.socket.localPort}: hello from the raw client`);
      } finally {
        raw.destroy();
        await a.close();
        await b.close();
      }
    },
    E2E_TIMEOUT,
  );

  it(
    'examples/chat-app.mjs: a binary message from the browser is refused with Close 1003 "text only"',
    async () => {
      const port = chatPort !== 0 ? chatPort : await wssd(['--app', join(ROOT, 'examples', 'chat-app.mjs')]);
      const page = await demoPage(port);
      await page.evaluate<string>(inPage(`window.chat = await wsOpen('wss://localhost:${port}/'); window.chat.send(new Uint8Array([1, 2, 3])); return 'sent';`));
      expect(await page.evaluate<{ code: number; reason: string; wasClean: boolean }>(closeEventOf('chat'))).toEqual({ code: 1003, reason: 'text only', wasClean: true });
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'permessage-deflate: without --deflate chromium\'s offer is declined; with it, negotiated, and messages of 0 B, 1 KiB and 1 MiB come back intact',
    async () => {
      const sizes = [0, 1024, 1024 * 1024];
      const off = await demoPage(echoServer());
      expect((await echoSizes(off, `wss://localhost:${echoPort}/`, [1024])).extensions).toBe('');
      await off.close();
      const port = await wssd(['--deflate']);
      const page = await demoPage(port);
      const result = await echoSizes(page, `wss://localhost:${port}/`, sizes);
      // Chromium offers "permessage-deflate; client_max_window_bits"; wssd asks it not to keep its window (docs/guides/compression.md).
      expect(result.extensions).toBe('permessage-deflate; client_no_context_takeover');
      expect(result.echoes).toEqual(sizes.map((size) => ({ size, text: true, binary: true })));
      expect(result.close).toMatchObject({ code: 1000, wasClean: true });
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'a message over --max-payload from the browser gets Close 1009 (RFC 6455 §7.4.1)',
    async () => {
      const port = await wssd(['--max-payload', '1024']);
      const page = await demoPage(port);
      const fits = await page.evaluate<string>(
        inPage(`window.big = await wsOpen('wss://localhost:${port}/'); window.big.send('x'.repeat(1024)); return String((await wsNext(window.big)).length);`),
      );
      expect(fits).toBe('1024');
      await page.evaluate<boolean>(`(window.big.send('x'.repeat(1025)), true)`);
      expect(await page.evaluate<{ code: number }>(closeEventOf('big'))).toMatchObject({ code: 1009 });
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'heartbeat: with --ping-interval 500 --ping-timeout 500, wssd pings and an idle chromium connection answers them, staying open for 3 s',
    async () => {
      const port = await wssd(['--ping-interval', '500', '--ping-timeout', '500']);
      // The raw client shows that pings are sent at all (it does not answer them).
      const raw = await RawClient.connect({ port, tls: true, timeoutMs: 5000 });
      try {
        await raw.upgrade({ path: '/', host: `localhost:${port}` }, 5000);
        expect((await raw.readFrame(3000)).opcode).toBe(Op.Ping);
      } finally {
        raw.destroy();
      }
      const page = await demoPage(port);
      const after = await page.evaluate<{ readyState: number; closeEvent: unknown; echo: string }>(
        inPage(`
          const ws = await wsOpen('wss://localhost:${port}/');
          // A window, not a wait for an event: the test shows that nothing closes the
          // connection over several ping cycles (500 ms interval + 500 ms timeout).
          await new Promise((r) => setTimeout(r, ${1000 + scaled(2000)}));
          const state = { readyState: ws.readyState, closeEvent: ws.closeEvent };
          ws.send('still here');
          state.echo = String(await wsNext(ws));
          await wsClose(ws);
          return state;`),
      );
      expect(after).toEqual({ readyState: 1, closeEvent: null, echo: 'still here' });
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'SIGTERM: the browser sees Close 1001 (going away) and wssd exits 0',
    async () => {
      const { port, process: victim } = await wssdProcess();
      const page = await demoPage(port);
      await page.evaluate<string>(inPage(`window.doomed = await wsOpen('wss://localhost:${port}/'); return 'open';`));
      victim.child.kill('SIGTERM');
      expect(await page.evaluate<{ code: number; wasClean: boolean }>(closeEventOf('doomed'))).toMatchObject({ code: 1001, wasClean: true });
      // The demo page's own connection went the same way, and says so.
      await page.waitFor<boolean>(`document.getElementById('status').textContent === 'closed (1001)'`, 5000, 'the demo page showing "closed (1001)"');
      expect(await victim.exited(10_000)).toEqual({ code: 0, signal: null });
      await page.close();
    },
    E2E_TIMEOUT,
  );

  it(
    'a TLS 1.2-only client (WeChat mini-programs need TLS 1.2) connects straight to wssd, upgrades and gets its echo',
    async () => {
      const client = await RawClient.connect({ port: echoServer(), tls: true, tlsOptions: { maxVersion: 'TLSv1.2' }, timeoutMs: 5000 });
      try {
        const socket = client.socket as tls.TLSSocket;
        expect(socket.getProtocol()).toBe('TLSv1.2');
        await client.upgrade({ path: '/', host: `localhost:${echoPort}` }, 5000);
        await expectEchoAndClose(client, 'tom over TLS 1.2');
      } finally {
        client.destroy();
      }
    },
    E2E_TIMEOUT,
  );
});
