// permessage-deflate (RFC 7692) negotiation, pure: the client's offers in,
// the parameters both sides then use and the response header out. Each offer
// is validated in one place (§7.1); an invalid one is declined and the next
// tried; when none is acceptable the connection opens without compression —
// never a 400 for an extension offer.
import { parseExtensions } from './extension-header.js';

export const EXTENSION_NAME = 'permessage-deflate';

/** The server's side of the negotiation, and how it compresses (option `perMessageDeflate`). */
export interface PerMessageDeflateOptions {
  /** Largest LZ77 window the server compresses with, 8–15 (never more than the client allows). */
  serverMaxWindowBits?: number;
  /** Largest window the client may use, 8–15; asked for only when the client offered client_max_window_bits (§7.1.2.2). */
  clientMaxWindowBits?: number;
  /** Ask the client to compress each message with a fresh window, so nothing of its stream is kept between messages. */
  clientNoContextTakeover?: boolean;
  /** Compress each message with a fresh window ourselves (the server then keeps no per-connection compressor). */
  serverNoContextTakeover?: boolean;
  /** zlib compression level, 0–9. */
  level?: number;
  /** zlib memLevel, 1–9: the size of the compressor's hash tables. */
  memLevel?: number;
  /** Messages shorter than this many bytes are sent uncompressed. */
  threshold?: number;
  /** A connection that has not compressed or inflated for this long (ms) gives its zlib contexts back; 0 = at once after each message. */
  idleRelease?: number;
  /**
   * zlib contexts the server's connections may hold at once (each ≈ 100 KiB
   * for a compressor, ≈ 10–40 KiB for an inflater). Past it a connection
   * compresses each message with a fresh window and inflates through a
   * context made for that message alone: slower and a little larger, never
   * more memory.
   */
  maxContexts?: number;
}

/** The defaults, chosen by measurement (docs/guides/compression.md). */
export const deflateDefaults: Required<PerMessageDeflateOptions> = {
  // Node's zlib (Chromium's) gives every compressor a 64 KiB hash table whatever memLevel says, so a
  // held 12-bit, memLevel-5 compressor is ≈ 100 KiB against ≈ 215 KiB at 15/8, at the same CPU for
  // 1 KiB messages (docs/guides/compression.md). It is held only while in use, and by at most
  // maxContexts connections.
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 15,
  // No inflater per connection: one shared by the server decodes every client.
  clientNoContextTakeover: true,
  serverNoContextTakeover: false,
  // Level 1: a quarter of level 6's CPU on 64 KiB of text, for output ≈ 30 % larger.
  level: 1,
  memLevel: 5,
  threshold: 64,
  idleRelease: 10_000,
  // ≈ 50 MiB at most, whatever the number of connections: 1,000 connections that each exchanged a
  // message cost ≈ 50 KiB each (ws with its defaults: ≈ 240 KiB), 10,000 ≈ 5 KiB (bench case 8b).
  maxContexts: 512,
};

/** What was agreed for one connection. */
export interface DeflateParams {
  /** We compress each message with a fresh window. */
  serverNoContextTakeover: boolean;
  /** The client compresses each message with a fresh window: nothing to keep for inflating. */
  clientNoContextTakeover: boolean;
  /** The window we compress with (9–15: zlib has no raw 8-bit window, and 9-bit output decodes with an 8-bit window). */
  serverWindowBits: number;
  /** The window the client compresses with, at most: what we inflate with. */
  clientWindowBits: number;
}

export interface Negotiated {
  params: DeflateParams;
  /** The Sec-WebSocket-Extensions value of the 101. */
  response: string;
}

/** One offer's parameters once valid. */
interface DeflateOffer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** true: offered without a value. */
  clientMaxWindowBits: number | true | undefined;
}

/** 8–15, written as the RFC's grammar allows: 1*DIGIT without leading zeros (§7.1.2). */
function windowBits(value: string): number | undefined {
  if (value.length === 1 && value >= '8' && value <= '9') return Number(value);
  if (value.length === 2 && value[0] === '1' && value[1] >= '0' && value[1] <= '5') return Number(value);
  return undefined;
}

/** §7.1: an offer's parameters, or undefined when it must be declined (unknown, repeated, a bad value). */
export function parseDeflateOffer(params: readonly [string, string | true][]): DeflateOffer | undefined {
  const offer: DeflateOffer = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: undefined, clientMaxWindowBits: undefined };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return undefined;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return undefined;
        offer.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return undefined;
        offer.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // §7.1.2.1: a value is required.
        const bits = value === true ? undefined : windowBits(value);
        if (bits === undefined) return undefined;
        offer.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (value === true) {
          offer.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return undefined;
        offer.clientMaxWindowBits = bits;
        break;
      }
      default:
        return undefined;
    }
  }
  return offer;
}

/** The response to one valid offer under the server's options (§7.1). */
export function acceptOffer(offer: DeflateOffer, options: Required<PerMessageDeflateOptions>): Negotiated {
  const parts = [EXTENSION_NAME];
  // §7.1.1.1: the client asking it binds us; otherwise it is our choice.
  const serverNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover;
  if (serverNoContextTakeover) parts.push('server_no_context_takeover');
  // §7.1.1.2: the server may ask it whether or not the client offered it.
  const clientNoContextTakeover = options.clientNoContextTakeover || offer.clientNoContextTakeover;
  if (clientNoContextTakeover) parts.push('client_no_context_takeover');
  // §7.1.2.1: with the parameter, answer the same or a smaller value; without it, use what we like (any
  // window up to 15 decodes with the client's 15-bit one) and say nothing.
  let answeredServerBits = options.serverMaxWindowBits;
  if (offer.serverMaxWindowBits !== undefined) {
    answeredServerBits = Math.min(offer.serverMaxWindowBits, options.serverMaxWindowBits);
    parts.push(`server_max_window_bits=${answeredServerBits}`);
  }
  // §7.1.2.2: only when offered; a value offered is the most the client uses anyway.
  let clientWindowBits = 15;
  if (offer.clientMaxWindowBits !== undefined) {
    const limit = offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits;
    clientWindowBits = Math.min(limit, options.clientMaxWindowBits);
    if (clientWindowBits < limit || offer.clientMaxWindowBits !== true) parts.push(`client_max_window_bits=${clientWindowBits}`);
  }
  return {
    params: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      // An answer of 8 is deflated with 9: see deflateWindowBits().
      serverWindowBits: deflateWindowBits(answeredServerBits),
      clientWindowBits,
    },
    response: parts.join('; '),
  };
}

/**
 * The window zlib compresses with for a negotiated server_max_window_bits.
 * zlib (since 1.2.9) refuses raw deflate with an 8-bit window and would
 * silently use 9; the zlib authors' own advice for an 8-bit peer is the
 * same, because zlib's deflate never emits a distance beyond
 * 2^windowBits − 262 (MAX_DIST): with 9 bits that is 250, inside an 8-bit
 * window. The unit tests inflate such output with an 8-bit inflater.
 */
export function deflateWindowBits(negotiated: number): number {
  return negotiated < 9 ? 9 : negotiated;
}

/**
 * Chooses the first acceptable permessage-deflate offer of a
 * Sec-WebSocket-Extensions value; undefined when there is none (the
 * connection then opens without compression).
 */
export function negotiateDeflate(header: string | undefined, options: Required<PerMessageDeflateOptions>): Negotiated | undefined {
  if (header === undefined) return undefined;
  for (const offer of parseExtensions(header)) {
    if (!offer.valid || offer.name !== EXTENSION_NAME) continue;
    const valid = parseDeflateOffer(offer.params);
    if (valid !== undefined) return acceptOffer(valid, options);
  }
  return undefined;
}

/** The options completed with the defaults and checked; a RangeError names a bad one by its key (level, memLevel…). */
export function resolveDeflateOptions(given: boolean | PerMessageDeflateOptions | undefined): Required<PerMessageDeflateOptions> | undefined {
  if (given === undefined || given === false) return undefined;
  const o = { ...deflateDefaults, ...(given === true ? {} : given) };
  const check = (name: keyof PerMessageDeflateOptions, value: number | boolean, min: number, max: number): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer ${min}–${max}, got ${String(value)}`);
    }
  };
  check('serverMaxWindowBits', o.serverMaxWindowBits, 8, 15);
  check('clientMaxWindowBits', o.clientMaxWindowBits, 8, 15);
  check('level', o.level, 0, 9);
  check('memLevel', o.memLevel, 1, 9);
  check('threshold', o.threshold, 0, Number.MAX_SAFE_INTEGER);
  check('idleRelease', o.idleRelease, 0, 2 ** 31 - 1);
  check('maxContexts', o.maxContexts, 0, 1_000_000);
  for (const name of ['clientNoContextTakeover', 'serverNoContextTakeover'] as const) {
    if (typeof o[name] !== 'boolean') throw new RangeError(`${name} must be true or false, got ${String(o[name])}`);
  }
  return o;
}
