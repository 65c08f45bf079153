// RESP3, the Redis serialization protocol (redis.io/docs/reference/protocol-spec),
// as a pure, resumable parser and a command encoder. Bytes in, whole replies
// out, for any split of the byte stream: an element that is not complete yet
// is kept (its chunks gathered until its announced size has arrived, never
// re-copied per chunk) and finished when the rest comes. Aggregates are built
// on an explicit stack, so a deep or long reply costs no recursion and no
// re-parsing of what was already complete.
//
// Refused with a RespProtocolError, never a hang: an unknown type byte, a bad
// length or integer, a missing CRLF, a bulk larger than maxBulkBytes, an
// aggregate deeper than maxDepth or longer than maxElements, and the streamed
// types (`$?`, `*?`), which Redis does not send.

/** A reply Redis refused with (a `-` or `!` error). */
export class RedisReplyError extends Error {
  /** The error's first word: ERR, WRONGTYPE, NOSCRIPT, NOAUTH… */
  readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = 'RedisReplyError';
    this.code = /^[A-Z]+/.exec(message)?.[0] ?? 'ERR';
  }
}

/** Bytes that are not RESP: the connection cannot be trusted further. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`malformed RESP reply: ${message}`);
    this.name = 'RespProtocolError';
  }
}

/** An out-of-band push (`>`): pub/sub messages, invalidations. */
export class RespPush {
  constructor(readonly items: RespValue[]) {}
}

export type RespValue = string | Buffer | number | bigint | boolean | null | RedisReplyError | RespValue[] | Map<string, RespValue> | RespPush;

export interface RespLimits {
  /** Largest bulk string, in bytes (Redis's own proto-max-bulk-len is 512 MiB). */
  maxBulkBytes: number;
  /** Most elements in one aggregate. */
  maxElements: number;
  /** Deepest nesting of aggregates. */
  maxDepth: number;
}

export const defaultRespLimits: RespLimits = { maxBulkBytes: 64 * 1024 * 1024, maxElements: 1024 * 1024, maxDepth: 32 };

const CR = 13;
const LF = 10;
/** The type bytes of RESP3: + - : _ # , ( $ ! = * ~ % > |. */
const TYPES = new Set([0x2b, 0x2d, 0x3a, 0x5f, 0x23, 0x2c, 0x28, 0x24, 0x21, 0x3d, 0x2a, 0x7e, 0x25, 0x3e, 0x7c]);

const enum Kind {
  Array,
  Set,
  Map,
  Push,
  Attribute,
}

interface Aggregate {
  kind: Kind;
  /** Elements still to come (for a map: keys and values both). */
  remaining: number;
  items: RespValue[];
}

export class RespParser {
  private readonly limits: RespLimits;
  private readonly onReply: (value: RespValue) => void;
  private readonly stack: Aggregate[] = [];
  /** Bytes of an element that is not complete yet, and how many it needs in all (0: unknown, a line). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private need = 0;
  private failed = false;

  constructor(onReply: (value: RespValue) => void, limits: RespLimits = defaultRespLimits) {
    this.onReply = onReply;
    this.limits = limits;
  }

  /** Feeds bytes; calls onReply for every complete reply, in order. Throws RespProtocolError (then refuses everything). */
  push(chunk: Buffer): void {
    if (this.failed) throw new RespProtocolError('the stream already failed');
    let bytes = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // A line still without its CRLF may end in this chunk; a bulk waits for its whole size.
      if (this.need > 0 ? this.pendingBytes < this.need : chunk.indexOf(LF) < 0) return;
      bytes = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.need = 0;
    }
    try {
      this.parse(bytes);
    } catch (error) {
      this.failed = true;
      this.stack.length = 0;
      this.pending = [];
      this.pendingBytes = 0;
      throw error;
    }
  }

  /** Forgets everything buffered (a new connection starts clean). */
  reset(): void {
    this.stack.length = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.need = 0;
    this.failed = false;
  }

  private parse(bytes: Buffer): void {
    let pos = 0;
    while (pos < bytes.length) {
      const start = pos;
      // An unknown type fails at its first byte, not when its line ends (it may never).
      if (!TYPES.has(bytes[pos])) throw new RespProtocolError(`unknown type byte 0x${bytes[pos].toString(16)}`);
      const lineEnd = bytes.indexOf(LF, pos + 1);
      if (lineEnd < 0) return this.keep(bytes, start, 0);
      if (bytes[lineEnd - 1] !== CR) throw new RespProtocolError('line not ended by CRLF');
      const type = bytes[pos];
      const line = bytes.toString('latin1', pos + 1, lineEnd - 1);
      pos = lineEnd + 1;
      switch (type) {
        case 0x2b /* + */:
          this.value(bytes.toString('utf8', start + 1, lineEnd - 1));
          break;
        case 0x2d /* - */:
          this.value(new RedisReplyError(bytes.toString('utf8', start + 1, lineEnd - 1)));
          break;
        case 0x3a /* : */:
          this.value(integer(line));
          break;
        case 0x5f /* _ */:
          if (line !== '') throw new RespProtocolError('null with a payload');
          this.value(null);
          break;
        case 0x23 /* # */:
          if (line !== 't' && line !== 'f') throw new RespProtocolError(`boolean ${JSON.stringify(line.slice(0, 10))}`);
          this.value(line === 't');
          break;
        case 0x2c /* , */:
          this.value(double(line));
          break;
        case 0x28 /* ( */:
          if (!/^[-+]?[0-9]+$/.test(line)) throw new RespProtocolError('big number');
          this.value(BigInt(line));
          break;
        case 0x24 /* $ */:
        case 0x21 /* ! */:
        case 0x3d /* = */: {
          if (line === '-1' && type === 0x24) {
            this.value(null); // RESP2's null bulk, still sent by some commands
            break;
          }
          const length = this.length(line, this.limits.maxBulkBytes, 'bulk');
          const end = pos + length + 2;
          if (end > bytes.length) return this.keep(bytes, start, end - start);
          if (bytes[end - 2] !== CR || bytes[end - 1] !== LF) throw new RespProtocolError('bulk not ended by CRLF');
          const body = bytes.subarray(pos, pos + length);
          pos = end;
          if (type === 0x21) this.value(new RedisReplyError(body.toString('utf8')));
          else if (type === 0x3d) this.value(verbatim(body));
          else this.value(body);
          break;
        }
        case 0x2a /* * */:
        case 0x7e /* ~ */:
        case 0x25 /* % */:
        case 0x3e /* > */:
        case 0x7c /* | */: {
          if (line === '-1' && type === 0x2a) {
            this.value(null); // RESP2's null array
            break;
          }
          const count = this.length(line, this.limits.maxElements, 'aggregate');
          const kind = type === 0x2a ? Kind.Array : type === 0x7e ? Kind.Set : type === 0x25 ? Kind.Map : type === 0x3e ? Kind.Push : Kind.Attribute;
          if (this.stack.length >= this.limits.maxDepth) throw new RespProtocolError(`nested deeper than ${this.limits.maxDepth}`);
          const remaining = kind === Kind.Map || kind === Kind.Attribute ? count * 2 : count;
          if (remaining > 0) this.stack.push({ kind, remaining, items: [] });
          else if (kind !== Kind.Attribute) this.value(finish({ kind, remaining, items: [] }));
          break;
        }
        default:
          throw new RespProtocolError(`unknown type byte 0x${type.toString(16)}`);
      }
    }
  }

  /** Keeps bytes[start..] for the next chunk; `need` is the element's whole size when known. */
  private keep(bytes: Buffer, start: number, need: number): void {
    if (start === bytes.length) return;
    const rest = bytes.subarray(start);
    // A view would pin the whole chunk; the rest of an element is usually small.
    this.pending = [need > 0 && rest.length < need ? rest : Buffer.from(rest)];
    this.pendingBytes = rest.length;
    this.need = need;
  }

  private length(line: string, max: number, what: string): number {
    if (line === '?') throw new RespProtocolError(`streamed ${what}s are not supported`);
    if (!/^[0-9]{1,15}$/.test(line)) throw new RespProtocolError(`${what} length ${JSON.stringify(line.slice(0, 20))}`);
    const n = Number(line);
    if (n > max) throw new RespProtocolError(`${what} of ${n} over the limit of ${max}`);
    return n;
  }

  /** A complete value: into the aggregate being built, or out as a reply. */
  private value(value: RespValue): void {
    let v = value;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) {
        this.onReply(v);
        return;
      }
      top.items.push(v);
      if (--top.remaining > 0) return;
      this.stack.pop();
      // An attribute annotates the next value; wssd needs none, so it is dropped.
      if (top.kind === Kind.Attribute) return;
      v = finish(top);
    }
  }
}

function finish(aggregate: Aggregate): RespValue {
  switch (aggregate.kind) {
    case Kind.Map: {
      const map = new Map<string, RespValue>();
      const items = aggregate.items;
      for (let i = 0; i < items.length; i += 2) map.set(asText(items[i]), items[i + 1]);
      return map;
    }
    case Kind.Push:
      return new RespPush(aggregate.items);
    default:
      return aggregate.items;
  }
}

function integer(line: string): number | bigint {
  if (!/^[-+]?[0-9]{1,20}$/.test(line)) throw new RespProtocolError(`integer ${JSON.stringify(line.slice(0, 24))}`);
  const n = Number(line);
  return Number.isSafeInteger(n) ? n : BigInt(line);
}

function double(line: string): number {
  if (line === 'inf') return Number.POSITIVE_INFINITY;
  if (line === '-inf') return Number.NEGATIVE_INFINITY;
  if (line === 'nan') return Number.NaN;
  if (!/^[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(line)) throw new RespProtocolError(`double ${JSON.stringify(line.slice(0, 24))}`);
  return Number(line);
}

/** `=` verbatim strings start with a three-letter format and a colon ("txt:"). */
function verbatim(body: Buffer): Buffer {
  if (body.length < 4 || body[3] !== 0x3a) throw new RespProtocolError('verbatim string without its format');
  return body.subarray(4);
}

/** A reply value as text (bulk strings are Buffers, simple strings strings). */
export function asText(value: RespValue): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  throw new RespProtocolError('expected a string');
}

export type CommandArgument = string | Buffer | number;

/** A command as RESP: an array of bulk strings, built in one buffer. */
export function encodeCommand(args: readonly CommandArgument[]): Buffer {
  let size = 1 + digits(args.length) + 2;
  const parts: (string | Buffer)[] = new Array(args.length);
  const lengths: number[] = new Array(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const part = typeof a === 'number' ? String(a) : a;
    const length = typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length;
    parts[i] = part;
    lengths[i] = length;
    size += 1 + digits(length) + 2 + length + 2;
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.write(`*${args.length}\r\n`, 0, 'latin1');
  for (let i = 0; i < parts.length; i++) {
    at += out.write(`$${lengths[i]}\r\n`, at, 'latin1');
    const part = parts[i];
    at += typeof part === 'string' ? out.write(part, at, 'utf8') : part.copy(out, at);
    out[at++] = CR;
    out[at++] = LF;
  }
  return out;
}

function digits(n: number): number {
  return n < 10 ? 1 : String(n).length;
}
