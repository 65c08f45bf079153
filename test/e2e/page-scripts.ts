// JavaScript that runs inside chromium pages (via Page.evaluate): the
// browser's own WebSocket against wssd, directly or through a proxy. Every
// wait in here has its own deadline, so a failure names what it waited for;
// the deadlines are scaled by WSSD_TEST_TIMEOUT_FACTOR when the script is built.
import { scaled } from '../helpers/timeouts.js';
import type { Page } from './chromium.js';

/**
 * In-page helpers: wsOpen(url) resolves with an open WebSocket whose
 * messages queue in an inbox from construction on (none is lost between
 * two waits); wsNext(ws) takes the next one; wsClose(ws) runs the closing
 * handshake and reports the close event.
 */
const PRELUDE = String.raw`
const wsOpen = (url, ms = ${scaled(8000)}) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.inbox = [];
  ws.waiters = [];
  ws.closeEvent = null;
  ws.addEventListener('message', (e) => {
    const w = ws.waiters.shift();
    if (w) w.resolve(e.data); else ws.inbox.push(e.data);
  });
  ws.addEventListener('close', (e) => {
    ws.closeEvent = { code: e.code, reason: e.reason, wasClean: e.wasClean };
    for (const w of ws.waiters.splice(0)) w.reject(new Error('closed (' + e.code + ' ' + e.reason + ') while waiting for a message'));
  });
  const timer = setTimeout(() => { ws.close(); reject(new Error('no open event from ' + url + ' within ' + ms + ' ms')); }, ms);
  ws.addEventListener('open', () => { clearTimeout(timer); resolve(ws); });
  ws.addEventListener('close', (e) => { clearTimeout(timer); reject(new Error(url + ' closed before opening: code ' + e.code)); });
});
const wsNext = (ws, ms = ${scaled(10_000)}) => {
  if (ws.inbox.length > 0) return Promise.resolve(ws.inbox.shift());
  if (ws.closeEvent) return Promise.reject(new Error('closed (' + ws.closeEvent.code + ') before the next message'));
  return new Promise((resolve, reject) => {
    const w = {
      resolve: (d) => { clearTimeout(timer); resolve(d); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    };
    const timer = setTimeout(() => {
      ws.waiters.splice(ws.waiters.indexOf(w), 1);
      reject(new Error('no message within ' + ms + ' ms'));
    }, ms);
    ws.waiters.push(w);
  });
};
const wsClose = (ws, ms = ${scaled(5000)}) => new Promise((resolve) => {
  if (ws.closeEvent) return resolve(ws.closeEvent);
  const timer = setTimeout(() => resolve({ code: 'no close event within ' + ms + ' ms' }), ms);
  ws.addEventListener('close', () => { clearTimeout(timer); resolve(ws.closeEvent); });
  ws.close(1000, 'done');
});
`;

/** `body` (async code ending in a `return` of JSON) with the helpers in scope. */
export function inPage(body: string): string {
  return `(async () => {\n${PRELUDE}\n${body}\n})()`;
}

export interface TomResult {
  reply: string;
  replyType: string;
  extensions: string;
  protocol: string;
  close: { code: number | string; wasClean?: boolean };
}

/** The classic check: send "tom", expect "tom" back, then close cleanly. */
export function sendTom(page: Page, url: string): Promise<TomResult> {
  return page.evaluate<TomResult>(
    inPage(`
      const ws = await wsOpen(${JSON.stringify(url)});
      ws.send('tom');
      const reply = await wsNext(ws);
      const result = { reply: String(reply), replyType: typeof reply, extensions: ws.extensions, protocol: ws.protocol };
      result.close = await wsClose(ws);
      return result;`),
  );
}

export interface BinaryResult {
  type: string;
  length: number;
  mismatches: number;
  firstMismatch: number;
}

/** `size` bytes (a pattern that differs at every offset mod 251) as an ArrayBuffer, echoed back and compared byte for byte. */
export function echoBinary(page: Page, url: string, size: number): Promise<BinaryResult> {
  return page.evaluate<BinaryResult>(
    inPage(`
      const ws = await wsOpen(${JSON.stringify(url)});
      const sent = new Uint8Array(${size});
      for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >>> 8)) % 251;
      ws.send(sent.buffer);
      const reply = await wsNext(ws, ${scaled(20_000)});
      const type = Object.prototype.toString.call(reply);
      const got = reply instanceof ArrayBuffer ? new Uint8Array(reply) : new Uint8Array(0);
      let mismatches = 0, firstMismatch = -1;
      for (let i = 0; i < Math.max(got.length, sent.length); i++) {
        if (got[i] !== sent[i]) { mismatches++; if (firstMismatch < 0) firstMismatch = i; }
      }
      await wsClose(ws);
      return { type, length: got.length, mismatches, firstMismatch };`),
  );
}

export interface TextResult {
  type: string;
  sentBytes: number;
  receivedBytes: number;
  equal: boolean;
}

/**
 * A text message of exactly `bytes` UTF-8 bytes, ending in 2-, 3- and
 * 4-byte characters (so UTF-8 validation sees them wherever the frame and
 * TCP boundaries fall), echoed back and compared.
 */
export function echoText(page: Page, url: string, bytes: number): Promise<TextResult> {
  return page.evaluate<TextResult>(
    inPage(`
      const tail = 'é€😀';
      const unit = 'wssd e2e text 0123456789 ';
      const asciiLength = ${bytes} - new TextEncoder().encode(tail).length;
      const text = unit.repeat(Math.ceil(asciiLength / unit.length)).slice(0, asciiLength) + tail;
      const ws = await wsOpen(${JSON.stringify(url)});
      ws.send(text);
      const reply = await wsNext(ws, ${scaled(20_000)});
      await wsClose(ws);
      return {
        type: typeof reply,
        sentBytes: new TextEncoder().encode(text).length,
        receivedBytes: typeof reply === 'string' ? new TextEncoder().encode(reply).length : -1,
        equal: reply === text,
      };`),
  );
}

/** Sends "whoami" (see writeWhoamiApp) and returns wssd's answer, parsed. */
export function whoami<T>(page: Page, url: string): Promise<T> {
  return page
    .evaluate<string>(
      inPage(`
      const ws = await wsOpen(${JSON.stringify(url)});
      ws.send('whoami');
      const reply = await wsNext(ws);
      await wsClose(ws);
      return String(reply);`),
    )
    .then((text) => JSON.parse(text) as T);
}

export interface SizesResult {
  /** The negotiated extensions, as the browser reports them (ws.extensions). */
  extensions: string;
  /** For each size: text and binary came back equal. */
  echoes: { size: number; text: boolean; binary: boolean }[];
  close: { code: number | string; wasClean?: boolean };
}

/**
 * One connection: for each size, a compressible text message and a binary one
 * of that many bytes (0 B included), echoed back and compared. With
 * permessage-deflate negotiated both directions travel compressed.
 */
export function echoSizes(page: Page, url: string, sizes: readonly number[]): Promise<SizesResult> {
  return page.evaluate<SizesResult>(
    inPage(`
      const ws = await wsOpen(${JSON.stringify(url)});
      const echoes = [];
      for (const size of ${JSON.stringify(sizes)}) {
        const unit = '{"user":"ada","text":"the same words again"} ';
        const text = unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
        ws.send(text);
        const t = await wsNext(ws, ${scaled(20_000)});
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) bytes[i] = (i % 97) < 60 ? 65 : (i * 31) & 0xff;
        ws.send(bytes.buffer);
        const b = await wsNext(ws, ${scaled(20_000)});
        const got = b instanceof ArrayBuffer ? new Uint8Array(b) : null;
        let same = got !== null && got.length === size;
        for (let i = 0; same && i < size; i++) if (got[i] !== bytes[i]) same = false;
        echoes.push({ size, text: t === text, binary: same });
      }
      const extensions = ws.extensions;
      const close = await wsClose(ws);
      return { extensions, echoes, close };`),
  );
}
