// Raw deflate and inflate, synchronously, with a context that lives across
// calls — what permessage-deflate needs, and what node:zlib's public API
// does not offer: its sync functions (deflateRawSync…) make a new context per
// call, and its streams are asynchronous, running on the libuv thread pool.
//
// Why synchronous: a message of a few KiB compresses in microseconds, less
// than a trip to the thread pool and back costs; there is no queue that one
// slow job could stall (`ws` once hung servers on its global zlib queue); a
// peer sending compressed data faster than we inflate is held back by TCP,
// since nothing is read while we inflate; and the session stays a pure,
// synchronous state machine. The price: inflating a very large message
// blocks the loop for as long as it takes (≈ 3 ms per MiB).
//
// How: every zlib stream object holds a native handle whose writeSync()
// runs one deflate()/inflate() call on the calling thread — the call
// node:zlib's own sync functions make. It is not in Node's documentation,
// so it is feature-detected (`nativeEngineAvailable`), and when it is
// missing every context is built from the public sync functions instead:
// deflate without context takeover (always allowed: context takeover is the
// sender's right, never its duty), and inflate with the window passed back
// in as a preset dictionary (which is exactly the state an inflater keeps
// between two messages: see inflate-window.ts). Both engines pass the same tests.
import zlib from 'node:zlib';

const { Z_SYNC_FLUSH } = zlib.constants;

/** RFC 7692 §7.2.1: a sync flush ends with an empty stored block, 00 00 ff ff; it is stripped from what we send… */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Why inflating stopped: the data is not deflate (1007), or it inflates to more than allowed (1009). */
export class InflateError extends Error {
  readonly reason: 'corrupt' | 'too-big';
  constructor(reason: 'corrupt' | 'too-big', message: string) {
    super(message);
    this.name = 'InflateError';
    this.reason = reason;
  }
}

export interface DeflateSettings {
  windowBits: number;
  level: number;
  memLevel: number;
}

/** A compressor whose window carries over from one message to the next until reset(). */
export interface Deflater {
  /** The message compressed and flushed, the 00 00 ff ff tail removed (§7.2.1). */
  deflate(data: Uint8Array): Buffer;
  /** A fresh window: the next message refers to nothing before it. */
  reset(): void;
  close(): void;
}

/** A decompressor whose window carries over from one message to the next until reset(). */
export interface Inflater {
  /**
   * A message's payload inflated (the tail appended, §7.2.2): at most `limit`
   * bytes, else InflateError 'too-big' after inflating limit + 1 bytes at most.
   */
  inflate(data: Buffer, limit: number): Buffer;
  /**
   * True when this inflater no longer holds the stream's window: the last
   * message ended with a final (BFINAL) block, or the engine keeps no context.
   * With context takeover the caller then makes a new one from the history.
   */
  readonly ended: boolean;
  reset(): void;
  close(): void;
}

/** Output goes through this one buffer and is copied out at its exact size: safe, since every call is synchronous. */
let scratch = Buffer.allocUnsafe(64 * 1024);

/** The stream's own output buffer is never used (output goes to the scratch buffer): the smallest zlib allows, not 16 KiB per context. */
const MIN_CHUNK = zlib.constants.Z_MIN_CHUNK;

/** The internals the native engine uses, as far as they are checked. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

function handleOf(stream: object): { handle: ZlibHandle; state: Uint32Array } | undefined {
  const internal = stream as { _handle?: unknown; _writeState?: unknown };
  const handle = internal._handle as Partial<ZlibHandle> | null | undefined;
  const state = internal._writeState;
  if (handle == null || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || typeof handle.close !== 'function') return undefined;
  if (!(state instanceof Uint32Array) || state.length < 2) return undefined;
  return { handle: handle as ZlibHandle, state };
}

/** Runs one flushed call over `input` into the scratch buffer, growing the output as needed; returns the pieces' total. */
class NativeStream {
  protected readonly handle: ZlibHandle;
  protected readonly state: Uint32Array;
  protected error: string | undefined;

  constructor(stream: zlib.DeflateRaw | zlib.InflateRaw) {
    const found = handleOf(stream);
    if (found === undefined) throw new Error('zlib handle not available');
    this.handle = found.handle;
    this.state = found.state;
    // Instead of node:zlib's handler, which destroys the stream and emits 'error' later.
    this.handle.onerror = (message) => {
      this.error = message;
    };
  }

  /**
   * Feeds input[from..to) with a sync flush; output bytes are appended to
   * `pieces`. Stops early once `room` output bytes were produced (returns -1
   * then). Returns the bytes produced, or -2 when zlib reports the stream ended
   * with input left over.
   */
  protected run(input: Uint8Array, pieces: Buffer[], room: number): number {
    let inOff = 0;
    let inLeft = input.length;
    let produced = 0;
    for (;;) {
      const outLen = Math.min(scratch.length, room - produced);
      if (outLen <= 0) return -1;
      this.handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLeft, scratch, 0, outLen);
      if (this.error !== undefined) return produced;
      const outLeft = this.state[0];
      const inAfter = this.state[1];
      const have = outLen - outLeft;
      if (have > 0) {
        pieces.push(Buffer.from(scratch.subarray(0, have)));
        produced += have;
      }
      inOff += inLeft - inAfter;
      inLeft = inAfter;
      // Output space left over: zlib has done all it can with this input.
      if (outLeft > 0) return inLeft > 0 ? -2 - produced : produced;
    }
  }

  close(): void {
    this.handle.close();
  }
}

class NativeDeflater extends NativeStream implements Deflater {
  constructor(settings: DeflateSettings) {
    super(zlib.createDeflateRaw({ windowBits: settings.windowBits, level: settings.level, memLevel: settings.memLevel, chunkSize: MIN_CHUNK }));
  }

  deflate(data: Uint8Array): Buffer {
    const pieces: Buffer[] = [];
    const produced = this.run(data, pieces, Number.MAX_SAFE_INTEGER);
    if (this.error !== undefined) throw new Error(`deflate failed: ${this.error}`);
    return stripTail(pieces, produced);
  }

  reset(): void {
    this.handle.reset();
  }
}

class NativeInflater extends NativeStream implements Inflater {
  ended = false;

  constructor(windowBits: number, dictionary?: Buffer) {
    super(zlib.createInflateRaw(dictionary === undefined ? { windowBits, chunkSize: MIN_CHUNK } : { windowBits, dictionary, chunkSize: MIN_CHUNK }));
  }

  inflate(data: Buffer, limit: number): Buffer {
    const pieces: Buffer[] = [];
    let total = this.run(data, pieces, limit + 1);
    if (total >= 0 && this.error === undefined) {
      const more = this.run(DEFLATE_TAIL, pieces, limit + 1 - total);
      if (more === -1) total = -1;
      else if (more <= -2) {
        total += -2 - more;
        this.ended = true;
      } else total += more;
    } else if (total <= -2) {
      // A final block, then more bytes in the message: they are ignored (the stream is over).
      total = -2 - total;
      this.ended = true;
    }
    if (this.error !== undefined) throw new InflateError('corrupt', `invalid compressed data: ${this.error}`);
    if (total === -1) throw new InflateError('too-big', `message inflates to more than ${limit} bytes`);
    return join(pieces, total);
  }

  reset(): void {
    this.ended = false;
    this.handle.reset();
  }
}

function join(pieces: Buffer[], total: number): Buffer {
  return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, total);
}

function stripTail(pieces: Buffer[], total: number): Buffer {
  const all = join(pieces, total);
  return all.length >= 4 ? all.subarray(0, all.length - 4) : all;
}

/** The public-API engine: one context per call. */
class FallbackDeflater implements Deflater {
  constructor(private readonly settings: DeflateSettings) {}

  deflate(data: Uint8Array): Buffer {
    const out = zlib.deflateRawSync(data, { ...this.settings, finishFlush: Z_SYNC_FLUSH });
    return out.subarray(0, out.length - 4);
  }

  reset(): void {}

  close(): void {}
}

class FallbackInflater implements Inflater {
  /** Always: the context is gone after each call, so the caller passes the window back in (a new inflater) next time. */
  readonly ended = true;

  constructor(
    private readonly windowBits: number,
    private readonly dictionary: Buffer | undefined,
  ) {}

  inflate(data: Buffer, limit: number): Buffer {
    const input = Buffer.concat([data, DEFLATE_TAIL]);
    try {
      const options: zlib.ZlibOptions = { windowBits: this.windowBits, finishFlush: Z_SYNC_FLUSH, maxOutputLength: Math.max(1, limit) };
      if (this.dictionary !== undefined) options.dictionary = this.dictionary;
      const out = zlib.inflateRawSync(input, options);
      if (out.length > limit) throw new InflateError('too-big', `message inflates to more than ${limit} bytes`);
      return out;
    } catch (error) {
      if (error instanceof InflateError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new InflateError('too-big', `message inflates to more than ${limit} bytes`);
      throw new InflateError('corrupt', `invalid compressed data: ${(error as Error).message}`);
    }
  }

  reset(): void {}

  close(): void {}
}

/** Whether this Node exposes the zlib handle the native engine uses (checked once). */
export const nativeEngineAvailable: boolean = (() => {
  try {
    const stream = zlib.createInflateRaw();
    const ok = handleOf(stream) !== undefined;
    stream.close();
    return ok;
  } catch {
    return false;
  }
})();

/** Which engine new contexts use: 'native' where available; tests switch to 'fallback' to cover it. */
let engine: 'native' | 'fallback' = nativeEngineAvailable ? 'native' : 'fallback';

export function useEngine(which: 'native' | 'fallback'): void {
  if (which === 'native' && !nativeEngineAvailable) throw new Error('the native zlib engine is not available on this Node');
  engine = which;
}

export function currentEngine(): 'native' | 'fallback' {
  return engine;
}

/** Whether contexts keep their window between calls (the fallback deflater never does). */
export function deflaterKeepsContext(): boolean {
  return engine === 'native';
}

export function createDeflater(settings: DeflateSettings): Deflater {
  return engine === 'native' ? new NativeDeflater(settings) : new FallbackDeflater(settings);
}

/** An inflater, its window preloaded with `dictionary` (the previous messages' last bytes) when given. */
export function createInflater(windowBits: number, dictionary?: Buffer): Inflater {
  return engine === 'native' ? new NativeInflater(windowBits, dictionary) : new FallbackInflater(windowBits, dictionary);
}

/** For tests: a smaller scratch buffer exercises output that spans several pieces. */
export function setScratchSize(bytes: number): void {
  scratch = Buffer.allocUnsafe(bytes);
}
