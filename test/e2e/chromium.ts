// A minimal Chrome DevTools Protocol driver for the e2e tier: Debian's
// chromium, headless, spoken to over --remote-debugging-pipe (fd 3: our
// commands, fd 4: its answers and events, JSON messages ending in '\0').
// Node 20 has no WebSocket client, and the pipe needs none. Only what the
// tests use: open a page, wait for its load, evaluate (awaiting promises),
// screenshot.
//
// Certificates: chromium accepts the dev leaf by its public key, passed in
// --ignore-certificate-errors-spki-list (honoured headless because
// --user-data-dir is set), so no NSS database (certutil) is needed. Only
// certificates with that key are excused: without the flag the same page
// fails with net::ERR_CERT_AUTHORITY_INVALID, and so would any other server.
//
// Every timeoutMs here is nominal: send() and waitForEvent() scale it by
// WSSD_TEST_TIMEOUT_FACTOR, and so do the in-page waits of page-scripts.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { eventually } from '../helpers/poll.js';
import { describeMs, scaled } from '../helpers/timeouts.js';
import { requireTool, waitForExit } from './support.js';

export const CHROMIUM = '/usr/bin/chromium';

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of the first certificate in a PEM file: what the SPKI flag wants. */
export function spkiHash(pemFile: string): string {
  const leaf = new X509Certificate(readFileSync(pemFile));
  const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface CdpMessage {
  id?: number;
  method?: string;
  params?: JsonObject;
  result?: JsonObject;
  error?: { code: number; message: string };
  sessionId?: string;
}

interface Pending {
  resolve: (result: JsonObject) => void;
  reject: (error: Error) => void;
  method: string;
}

interface RemoteObject {
  type: string;
  subtype?: string;
  value?: Json;
  description?: string;
  unserializableValue?: string;
}

interface ExceptionDetails {
  text: string;
  exception?: RemoteObject;
  lineNumber?: number;
}

export interface LaunchOptions {
  /** PEM files whose leaf certificate chromium must accept (by SPKI pin). */
  trustCertificates?: readonly string[];
  /** Bound on the start until the first CDP answer. */
  timeoutMs?: number;
}

export class Chromium {
  private readonly child: ChildProcess;
  private readonly toChrome: Writable;
  private readonly profile: string;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(message: CdpMessage) => void>();
  private readonly stderrTail: string[] = [];
  private exited = false;

  private constructor(child: ChildProcess, profile: string) {
    this.child = child;
    this.profile = profile;
    this.toChrome = child.stdio[3] as Writable;
    const fromChrome = child.stdio[4] as Readable;
    // Writes after chromium died must fail the command, not crash the worker.
    this.toChrome.on('error', () => {});
    let partial: Buffer = Buffer.alloc(0);
    fromChrome.on('data', (chunk: Buffer) => {
      partial = partial.length === 0 ? chunk : Buffer.concat([partial, chunk]);
      let zero: number;
      while ((zero = partial.indexOf(0)) >= 0) {
        const text = partial.subarray(0, zero).toString('utf8');
        partial = partial.subarray(zero + 1);
        this.dispatch(JSON.parse(text) as CdpMessage);
      }
    });
    fromChrome.on('error', () => {});
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim() !== ''));
      if (this.stderrTail.length > 40) this.stderrTail.splice(0, this.stderrTail.length - 40);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`chromium exited (code ${code}, signal ${signal}); its stderr ended with:\n${this.stderr()}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
  }

  /** Starts chromium; fails with the apt package to install when it is missing. */
  static async launch(options: LaunchOptions = {}): Promise<Chromium> {
    requireTool(CHROMIUM, 'chromium');
    const profile = mkdtempSync(join(tmpdir(), 'wssd-e2e-chromium-'));
    const spki = (options.trustCertificates ?? []).map(spkiHash);
    const args = [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--disable-dev-shm-usage',
      '--window-size=1000,700',
      `--user-data-dir=${profile}`,
      '--remote-debugging-pipe',
      ...(spki.length > 0 ? [`--ignore-certificate-errors-spki-list=${spki.join(',')}`] : []),
      'about:blank',
    ];
    // HOME too: chromium must not touch the real ~/.pki or ~/.config.
    const child = spawn(CHROMIUM, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: profile },
      detached: true,
    });
    const browser = new Chromium(child, profile);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) => reject(new Error(`cannot start ${CHROMIUM}: ${error.message}`)));
    });
    try {
      await spawned;
      const version = await browser.send('Browser.getVersion', {}, undefined, options.timeoutMs ?? 20_000);
      if (typeof version['product'] !== 'string') throw new Error('chromium answered Browser.getVersion without a product');
    } catch (error) {
      await browser.close();
      throw error;
    }
    return browser;
  }

  stderr(): string {
    return this.stderrTail.join('\n');
  }

  private dispatch(message: CdpMessage): void {
    if (message.id !== undefined) {
      const p = this.pending.get(message.id);
      if (p === undefined) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) p.reject(new Error(`${p.method}: ${message.error.message} (CDP ${message.error.code})`));
      else p.resolve(message.result ?? {});
      return;
    }
    for (const listener of [...this.listeners]) listener(message);
  }

  /** One CDP command; `sessionId` addresses a page attached with flatten: true. */
  send(method: string, params: JsonObject = {}, sessionId?: string, timeoutMs = 15_000): Promise<JsonObject> {
    if (this.exited) return Promise.reject(new Error(`chromium is not running (${method}); stderr:\n${this.stderr()}`));
    const id = this.nextId++;
    const message: CdpMessage = { id, method, params, ...(sessionId !== undefined ? { sessionId } : {}) };
    return new Promise<JsonObject>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from chromium within ${describeMs(timeoutMs)}`));
      }, scaled(timeoutMs));
      this.pending.set(id, {
        method,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.toChrome.write(JSON.stringify(message) + '\0');
    });
  }

  /** Resolves with the params of the first event `method` (for `sessionId`) that satisfies `accept`. */
  waitForEvent(method: string, sessionId: string | undefined, timeoutMs: number, accept: (params: JsonObject) => boolean = () => true): Promise<JsonObject> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${method} event within ${describeMs(timeoutMs)}`));
      }, scaled(timeoutMs));
      const listener = (m: CdpMessage): void => {
        if (m.method !== method || m.sessionId !== sessionId) return;
        const params = m.params ?? {};
        if (!accept(params)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(params);
      };
      this.listeners.add(listener);
    });
  }

  /** A new tab showing `url`, once its load event fired; rejects if the navigation failed (e.g. a certificate error). */
  async open(url: string, timeoutMs = 20_000): Promise<Page> {
    const created = await this.send('Target.createTarget', { url: 'about:blank' });
    const targetId = String(created['targetId']);
    const attached = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, targetId, String(attached['sessionId']));
    try {
      await page.navigate(url, timeoutMs);
    } catch (error) {
      await page.close();
      throw error;
    }
    return page;
  }

  /** Closes the browser (Browser.close, then SIGKILL to its process group), and removes the profile. Never throws. */
  async close(): Promise<void> {
    if (!this.exited) {
      try {
        await this.send('Browser.close', {}, undefined, 3000);
      } catch {
        // Killed below.
      }
      if (!(await waitForExit(this.child, 5000))) {
        killGroup(this.child);
        await waitForExit(this.child, 5000);
      }
    }
    // Renderers and the zygote share the group; none may outlive the test.
    killGroup(this.child);
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * One browser for a test file: launched when first asked for (so tests that
 * need none run without chromium), closed by close() in afterAll, which
 * never throws.
 */
export class SharedBrowser {
  private launching: Promise<Chromium> | undefined;

  constructor(private readonly options: LaunchOptions = {}) {}

  get(): Promise<Chromium> {
    this.launching ??= Chromium.launch(this.options);
    return this.launching;
  }

  async close(): Promise<void> {
    const closing = this.launching;
    this.launching = undefined;
    await closing?.then(
      (b) => b.close(),
      () => undefined,
    );
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export class Page {
  private readonly browser: Chromium;
  readonly targetId: string;
  readonly sessionId: string;

  constructor(browser: Chromium, targetId: string, sessionId: string) {
    this.browser = browser;
    this.targetId = targetId;
    this.sessionId = sessionId;
  }

  send(method: string, params: JsonObject = {}, timeoutMs?: number): Promise<JsonObject> {
    return this.browser.send(method, params, this.sessionId, timeoutMs);
  }

  async navigate(url: string, timeoutMs = 20_000): Promise<void> {
    await this.send('Page.enable');
    const loaded = this.browser.waitForEvent('Page.loadEventFired', this.sessionId, timeoutMs);
    // Not left unhandled if navigate fails first.
    loaded.catch(() => {});
    const result = await this.send('Page.navigate', { url }, timeoutMs);
    if (typeof result['errorText'] === 'string') {
      throw new Error(`chromium could not load ${url}: ${result['errorText']}`);
    }
    await loaded;
  }

  /**
   * Evaluates `expression` in the page, awaiting a promise it returns, and
   * gives back its JSON value (T is the caller's word for its shape). A
   * thrown error or rejection becomes an Error here, with the page's message.
   */
  async evaluate<T>(expression: string, timeoutMs = 20_000): Promise<T> {
    const result = await this.send(
      'Runtime.evaluate',
      { expression, awaitPromise: true, returnByValue: true, userGesture: true },
      timeoutMs + 2000,
    );
    const details = result['exceptionDetails'] as unknown as ExceptionDetails | undefined;
    if (details !== undefined) {
      const what = details.exception?.description ?? details.exception?.value ?? details.text;
      throw new Error(`in the page: ${String(what)}`);
    }
    const remote = result['result'] as unknown as RemoteObject;
    return (remote.value ?? null) as T;
  }

  /** Polls `expression` (each evaluation quick) until it is truthy; returns that value. */
  async waitFor<T>(expression: string, timeoutMs = 10_000, what = expression): Promise<T> {
    let last: T | undefined;
    return eventually(
      async () => {
        last = await this.evaluate<T>(expression, 5000);
        return last !== null && last !== undefined && last !== false && last !== '' && last !== 0 ? last : undefined;
      },
      timeoutMs,
      () => `${what} (still ${JSON.stringify(last)})`,
      100,
    );
  }

  /** A PNG of the viewport, written to `file` (its directory created); returns the bytes. */
  async screenshot(file: string): Promise<Buffer> {
    const shot = await this.send('Page.captureScreenshot', { format: 'png' });
    const png = Buffer.from(String(shot['data']), 'base64');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, png);
    return png;
  }

  async close(): Promise<void> {
    await this.browser.send('Target.closeTarget', { targetId: this.targetId }).catch(() => undefined);
  }
}
