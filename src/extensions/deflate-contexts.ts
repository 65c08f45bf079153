// permessage-deflate at run time (RFC 7692 §6–§7): who holds which zlib
// context, and for how long. The memory of compression is its contexts — in
// Node's zlib a compressor is ≈ 100 KiB at 12 bits and ≈ 215 KiB at 15
// (its hash table is 64 KiB whatever memLevel says), an inflater 10–40 KiB — so:
//
// - A connection holds none until it compresses or inflates a message
//   (lazy), and gives them back after `idleRelease` ms without one (a
//   server-wide sweep: no timer per connection).
// - At most `maxContexts` are held by all connections together, so memory is
//   bounded whatever the number of connections: past it a connection
//   compresses with a fresh window (always allowed) and inflates through a
//   context made from its saved window for that one message.
// - What needs no window of its own uses a context shared by the whole
//   server, reset after each message (all calls are synchronous, so no two
//   messages ever share it at once): inflating when the client compresses
//   each message afresh (client_no_context_takeover, which the server asks
//   for by default), compressing under server_no_context_takeover, and a
//   publication compressed once for all its subscribers.
// - Our own compressor, with context takeover, may be dropped at any time:
//   context takeover is the sender's right, never its duty, so a message
//   compressed with a fresh window is always decodable. After a shared
//   (publication) message it is reset, because the peer's window now holds
//   bytes ours does not.
// - An inflater with context takeover (the client kept its window) is dropped
//   only with the window saved (inflate-window.ts): the next one starts from it.
import type { Clock, Timer } from '../io/clock.js';
import { protocolErrors } from '../protocol/errors.js';
import type { MessageCompression } from '../protocol/session.js';
import { InflateWindow } from './inflate-window.js';
import type { DeflateParams, PerMessageDeflateOptions } from './permessage-deflate.js';
import { createDeflater, createInflater, deflaterKeepsContext, InflateError, type Deflater, type Inflater } from './zlib-engine.js';

/** The window every shared inflater has: it decodes a client using any window up to 15 bits. */
const SHARED_INFLATE_BITS = 15;

/** One server's permessage-deflate: its options, its shared contexts, the idle sweep. */
export class DeflateContexts {
  readonly options: Required<PerMessageDeflateOptions>;
  private readonly clock: Clock;
  private readonly sharedDeflaters = new Map<number, Deflater>();
  private sharedInflater: Inflater | undefined;
  /** Connections holding a context of their own: the sweep's whole work. */
  private readonly holding = new Set<DeflateCodec>();
  private timer: Timer | undefined;
  /** zlib contexts held by connections (not the shared ones), at most options.maxContexts. */
  private contextsHeld = 0;
  /** For /stats. */
  readonly counts: DeflateCounts = { compressed: 0, compressedIn: 0, compressedOut: 0, inflated: 0, inflatedIn: 0, inflatedOut: 0, overMaxContexts: 0 };

  constructor(options: Required<PerMessageDeflateOptions>, clock: Clock) {
    this.options = options;
    this.clock = clock;
  }

  /** A connection's compression, for the parameters its handshake agreed. */
  codec(params: DeflateParams): DeflateCodec {
    return new DeflateCodec(params, this);
  }

  /** Compresses with a fresh window of `windowBits`: output any peer that allows that window decodes. */
  deflateShared(data: Uint8Array, windowBits: number): Buffer {
    let deflater = this.sharedDeflaters.get(windowBits);
    if (deflater === undefined) {
      deflater = createDeflater({ windowBits, level: this.options.level, memLevel: this.options.memLevel });
      this.sharedDeflaters.set(windowBits, deflater);
    }
    try {
      return this.compressed(data, deflater.deflate(data));
    } finally {
      deflater.reset();
    }
  }

  /** @internal Counts a compressed message; returns its output. */
  compressed(data: Uint8Array, out: Buffer): Buffer {
    const c = this.counts;
    c.compressed++;
    c.compressedIn += data.length;
    c.compressedOut += out.length;
    return out;
  }

  /** @internal Counts an inflated message; returns its output. */
  inflated(data: Buffer, out: Buffer): Buffer {
    const c = this.counts;
    c.inflated++;
    c.inflatedIn += data.length;
    c.inflatedOut += out.length;
    return out;
  }

  /** @internal A codec would make a context of its own: granted while fewer than maxContexts are held. */
  takeContext(): boolean {
    if (this.contextsHeld >= this.options.maxContexts) {
      this.counts.overMaxContexts++;
      return false;
    }
    this.contextsHeld++;
    return true;
  }

  /** @internal A codec closed a context that takeContext() granted. */
  giveContext(): void {
    this.contextsHeld--;
  }

  /** zlib contexts held by connections now (the shared ones not counted). */
  get contexts(): number {
    return this.contextsHeld;
  }

  /** Inflates a message compressed with a fresh window. */
  inflateShared(data: Buffer, limit: number): Buffer {
    const inflater = (this.sharedInflater ??= createInflater(SHARED_INFLATE_BITS));
    try {
      return this.inflated(data, inflater.inflate(data, limit));
    } catch (error) {
      // Its state is whatever the bad input left: start again next time.
      inflater.close();
      this.sharedInflater = undefined;
      throw error;
    } finally {
      if (this.sharedInflater !== undefined) {
        if (inflater.ended) {
          inflater.close();
          this.sharedInflater = undefined;
        } else inflater.reset();
      }
    }
  }

  /** @internal A codec made a context of its own: sweep it when idle. */
  hold(codec: DeflateCodec): void {
    if (this.options.idleRelease === 0) return;
    this.holding.add(codec);
    this.timer ??= this.clock.setTimeout(() => this.sweep(), this.options.idleRelease).unref();
  }

  /** @internal */
  forget(codec: DeflateCodec): void {
    this.holding.delete(codec);
  }

  /** Connections holding contexts of their own (for tests and the bench). */
  get holders(): number {
    return this.holding.size;
  }

  /**
   * Every `idleRelease` ms: a codec that used its contexts since the last
   * sweep is kept (and marked unused); one that did not gives them back. So
   * a context is released between idleRelease and 2 × idleRelease after its
   * last use.
   */
  sweep(): void {
    this.timer = undefined;
    for (const codec of this.holding) {
      if (codec.used) codec.used = false;
      else {
        codec.release();
        this.holding.delete(codec);
      }
    }
    if (this.holding.size > 0) this.timer = this.clock.setTimeout(() => this.sweep(), this.options.idleRelease).unref();
  }

  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const codec of this.holding) codec.release();
    this.holding.clear();
    for (const deflater of this.sharedDeflaters.values()) deflater.close();
    this.sharedDeflaters.clear();
    this.sharedInflater?.close();
    this.sharedInflater = undefined;
  }
}

/** One connection's permessage-deflate, as its session uses it. */
export class DeflateCodec implements MessageCompression {
  readonly params: DeflateParams;
  readonly threshold: number;
  private readonly contexts: DeflateContexts;
  private deflater: Deflater | undefined;
  private inflater: Inflater | undefined;
  /** The client's last window of plaintext, kept only when it uses context takeover. */
  private readonly inflateWindow: InflateWindow | undefined;
  /** @internal For the sweep: a context was used since the last one. */
  used = false;

  constructor(params: DeflateParams, contexts: DeflateContexts) {
    this.params = params;
    this.contexts = contexts;
    this.threshold = contexts.options.threshold;
    this.inflateWindow = params.clientNoContextTakeover ? undefined : new InflateWindow(params.clientWindowBits);
  }

  /** The key under which a message compressed for this connection can be shared with others (publications). */
  get shareKey(): number {
    return this.params.serverWindowBits;
  }

  compressFresh(payload: Uint8Array): Buffer {
    return this.contexts.deflateShared(payload, this.params.serverWindowBits);
  }

  compress(payload: Uint8Array): Buffer {
    if (this.params.serverNoContextTakeover || !deflaterKeepsContext()) return this.contexts.deflateShared(payload, this.params.serverWindowBits);
    if (this.deflater === undefined) {
      // Past maxContexts: a fresh window, which the peer decodes whatever it holds.
      if (!this.contexts.takeContext()) return this.contexts.deflateShared(payload, this.params.serverWindowBits);
      const o = this.contexts.options;
      this.deflater = createDeflater({ windowBits: this.params.serverWindowBits, level: o.level, memLevel: o.memLevel });
    }
    const out = this.contexts.compressed(payload, this.deflater.deflate(payload));
    this.touch();
    return out;
  }

  /** A message compressed elsewhere (with a fresh window) was sent: our window no longer matches the peer's. */
  sharedSent(): void {
    this.deflater?.reset();
  }

  decompress(payload: Buffer, limit: number): Buffer {
    const saved = this.inflateWindow;
    if (saved === undefined) {
      try {
        return this.contexts.inflateShared(payload, limit);
      } catch (error) {
        throw inflateFailure(error, limit);
      }
    }
    // Past maxContexts: an inflater for this message alone, made from the saved window like any other.
    const own = this.inflater !== undefined || this.contexts.takeContext();
    const inflater = this.inflater ?? createInflater(this.params.clientWindowBits, saved.window());
    if (own) this.inflater = inflater;
    let out: Buffer;
    try {
      out = this.contexts.inflated(payload, inflater.inflate(payload, limit));
    } catch (error) {
      if (own) this.dropInflater();
      else inflater.close();
      throw inflateFailure(error, limit);
    }
    saved.push(out);
    if (!own) inflater.close();
    // A final block ended the client's stream (or the engine keeps no context): the next message starts from the saved window.
    else if (inflater.ended) this.dropInflater();
    else this.touch();
    return out;
  }

  /** Gives the zlib contexts back; the next message makes new ones (the inflater from the saved window). */
  release(): void {
    if (this.deflater !== undefined) {
      this.deflater.close();
      this.deflater = undefined;
      this.contexts.giveContext();
    }
    this.dropInflater();
  }

  private dropInflater(): void {
    if (this.inflater === undefined) return;
    this.inflater.close();
    this.inflater = undefined;
    this.contexts.giveContext();
  }

  /** Whether this connection holds a zlib context of its own right now. */
  get holdsContext(): boolean {
    return this.deflater !== undefined || this.inflater !== undefined;
  }

  close(): void {
    this.release();
    this.contexts.forget(this);
  }

  private touch(): void {
    if (this.contexts.options.idleRelease === 0) {
      this.release();
      return;
    }
    if (!this.used) {
      this.used = true;
      this.contexts.hold(this);
    }
  }
}

/** What permessage-deflate did, for /stats and /metrics. */
export interface DeflateCounts {
  /** Messages compressed (publications once each), the bytes that went in and came out. */
  compressed: number;
  compressedIn: number;
  compressedOut: number;
  /** Messages inflated, the compressed bytes that went in and what they inflated to. */
  inflated: number;
  inflatedIn: number;
  inflatedOut: number;
  /** Times a connection went without a context of its own because maxContexts were held. */
  overMaxContexts: number;
}

/** An inflate failure as the close it causes: 1009 past the limit, 1007 for corrupt data. */
function inflateFailure(error: unknown, limit: number): unknown {
  if (!(error instanceof InflateError)) return error;
  return error.reason === 'too-big' ? protocolErrors.tooBig(limit) : protocolErrors.badCompressedData();
}
