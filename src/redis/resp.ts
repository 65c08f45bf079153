// RESP3, the Redis serialization protocol (redis.io/docs/reference/protocol-spec),
// as a pure, resumable parser and a command encoder. Bytes in, whole replies
// out, for any split of the byte stream. A bulk string that is not complete
// yet is copied into one buffer of its announced size as its pieces arrive
// (its size is checked first, so the buffer is bounded); a line that is not
// complete yet is kept until its LF, up to maxLineBytes. Aggregates are built
// on an explicit stack, so a deep or long reply costs no recursion and no
// re-parsing of what was already complete.
//
// Every part of a reply is capped before it is buffered, and a reply breaking
// a cap is refused with a RespProtocolError naming it, never a hang or
// unbounded memory: a line without LF past maxLineBytes, a bulk over
// maxBulkBytes, an aggregate over maxElements, elements of one reply (all its
// nested aggregates together) over maxElements, nesting past maxDepth, and one
// reply's bytes over maxReplyBytes. Also refused: an unknown type byte, a bad
// length or integer, a missing CRLF, and the streamed types (`$?`, `*?`),
// which Redis does not send.

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

/** Bytes that are not RESP, or a reply past a limit: the connection cannot be trusted further. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`malformed reply: ${message}`);
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
  /** Most elements in one aggregate, and in one reply counting every nested aggregate. */
  maxElements: number;
  /** Deepest nesting of aggregates. */
  maxDepth: number;
  /** Longest line (a simple string, an error, a number, a header), CRLF included. */
  maxLineBytes?: number;
  /** Most bytes one reply may take on the wire, everything nested included. */
  maxReplyBytes?: number;
}

export const defaultRespLimits: Required<RespLimits> = {
  maxBulkBytes: 64 * 1024 * 1024,
  maxElements: 1024 * 1024,
  maxDepth: 32,
  maxLineBytes: 64 * 1024,
  maxReplyBytes: 128 * 1024 * 1024,
};

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

/** A bulk string whose body is still arriving: copied into `body` as it comes, then its CRLF. */
interface PartialBulk {
  type: number;
  body: Buffer;
  filled: number;
  /** Bytes of the closing CRLF seen so far (0–2). */
  crlf: number;
}

export class RespParser {
  private readonly limits: Required<RespLimits>;
  private readonly onReply: (value: RespValue) => void;
  private readonly stack: Aggregate[] = [];
  /** The start of a line whose LF has not come yet. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private bulk: PartialBulk | undefined;
  /** Elements and bytes of the reply being read, for its caps. */
  private replyElements = 0;
  private replyBytes = 0;
  private failed = false;

  constructor(onReply: (value: RespValue) => void, limits: RespLimits = defaultRespLimits) {
    this.onReply = onReply;
    this.limits = { ...defaultRespLimits, ...limits };
  }

  /** Feeds bytes; calls onReply for every complete reply, in order. Throws RespProtocolError (then refuses everything). */
  push(chunk: Buffer): void {
    if (this.failed) throw new RespProtocolError('the stream already failed');
    try {
      this.parse(chunk);
    } catch (error) {
      this.failed = true;
      this.clear();
      throw error;
    }
  }

  /** Forgets everything buffered (a new connection starts clean). */
  reset(): void {
    this.clear();
    this.failed = false;
  }

  private clear(): void {
    this.stack.length = 0;
    this.line = [];
    this.lineBytes = 0;
    this.bulk = undefined;
    this.replyElements = 0;
    this.replyBytes = 0;
  }

  private parse(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.bulk !== undefined) {
        pos = this.continueBulk(chunk, pos);
        continue;
      }
      let bytes = chunk;
      let start = pos;
      if (this.lineBytes === 0 && !TYPES.has(chunk[pos])) {
        // An unknown type fails at its first byte, not when its line ends (it may never).
        throw new RespProtocolError(`unknown type byte 0x${chunk[pos].toString(16)}`);
      }
      const lineEnd = chunk.indexOf(LF, pos);
      if (lineEnd < 0) {
        this.keepLine(chunk.subarray(pos));
        return;
      }
      if (this.lineBytes > 0) {
        // The line began in an earlier chunk: join it once, now that it is whole.
        this.countLine(lineEnd + 1 - pos);
        bytes = Buffer.concat([...this.line, chunk.subarray(pos, lineEnd + 1)]);
        start = 0;
        this.line = [];
        this.lineBytes = 0;
      } else {
        this.countLine(lineEnd + 1 - pos);
      }
      const end = bytes === chunk ? lineEnd : bytes.length - 1;
      this.countReply(end + 1 - start);
      pos = lineEnd + 1;
      const bodyAt = this.readLine(bytes, start, end);
      if (bodyAt !== undefined) pos = this.startBulk(chunk, pos, bodyAt);
    }
  }

  /** Bytes of a line without its LF yet: kept, up to maxLineBytes. */
  private keepLine(piece: Buffer): void {
    this.countLine(piece.length);
    // A view would pin the whole chunk; a line is short.
    this.line.push(Buffer.from(piece));
    this.lineBytes += piece.length;
  }

  private countLine(more: number): void {
    if (this.lineBytes + more > this.limits.maxLineBytes) {
      throw new RespProtocolError(`a line longer than ${this.limits.maxLineBytes} bytes without its CRLF`);
    }
  }

  private countReply(bytes: number): void {
    this.replyBytes += bytes;
    if (this.replyBytes > this.limits.maxReplyBytes) throw new RespProtocolError(`a reply over ${this.limits.maxReplyBytes} bytes`);
  }

  /**
   * One whole line, bytes[start..end] with end at its LF. Returns the bulk
   * length to read next when the line is a bulk header, else undefined.
   */
  private readLine(bytes: Buffer, start: number, end: number): { type: number; length: number } | undefined {
    if (end === start || bytes[end - 1] !== CR) throw new RespProtocolError('line not ended by CRLF');
    const type = bytes[start];
    const line = bytes.toString('latin1', start + 1, end - 1);
    switch (type) {
      case 0x2b /* + */:
        this.value(bytes.toString('utf8', start + 1, end - 1));
        return undefined;
      case 0x2d /* - */:
        this.value(new RedisReplyError(bytes.toString('utf8', start + 1, end - 1)));
        return undefined;
      case 0x3a /* : */:
        this.value(integer(line));
        return undefined;
      case 0x5f /* _ */:
        if (line !== '') throw new RespProtocolError('null with a payload');
        this.value(null);
        return undefined;
      case 0x23 /* # */:
        if (line !== 't' && line !== 'f') throw new RespProtocolError(`boolean ${JSON.stringify(line.slice(0, 10))}`);
        this.value(line === 't');
        return undefined;
      case 0x2c /* , */:
        this.value(double(line));
        return undefined;
      case 0x28 /* ( */:
        if (!/^[-+]?[0-9]{1,1000}$/.test(line)) throw new RespProtocolError('big number');
        this.value(BigInt(line));
        return undefined;
      case 0x24 /* $ */:
      case 0x21 /* ! */:
      case 0x3d /* = */: {
        if (line === '-1' && type === 0x24) {
          this.value(null); // RESP2's null bulk, still sent by some commands
          return undefined;
        }
        return { type, length: this.length(line, this.limits.maxBulkBytes, 'bulk') };
      }
      case 0x2a /* * */:
      case 0x7e /* ~ */:
      case 0x25 /* % */:
      case 0x3e /* > */:
      case 0x7c /* | */: {
        if (line === '-1' && type === 0x2a) {
          this.value(null); // RESP2's null array
          return undefined;
        }
        const count = this.length(line, this.limits.maxElements, 'aggregate');
        const kind = type === 0x2a ? Kind.Array : type === 0x7e ? Kind.Set : type === 0x25 ? Kind.Map : type === 0x3e ? Kind.Push : Kind.Attribute;
        if (this.stack.length >= this.limits.maxDepth) throw new RespProtocolError(`nested deeper than ${this.limits.maxDepth}`);
        const remaining = kind === Kind.Map || kind === Kind.Attribute ? count * 2 : count;
        this.replyElements += remaining;
        if (this.replyElements > this.limits.maxElements) throw new RespProtocolError(`a reply of more than ${this.limits.maxElements} elements`);
        if (remaining > 0) this.stack.push({ kind, remaining, items: [] });
        else if (kind !== Kind.Attribute) this.value(finish({ kind, remaining, items: [] }));
        return undefined;
      }
      default:
        throw new RespProtocolError(`unknown type byte 0x${type.toString(16)}`);
    }
  }

  /** A bulk's body starts at chunk[pos]: a view when it is all there, else a buffer of its size filled as it comes. */
  private startBulk(chunk: Buffer, pos: number, { type, length }: { type: number; length: number }): number {
    this.countReply(length + 2);
    const end = pos + length + 2;
    if (end <= chunk.length) {
      if (chunk[end - 2] !== CR || chunk[end - 1] !== LF) throw new RespProtocolError('bulk not ended by CRLF');
      this.bulkValue(type, chunk.subarray(pos, pos + length));
      return end;
    }
    this.bulk = { type, body: Buffer.allocUnsafe(length), filled: 0, crlf: 0 };
    return this.continueBulk(chunk, pos);
  }

  private continueBulk(chunk: Buffer, pos: number): number {
    const bulk = this.bulk!;
    let at = pos;
    if (bulk.filled < bulk.body.length) {
      const n = Math.min(bulk.body.length - bulk.filled, chunk.length - at);
      chunk.copy(bulk.body, bulk.filled, at, at + n);
      bulk.filled += n;
      at += n;
    }
    while (bulk.filled === bulk.body.length && bulk.crlf < 2 && at < chunk.length) {
      if (chunk[at] !== (bulk.crlf === 0 ? CR : LF)) throw new RespProtocolError('bulk not ended by CRLF');
      bulk.crlf++;
      at++;
    }
    if (bulk.crlf === 2) {
      this.bulk = undefined;
      this.bulkValue(bulk.type, bulk.body);
    }
    return at;
  }

  private bulkValue(type: number, body: Buffer): void {
    if (type === 0x21) this.value(new RedisReplyError(body.toString('utf8')));
    else if (type === 0x3d) this.value(verbatim(body));
    else this.value(body);
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
        this.replyElements = 0;
        this.replyBytes = 0;
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
