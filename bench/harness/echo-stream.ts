// The echo load of case 4 (and of case 10's second table): on each
// connection, a window of messages in flight, every echo checked byte for
// byte (a WebSocket server's echo decoded as a frame, a bare echo compared as
// a byte stream) and answered by the next message, each message's round-trip
// time recorded while the cell's window is measured.
import type net from 'node:net';
import { Opcode } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { CellStats } from './latency.js';

const now = (): number => performance.now();

/** What all the echo streams of a cell share: counters, and round-trip times while recording. */
export class EchoStats extends CellStats {
  sent = 0;
  echoed = 0;

  constructor(maxSamples = 1 << 22) {
    super(maxSamples);
  }

  /** For the next cell; keeps the latency buffer. */
  override reset(): void {
    super.reset();
    this.sent = 0;
    this.echoed = 0;
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
    if (stats.recording) stats.latencies.add(t - this.sentAt[this.head]);
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
