// The load client of the end-to-end cases: hand-written, in the bench's own
// process, so that it spends as little as it can per message and nothing of
// wssd's Connection is on both sides of the wire. It connects over TLS (the
// dev CA trusted, SNI "localhost") or TCP, does the opening handshake itself
// for wssd, keeps a window of messages in flight per connection, checks every
// echo byte for byte and records each message's round-trip time.
//
// As RFC 6455 §5.3 requires of a client, its frames are masked; each
// connection's frame is built (and masked) once and its bytes re-sent, which
// costs the client nothing per message — the server still unmasks each one.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Opcode } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { headerSize, writeHeader, frameHead } from '../../src/protocol/frame-encoder.js';
import { maskReference } from '../../src/protocol/mask.js';

export interface Target {
  port: number;
  /** TLS with `ca` trusted, or plain TCP. */
  tls: boolean;
  /** wssd: do the opening handshake and speak frames; a bare echo: raw bytes. */
  websocket: boolean;
  ca: Buffer;
}

// One client context per CA: passing `ca` to tls.connect would build a new
// context (parse the PEM, fill an X509 store) for every connection, which
// costs the client more than the whole handshake.
const contexts = new Map<Buffer, tls.SecureContext>();
export function clientContext(ca: Buffer): tls.SecureContext {
  let context = contexts.get(ca);
  if (context === undefined) {
    context = tls.createSecureContext({ ca });
    contexts.set(ca, context);
  }
  return context;
}

const HOST = '127.0.0.1';
const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` (and runs `onTimeout`) unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A client frame (FIN set), masked with `mask` (§5.3), in one buffer. */
export function maskedFrame(opcode: number, payload: Buffer, mask: Buffer): Buffer {
  const hl = headerSize(payload.length);
  const frame = Buffer.allocUnsafe(hl + 4 + payload.length);
  writeHeader(frame, 0, frameHead(opcode, true), payload.length);
  frame[1] |= 0x80;
  mask.copy(frame, hl, 0, 4);
  payload.copy(frame, hl + 4);
  maskReference(frame, mask, hl + 4, frame.length);
  return frame;
}

/** A masked Close frame with status 1000 (§5.5.1). */
export function closeFrame(): Buffer {
  const payload = Buffer.from([0x03, 0xe8]);
  return maskedFrame(Opcode.Close, payload, randomBytes(4));
}

/** TCP (and TLS) connect; resolves once the TLS handshake is done. */
export function connect(target: Target, timeoutMs = 10_000): Promise<net.Socket> {
  const socket = target.tls
    ? tls.connect({ host: HOST, port: target.port, secureContext: clientContext(target.ca), servername: 'localhost', ALPNProtocols: ['http/1.1'] })
    : net.connect({ host: HOST, port: target.port });
  socket.setNoDelay(true);
  const ready = new Promise<net.Socket>((resolve, reject) => {
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      // Until a user of the socket listens for errors, an error just ends it (its 'close' tells).
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
  return withTimeout(ready, timeoutMs, `connect to port ${target.port}`, () => socket.destroy());
}

/**
 * The client's opening handshake (§4.1): sends the upgrade request, reads the
 * response head, checks the 101 and Sec-WebSocket-Accept. Leaves the socket
 * paused; returns any bytes that came after the head.
 */
export function upgrade(socket: net.Socket, port: number, timeoutMs = 10_000, path = '/'): Promise<Buffer> {
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const done = new Promise<Buffer>((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, rest?: Buffer): void => {
      socket.off('data', onData);
      socket.off('error', finish);
      socket.off('end', onEnd);
      if (error !== undefined) reject(error);
      else resolve(rest ?? Buffer.alloc(0));
    };
    const onEnd = (): void => finish(new Error('connection ended during the handshake'));
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16 * 1024) finish(new Error('response head over 16 KiB'));
        return;
      }
      // Whatever follows is the first frames: hold it until the caller listens.
      socket.pause();
      const text = head.subarray(0, end).toString('latin1');
      const lines = text.split('\r\n');
      if (!/^HTTP\/1\.1 101 /.test(lines[0])) return finish(new Error(`handshake refused: ${lines[0]}`));
      const got = lines.find((l) => l.toLowerCase().startsWith('sec-websocket-accept:'));
      if (got === undefined || got.slice(got.indexOf(':') + 1).trim() !== accept) return finish(new Error('wrong Sec-WebSocket-Accept'));
      finish(undefined, head.subarray(end + 4));
    };
    socket.on('data', onData);
    socket.on('error', finish);
    socket.on('end', onEnd);
  });
  return withTimeout(done, timeoutMs, 'opening handshake', () => socket.destroy());
}

/** Connect, and for wssd upgrade; resolves with the socket (paused) and any bytes past the 101. */
export async function open(target: Target, timeoutMs = 10_000, path = '/'): Promise<{ socket: net.Socket; rest: Buffer }> {
  const socket = await connect(target, timeoutMs);
  try {
    const rest = target.websocket ? await upgrade(socket, target.port, timeoutMs, path) : Buffer.alloc(0);
    if (!target.websocket) socket.pause();
    return { socket, rest };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Opens `n` connections, at most `parallel` handshakes at a time. Closes them all if one fails. */
export async function openMany(target: Target, n: number, parallel: number): Promise<{ socket: net.Socket; rest: Buffer }[]> {
  const opened: { socket: net.Socket; rest: Buffer }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      opened.push(await open(target));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  } catch (error) {
    await closeAll(opened.map((o) => o.socket));
    throw error;
  }
  return opened;
}

/** Destroys the sockets and waits (≤ 5 s) until all have closed. */
export async function closeAll(sockets: net.Socket[]): Promise<void> {
  const closed = sockets.map((s) => (s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()))));
  for (const s of sockets) s.destroy();
  await withTimeout(Promise.all(closed), 5000, 'closing sockets').catch(() => {});
}

/** What all the echo streams of a run share: counters, and latencies while recording. */
export class EchoStats {
  sent = 0;
  echoed = 0;
  recording = false;
  /** Round-trip times in ms of the messages echoed while recording (bounded). */
  readonly latencies: Float64Array;
  recorded = 0;
  error: Error | undefined;
  constructor(maxSamples = 1 << 22) {
    this.latencies = new Float64Array(maxSamples);
  }
  /** For the next run; keeps the latency buffer. */
  reset(): void {
    this.sent = 0;
    this.echoed = 0;
    this.recording = false;
    this.recorded = 0;
    this.error = undefined;
  }
  fail(error: Error): void {
    this.error ??= error;
  }
  /** The q-quantile (0..1) of the recorded latencies, in ms. */
  percentiles(qs: number[]): number[] {
    const sorted = this.latencies.slice(0, this.recorded).sort();
    return qs.map((q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]));
  }
}

/**
 * One connection's echo loop: `window` messages in flight, each echo checked
 * and answered by the next message while `sending`. Echoes come back in
 * order, so send times are a ring of `window` slots.
 */
export class EchoStream {
  private readonly socket: net.Socket;
  private readonly stats: EchoStats;
  /** The bytes sent per message. */
  private readonly message: Buffer;
  private readonly expected: Buffer;
  private readonly window: number;
  private readonly sentAt: Float64Array;
  private head = 0;
  private tail = 0;
  private inFlight = 0;
  /** Bare echo: bytes of the current message seen so far. */
  private offset = 0;
  private readonly decoder: FrameDecoder | undefined;
  private sending = false;
  private failed = false;
  private onDrained: (() => void) | undefined;

  /**
   * `message`: the bytes to send each time, built once by the caller (a
   * masked frame, see maskedFrame). `expected`: what must come back — the
   * frame's payload from wssd (in a frame), the message itself from a bare echo.
   */
  constructor(socket: net.Socket, rest: Buffer, websocket: boolean, expected: Buffer, message: Buffer, window: number, stats: EchoStats) {
    this.socket = socket;
    this.stats = stats;
    this.expected = expected;
    this.window = window;
    this.sentAt = new Float64Array(window);
    this.message = message;
    if (websocket) {
      this.decoder = new FrameDecoder(
        {
          onFrame: (opcode, fin, data, start, end) => {
            if (opcode !== Opcode.Binary || !fin) return this.fail(new Error(`unexpected frame: opcode ${opcode}, fin ${fin}`));
            if (data.compare(this.expected, 0, this.expected.length, start, end) !== 0) return this.fail(new Error(`echo of ${end - start} bytes differs from the ${this.expected.length} sent`));
            this.echoed();
          },
          onError: (error) => this.fail(error),
        },
        { requireMask: false, maxPayload: expected.length },
      );
    }
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      if (this.inFlight > 0 || this.sending) this.fail(new Error(`connection closed with ${this.inFlight} messages in flight`));
    });
    if (rest.length > 0) this.receive(rest);
  }

  /** Fills the window and keeps it full until stop(). */
  start(): void {
    this.sending = true;
    this.socket.resume();
    this.socket.cork();
    while (this.inFlight < this.window) this.send();
    this.socket.uncork();
  }

  /** Stops sending; resolves when every message sent has been echoed. */
  stop(): Promise<void> {
    this.sending = false;
    if (this.inFlight === 0 || this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  private send(): void {
    this.sentAt[this.tail] = now();
    this.tail = this.tail + 1 === this.window ? 0 : this.tail + 1;
    this.inFlight++;
    this.stats.sent++;
    this.socket.write(this.message);
  }

  private receive(chunk: Buffer): void {
    // Answers to the echoes in this chunk leave in one write.
    this.socket.cork();
    if (this.decoder !== undefined) this.decoder.push(chunk);
    else this.receiveRaw(chunk);
    this.socket.uncork();
  }

  /** A bare echo: the stream is the message again and again; compare it in place. */
  private receiveRaw(chunk: Buffer): void {
    const size = this.expected.length;
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inFlight === 0) return this.fail(new Error('bytes arrived with no message in flight'));
      const n = Math.min(size - this.offset, chunk.length - pos);
      if (chunk.compare(this.expected, this.offset, this.offset + n, pos, pos + n) !== 0) {
        return this.fail(new Error(`echo differs from what was sent at byte ${this.offset}`));
      }
      this.offset += n;
      pos += n;
      if (this.offset === size) {
        this.offset = 0;
        this.echoed();
      }
    }
  }

  private echoed(): void {
    if (this.inFlight === 0) return this.fail(new Error('an echo arrived with no message in flight'));
    const stats = this.stats;
    const t = now();
    if (stats.recording && stats.recorded < stats.latencies.length) stats.latencies[stats.recorded++] = t - this.sentAt[this.head];
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
    this.inFlight--;
    stats.echoed++;
    if (this.sending) this.send();
    else if (this.inFlight === 0) this.onDrained?.();
  }

  private fail(error: Error): void {
    this.stats.fail(error);
    this.failed = true;
    this.sending = false;
    this.socket.destroy();
    this.onDrained?.();
  }
}

/**
 * One short-lived connection, for the handshake rate: TCP (+ TLS) connect;
 * for wssd, the opening handshake, a masked Close, the server's Close and its
 * TCP end (§7.1.1: the server closes TCP first); for a bare server that ends
 * every connection, just its end.
 */
export async function handshakeOnce(target: Target, timeoutMs = 10_000): Promise<void> {
  const { socket, rest } = await open(target, timeoutMs);
  const closed = new Promise<void>((resolve, reject) => {
    let gotClose = !target.websocket;
    const decoder = new FrameDecoder(
      {
        onFrame: (opcode) => {
          if (opcode === Opcode.Close) gotClose = true;
          else reject(new Error(`unexpected frame with opcode ${opcode} before the Close`));
        },
        onError: reject,
      },
      { requireMask: false },
    );
    socket.on('data', (chunk: Buffer) => {
      if (target.websocket) decoder.push(chunk);
      else reject(new Error('the bare server sent data'));
    });
    socket.on('error', reject);
    socket.on('close', () => (gotClose ? resolve() : reject(new Error('closed without a Close frame'))));
    if (rest.length > 0) decoder.push(rest);
  });
  if (target.websocket) socket.write(closeFrame());
  socket.resume();
  await withTimeout(closed, timeoutMs, 'closing handshake', () => socket.destroy());
}
