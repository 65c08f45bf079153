// A deliberately small, hand-written WebSocket test client for the
// integration tier. It shares no code with src/: its own frame parser, its
// own masker, its own Sec-WebSocket-Accept computation. Tests use it to put
// arbitrary bytes on the wire (broken handshakes, unmasked or oversized
// frames, bad close codes) and to read exactly what the server answered, in
// order, down to the TCP close. Every timeoutMs here is nominal: the waits
// scale it by WSSD_TEST_TIMEOUT_FACTOR (./timeouts.ts).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describeMs, scaled } from './timeouts.js';

export const CERTS_DIR = fileURLToPath(new URL('../../certs/', import.meta.url));
/** The CA that signed certs/dev-cert.pem; test clients trust it instead of disabling verification. */
export const DEV_CA = readFileSync(`${CERTS_DIR}dev-ca.pem`);

/** RFC 6455 §1.3. Written out here on purpose: the tests must not borrow src's constant. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Op = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

/** §4.2.2 step 5.4, computed independently of src/http/handshake.ts. */
export function expectedAccept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export function randomKey(): string {
  return randomBytes(16).toString('base64');
}

export interface RequestOptions {
  path?: string;
  host?: string;
  key?: string;
  version?: string;
  /** Extra header lines, e.g. { 'Sec-WebSocket-Protocol': 'a, b' }. */
  headers?: Record<string, string>;
}

/** A valid §4.1 opening handshake, as text. */
export function upgradeRequest(options: RequestOptions = {}): string {
  const lines = [
    `GET ${options.path ?? '/'} HTTP/1.1`,
    `Host: ${options.host ?? 'localhost'}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${options.key ?? randomKey()}`,
    `Sec-WebSocket-Version: ${options.version ?? '13'}`,
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** XOR with a 4-byte key (§5.3); a plain loop, independent of src/protocol/mask.ts. */
export function applyMask(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ key[i & 3];
  return out;
}

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** Default true. */
  fin?: boolean;
  /** The three RSV bits as a number 0–7 (4 = RSV1). Default 0. */
  rsv?: number;
  /** true (default): a random key; a Buffer: that key; false: unmasked. */
  mask?: boolean | Buffer;
  /** How the length is encoded; 'auto' is the minimal form. */
  lengthForm?: 'auto' | '7' | '16' | '64';
  /** Announce this length instead of the payload's (to send a header alone, or lie). */
  announcedLength?: number | bigint;
}

/** Builds one client frame (§5.2) exactly as specified, legal or not. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? Buffer.alloc(0));
  const length = spec.announcedLength ?? payload.length;
  const n = BigInt(length);
  let form = spec.lengthForm ?? 'auto';
  if (form === 'auto') form = n < 126n ? '7' : n < 0x10000n ? '16' : '64';
  const maskKey = spec.mask === false ? undefined : Buffer.isBuffer(spec.mask) ? spec.mask : randomBytes(4);
  const extended = form === '7' ? 0 : form === '16' ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (maskKey ? 4 : 0));
  header[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const maskBit = maskKey ? 0x80 : 0;
  if (form === '7') {
    header[1] = maskBit | Number(n & 0x7fn);
  } else if (form === '16') {
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(n & 0xffffn), 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt.asUintN(64, n), 2);
  }
  if (maskKey === undefined) return Buffer.concat([header, payload]);
  maskKey.copy(header, 2 + extended);
  return Buffer.concat([header, applyMask(payload, maskKey)]);
}

/** A Close payload: code (2 bytes) and reason. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export interface CloseInfo {
  /** undefined when the Close frame had no payload. */
  code: number | undefined;
  reason: string;
  /** Frames that came before the Close. */
  before: Frame[];
}

export interface HttpResponse {
  httpVersion: string;
  status: number;
  statusText: string;
  /** Lower-cased names; a repeated field keeps its last value. */
  headers: Record<string, string>;
  head: string;
  body: Buffer;
}

export interface ConnectOptions {
  port: number;
  host?: string;
  tls: boolean;
  /** Extra options for tls.connect (versions, ciphers, ALPN…). */
  tlsOptions?: tls.ConnectionOptions;
  /** Nominal; scaled by WSSD_TEST_TIMEOUT_FACTOR. */
  timeoutMs?: number;
}

export class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private isClosed = false;
  /** The last socket error, if any (a reset is normal when a server drops us). */
  error: Error | undefined;
  private notify: (() => void) | undefined;
  private readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.notify?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify?.();
    });
    socket.on('error', (error) => {
      this.error = error;
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.isClosed = true;
        this.notify?.();
        resolve();
      });
    });
  }

  /** Opens TCP (and TLS, trusting certs/dev-ca.pem for "localhost") to the server. */
  static connect(options: ConnectOptions): Promise<RawClient> {
    const host = options.host ?? '127.0.0.1';
    const timeoutMs = options.timeoutMs ?? 3000;
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ host, port: options.port, servername: 'localhost', ca: DEV_CA, ...options.tlsOptions })
        : net.connect({ host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${options.port} timed out after ${describeMs(timeoutMs)}`));
      }, scaled(timeoutMs));
      const onError = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', onError);
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      });
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes received and not yet consumed by a read. */
  get pending(): number {
    return this.buffered;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  send(spec: FrameSpec): void {
    this.write(encodeFrame(spec));
  }

  sendText(text: string | Buffer, fin = true): void {
    this.send({ opcode: Op.Text, payload: text, fin });
  }

  sendBinary(bytes: Buffer, fin = true): void {
    this.send({ opcode: Op.Binary, payload: bytes, fin });
  }

  sendClose(code?: number, reason: Buffer | string = ''): void {
    this.send({ opcode: Op.Close, payload: code === undefined ? Buffer.alloc(0) : closePayload(code, reason) });
  }

  /** Sends a valid upgrade request and checks the 101 (status, Upgrade, Connection, Accept). */
  async upgrade(options: RequestOptions = {}, timeoutMs = 3000): Promise<HttpResponse> {
    const key = options.key ?? randomKey();
    this.write(upgradeRequest({ ...options, key }));
    const response = await this.readResponse(timeoutMs);
    if (response.status !== 101) {
      throw new Error(`expected 101, got ${response.status}: ${response.body.toString('utf8').trim()}`);
    }
    if (response.headers['sec-websocket-accept'] !== expectedAccept(key)) {
      throw new Error(`wrong Sec-WebSocket-Accept ${response.headers['sec-websocket-accept']} for key ${key}`);
    }
    return response;
  }

  /** Reads an HTTP response head and, when Content-Length says so, its body. */
  readResponse(timeoutMs = 3000): Promise<HttpResponse> {
    return this.waitFor('an HTTP response', timeoutMs, () => {
      const all = this.peekAll();
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const head = all.subarray(0, end).toString('latin1');
      const [statusLine, ...fieldLines] = head.split('\r\n');
      const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
      if (!m) throw new Error(`malformed status line ${JSON.stringify(statusLine)}`);
      const headers: Record<string, string> = {};
      for (const line of fieldLines) {
        const colon = line.indexOf(':');
        if (colon < 0) throw new Error(`malformed response header ${JSON.stringify(line)}`);
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(m[2]);
      const bodyLength = headers['content-length'] !== undefined ? Number(headers['content-length']) : 0;
      if (all.length < end + 4 + bodyLength) {
        if (this.ended) throw new Error(`connection ended inside a ${bodyLength}-byte response body`);
        return undefined;
      }
      this.consume(end + 4);
      const body = this.take(bodyLength);
      return { httpVersion: m[1], status, statusText: m[3], headers, head, body };
    });
  }

  /** Reads the next server frame, checking nothing about it. */
  readFrame(timeoutMs = 3000): Promise<Frame> {
    return this.waitFor('a frame', timeoutMs, () => this.parseFrame());
  }

  /**
   * Reads frames in order, passing each to `until`, and resolves with all of
   * them once `until` returns true for one. Rejects when the connection ends
   * first, when `until` throws, or after timeoutMs for the whole read.
   */
  readFramesUntil(until: (frame: Frame) => boolean, timeoutMs = 3000, what = 'the frame awaited'): Promise<Frame[]> {
    const frames: Frame[] = [];
    return this.waitFor(what, timeoutMs, () => {
      for (let f = this.parseFrame(); f !== undefined; f = this.parseFrame()) {
        frames.push(f);
        if (until(f)) return frames;
      }
      return undefined;
    });
  }

  /** Reads frames until a Close; returns its code and reason and what came before it. */
  async readClose(timeoutMs = 3000): Promise<CloseInfo> {
    const frames = await this.readFramesUntil((f) => f.opcode === Op.Close, timeoutMs, 'a Close frame');
    const close = frames.pop() as Frame;
    if (close.payload.length === 0) return { code: undefined, reason: '', before: frames };
    return { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString('utf8'), before: frames };
  }

  /** Resolves once the TCP connection is closed; rejects after timeoutMs. */
  waitClosed(timeoutMs = 3000): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`TCP connection still open after ${describeMs(timeoutMs)} (${this.buffered} unread bytes)`)),
        scaled(timeoutMs),
      );
      void this.closedPromise.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Waits for the TCP close and returns every frame that arrived before it,
   * so a test can assert that nothing (or exactly what) came first.
   */
  async framesUntilClosed(timeoutMs = 3000): Promise<Frame[]> {
    await this.waitClosed(timeoutMs);
    const frames: Frame[] = [];
    for (let f = this.parseFrame(); f !== undefined; f = this.parseFrame()) frames.push(f);
    if (this.buffered > 0) throw new Error(`${this.buffered} trailing bytes that are not a whole frame`);
    return frames;
  }

  /** Ends our side (FIN) without destroying. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parseFrame(): Frame | undefined {
    if (this.buffered < 2) return undefined;
    const h = this.peek(Math.min(this.buffered, 14));
    const len7 = h[1] & 0x7f;
    const masked = (h[1] & 0x80) !== 0;
    const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerLength = 2 + extended + (masked ? 4 : 0);
    if (h.length < headerLength) return undefined;
    let length: number;
    if (len7 === 126) length = h.readUInt16BE(2);
    else if (len7 === 127) length = Number(h.readBigUInt64BE(2));
    else length = len7;
    if (this.buffered < headerLength + length) return undefined;
    const maskKey = masked ? Buffer.from(h.subarray(2 + extended, headerLength)) : undefined;
    const frame = {
      fin: (h[0] & 0x80) !== 0,
      rsv: (h[0] >> 4) & 7,
      opcode: h[0] & 0x0f,
      masked,
    };
    this.consume(headerLength);
    const raw = this.take(length);
    return { ...frame, payload: maskKey ? applyMask(raw, maskKey) : raw };
  }

  /** The one bounded wait under every read: timeoutMs is nominal and scaled here. */
  private waitFor<T>(what: string, timeoutMs: number, parse: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.notify = undefined;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${describeMs(timeoutMs)} waiting for ${what} (${this.buffered} bytes buffered)`));
      }, scaled(timeoutMs));
      const attempt = (): void => {
        let result: T | undefined;
        try {
          result = parse();
        } catch (error) {
          finish();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (result !== undefined) {
          finish();
          resolve(result);
        } else if (this.ended) {
          finish();
          reject(new Error(`connection closed while waiting for ${what} (${this.buffered} bytes buffered)`));
        } else {
          this.notify = attempt;
        }
      };
      attempt();
    });
  }

  /** All buffered bytes as one Buffer (joins the chunks once). */
  private peekAll(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private peek(n: number): Buffer {
    if (this.chunks.length > 0 && this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    return this.peekAll().subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    let out = first.subarray(0, n);
    if (first.length < n) {
      const parts: Buffer[] = [];
      let need = n;
      let i = 0;
      while (need > 0) {
        const c = this.chunks[i++];
        parts.push(c.length <= need ? c : c.subarray(0, need));
        need -= Math.min(c.length, need);
      }
      out = Buffer.concat(parts, n);
    }
    this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0];
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}
