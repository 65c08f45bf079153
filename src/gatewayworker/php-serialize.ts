// PHP's serialize() and a bounded unserialize() over bytes (GatewayWorker spec
// §12.2), for the values of php-value.ts. The Gateway needs them for
// CMD_UPDATE_SESSION (unserialize both sessions, merge, serialize: §7.2), for
// non-scalar message bodies (unserialize, then json_encode: §10.2) and for
// every query reply (serialize: §2.7).
//
//   unserialize(bytes, options?) → PhpValue      throws PhpDataError (code, offset)
//   serialize(value) → Buffer
//
// Round trip: serialize(unserialize(x)) is x, byte for byte, for everything
// PHP's serialize() writes without references: N; b: i: d: s: a: O: C:.
// unserialize() also reads what PHP reads beyond that (`i:+5;`, `i:05;`,
// `d:.5;`, `d:1e5;`, leading zeros in lengths, an `s:` key "5" that is the int
// key 5, a repeated key replacing in place) to the value PHP gets, and clamps
// an `i:` outside int64 the way PHP does.
//
// Refused, with the reason as the error's code:
// - r: and R: (references), E: (enums), S: (escaped strings) — PHP_ERR_UNSUPPORTED.
//   PHP's own Gateway has no enum classes (it fails too) and has not written
//   S: since PHP 6; a reference cannot be kept through a merge, whose result PHP
//   would number differently. The Gateway's answer to an UPDATE_SESSION it
//   cannot read is to keep the stored session (as for the non-array session
//   PHP throws on, §7.2).
// - C: is kept verbatim (PHP's Gateway, without the class, would write it
//   back as an empty `O:…:0:{}` and lose its payload): a deviation in the
//   application's favour.
// - Bytes after the value: PHP 8.2 ignores them (8.3 warns); refused here
//   unless `allowTrailingBytes` (PHP_ERR_TRAILING).
//
// Bounds, checked before anything is allocated, so hostile input costs at most
// its own size: the whole input (maxBytes), nesting of arrays and objects
// (maxDepth; PHP allows 4096), elements of all arrays and objects together
// (maxElements), and every declared length or count against the bytes left
// (a string longer than the rest, an array whose elements cannot fit). Nesting
// is kept on an explicit stack: no recursion on input.
import { ByteWriter, clampInt64, type DataLimits, defaultDataLimits, isIntKey, phpFloat, type PhpArray, PhpDataError, type PhpKey, PhpObject, PhpSerializable, type PhpValue } from './php-value.js';

export interface UnserializeOptions extends DataLimits {
  /** Ignore bytes after the value, as PHP 8.2 does. Default false. */
  allowTrailingBytes?: boolean;
}

export const defaultUnserializeOptions: Required<UnserializeOptions> = { ...defaultDataLimits, allowTrailingBytes: false };

/** The shortest element: a key `i:0;` and a value `N;`. */
const MIN_ELEMENT_BYTES = 6;
const QUOTE = 0x22;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const PLUS = 0x2b;
const MINUS = 0x2d;

/** An array or object whose elements are being read. */
interface Frame {
  readonly target: PhpArray;
  remaining: number;
  /** The key read, waiting for its value. */
  key: PhpKey | undefined;
  /** The class, when the frame holds an object's properties. */
  readonly className: Buffer | undefined;
}

/** Reads one serialized value. Throws PhpDataError; never anything else on any input. */
export function unserialize(input: Uint8Array, options: UnserializeOptions = {}): PhpValue {
  return new Reader(input, { ...defaultUnserializeOptions, ...options }).read();
}

/** `/^(NAN|-?INF|[+-]?(\d+|\d*\.\d+|\d+\.\d*)([eE][+-]?\d+)?)$/`: what PHP's `d:` accepts. */
const FLOAT = /^(?:NAN|-?INF|[+-]?(?:\d+|\d*\.\d+|\d+\.\d*)(?:[eE][+-]?\d+)?)$/;
/** zend_is_valid_class_name: letters, digits, '_', '\' and bytes ≥ 0x80. */
const CLASS_NAME = /^[A-Za-z0-9_\\\x80-\xff]+$/;

class Reader {
  private pos = 0;
  private elements = 0;
  private readonly stack: Frame[] = [];

  constructor(
    private readonly input: Uint8Array,
    private readonly options: Required<UnserializeOptions>,
  ) {}

  read(): PhpValue {
    if (this.input.length > this.options.maxBytes) {
      throw new PhpDataError('PHP_ERR_TOO_BIG', 0, `input of ${this.input.length} bytes over the ${this.options.maxBytes}-byte limit`);
    }
    const stack = this.stack;
    for (;;) {
      const top = stack[stack.length - 1];
      let value: PhpValue | undefined;
      if (top === undefined) {
        value = this.value();
      } else if (top.remaining === 0) {
        this.expect(CLOSE);
        stack.pop();
        value = top.className === undefined ? top.target : new PhpObject(top.className, top.target);
      } else if (top.key === undefined) {
        top.key = this.key(top.className !== undefined);
        continue;
      } else {
        value = this.value();
      }
      if (value === undefined) continue; // an array or object was opened
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        if (this.pos < this.input.length && !this.options.allowTrailingBytes) {
          throw new PhpDataError('PHP_ERR_TRAILING', this.pos, `${this.input.length - this.pos} bytes after the value`);
        }
        return value;
      }
      parent.target.set(parent.key as PhpKey, value);
      parent.key = undefined;
      parent.remaining--;
    }
  }

  /** A value; undefined when it opened an array or object (pushed on the stack). */
  private value(): PhpValue | undefined {
    const at = this.pos;
    const type = this.byte();
    if (type === 0x4e /* N */) {
      this.expect(SEMICOLON);
      return null;
    }
    this.expect(COLON);
    switch (type) {
      case 0x62 /* b */: {
        const b = this.byte();
        if (b !== 0x30 && b !== 0x31) throw this.malformed(this.pos - 1, 'b: takes 0 or 1');
        this.expect(SEMICOLON);
        return b === 0x31;
      }
      case 0x69 /* i */: {
        const n = this.int();
        this.expect(SEMICOLON);
        return n;
      }
      case 0x64 /* d */:
        return this.float();
      case 0x73 /* s */:
        return this.string();
      case 0x61 /* a */: {
        const count = this.count(BigInt(this.length()));
        this.expect(COLON);
        this.expect(OPEN);
        this.open(count, undefined, at);
        return undefined;
      }
      case 0x4f /* O */:
      case 0x43 /* C */:
        return this.object(type === 0x43, at);
      case 0x72 /* r */:
      case 0x52 /* R */:
        throw new PhpDataError('PHP_ERR_UNSUPPORTED', at, 'a reference (r:, R:) is not supported');
      case 0x45 /* E */:
        throw new PhpDataError('PHP_ERR_UNSUPPORTED', at, 'an enum (E:) is not supported');
      case 0x53 /* S */:
        throw new PhpDataError('PHP_ERR_UNSUPPORTED', at, 'an escaped string (S:) is not supported');
      default:
        throw this.malformed(at, `no value starts with 0x${type.toString(16)}`);
    }
  }

  /** An array key (i: or s:); in an object, an int name becomes its decimal string (as in PHP). */
  private key(inObject: boolean): PhpKey {
    const at = this.pos;
    const type = this.byte();
    this.expect(COLON);
    if (type === 0x69 /* i */) {
      const n = this.int();
      this.expect(SEMICOLON);
      return n.toString();
    }
    if (type === 0x73 /* s */) return this.string().toString('latin1');
    throw this.malformed(at, inObject ? 'a property name is i: or s:' : 'an array key is i: or s:');
  }

  private open(count: number, className: Buffer | undefined, at: number): void {
    if (this.stack.length >= this.options.maxDepth) {
      throw new PhpDataError('PHP_ERR_TOO_DEEP', at, `nesting deeper than ${this.options.maxDepth}`);
    }
    this.stack.push({ target: new Map(), remaining: count, key: undefined, className });
  }

  /** A declared element count, checked against the bounds and the bytes left. */
  private count(n: bigint): number {
    const at = this.pos;
    if (n < 0n) throw this.malformed(at, 'a negative count');
    if (n * BigInt(MIN_ELEMENT_BYTES) + 1n > BigInt(this.input.length - this.pos)) {
      throw new PhpDataError('PHP_ERR_LENGTH', at, `${n} elements cannot fit in the ${this.input.length - this.pos} bytes left`);
    }
    const count = Number(n);
    this.elements += count;
    if (this.elements > this.options.maxElements) {
      throw new PhpDataError('PHP_ERR_TOO_MANY', at, `more than ${this.options.maxElements} elements`);
    }
    return count;
  }

  /** O:len:"Class":count:{…} or C:len:"Class":len:{payload}. */
  private object(custom: boolean, at: number): PhpValue | undefined {
    const name = this.quoted();
    if (name.length === 0 || !CLASS_NAME.test(name.toString('latin1'))) throw this.malformed(at, 'not a class name');
    this.expect(COLON);
    if (custom) {
      const length = this.length();
      this.expect(COLON);
      this.expect(OPEN);
      const data = this.take(length);
      this.expect(CLOSE);
      return new PhpSerializable(name, data);
    }
    // PHP reads an object's count with a sign allowed (parse_iv), an array's without.
    const count = this.count(this.int());
    this.expect(COLON);
    this.expect(OPEN);
    this.open(count, name, at);
    return undefined;
  }

  /** s:len:"bytes"; */
  private string(): Buffer {
    const bytes = this.quoted();
    this.expect(SEMICOLON);
    return bytes;
  }

  /** len:"bytes" (the closing quote included). */
  private quoted(): Buffer {
    const length = this.length();
    this.expect(COLON);
    this.expect(QUOTE);
    const bytes = this.take(length);
    this.expect(QUOTE);
    return bytes;
  }

  /** d:…; — PHP's grammar, then JavaScript's correctly rounded reading (zend_strtod's). */
  private float(): number {
    const at = this.pos;
    const end = this.input.indexOf(SEMICOLON, at);
    // 400 characters cover any float PHP writes; a longer token is not one.
    if (end < 0 || end - at > 400) {
      if (end < 0 && this.input.length - at <= 400) throw this.truncated();
      throw this.malformed(at, 'not a float');
    }
    const text = Buffer.from(this.input.subarray(at, end)).toString('latin1');
    if (!FLOAT.test(text)) throw this.malformed(at, 'not a float');
    this.pos = end + 1;
    if (text === 'NAN') return NaN;
    if (text.endsWith('INF')) return text.startsWith('-') ? -Infinity : Infinity;
    return Number(text);
  }

  /** [+-]?[0-9]+, clamped to int64 as PHP does; at most 19 significant digits are ever converted. */
  private int(): bigint {
    const at = this.pos;
    let negative = false;
    const sign = this.peek();
    if (sign === MINUS || sign === PLUS) {
      negative = sign === MINUS;
      this.pos++;
    }
    const start = this.pos;
    while (this.pos < this.input.length && this.input[this.pos] === 0x30) this.pos++;
    const significant = this.pos;
    while (this.pos < this.input.length && isDigit(this.input[this.pos])) this.pos++;
    if (this.pos === start) throw this.pos >= this.input.length ? this.truncated() : this.malformed(at, 'not an integer');
    const digits = this.pos - significant;
    if (digits > 19) return clampInt64(negative ? -(2n ** 64n) : 2n ** 64n);
    if (digits === 0) return 0n;
    const text = Buffer.from(this.input.subarray(significant, this.pos)).toString('latin1');
    return clampInt64(negative ? -BigInt(text) : BigInt(text));
  }

  /** [0-9]+ as a length or count, no larger than the bytes left. */
  private length(): number {
    const at = this.pos;
    while (this.pos < this.input.length && isDigit(this.input[this.pos])) this.pos++;
    if (this.pos === at) throw this.pos >= this.input.length ? this.truncated() : this.malformed(at, 'not a length');
    const left = this.input.length - this.pos;
    const digits = Buffer.from(this.input.subarray(at, this.pos)).toString('latin1').replace(/^0+(?=.)/, '');
    // Past 15 digits no length can fit in any input: no need to convert it exactly.
    const n = digits.length > 15 ? Infinity : Number(digits);
    if (n > left) throw new PhpDataError('PHP_ERR_LENGTH', at, `a length of ${digits} with ${left} bytes left`);
    return n;
  }

  private take(length: number): Buffer {
    if (this.input.length - this.pos < length) throw this.truncated();
    const bytes = Buffer.from(this.input.subarray(this.pos, this.pos + length));
    this.pos += length;
    return bytes;
  }

  private peek(): number {
    if (this.pos >= this.input.length) throw this.truncated();
    return this.input[this.pos];
  }

  private byte(): number {
    const b = this.peek();
    this.pos++;
    return b;
  }

  private expect(b: number): void {
    if (this.peek() !== b) throw this.malformed(this.pos, `expected '${String.fromCharCode(b)}'`);
    this.pos++;
  }

  private truncated(): PhpDataError {
    return new PhpDataError('PHP_ERR_TRUNCATED', this.input.length, 'the input ends inside a value');
  }

  private malformed(at: number, why: string): PhpDataError {
    return new PhpDataError('PHP_ERR_MALFORMED', at, why);
  }
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** Values nested deeper than this are refused (a Map can be built to contain itself). */
const MAX_SERIALIZE_DEPTH = 512;

/** PHP's serialize() of a value. Throws PhpDataError PHP_ERR_TOO_DEEP past 512 levels. */
export function serialize(value: PhpValue): Buffer {
  const w = new ByteWriter();
  write(w, value, 0);
  return w.finish();
}

function write(w: ByteWriter, value: PhpValue, depth: number): void {
  if (value === null) return w.latin1('N;');
  if (typeof value === 'boolean') return w.latin1(value ? 'b:1;' : 'b:0;');
  if (typeof value === 'bigint') return w.latin1(`i:${value};`);
  if (typeof value === 'number') return w.latin1(`d:${phpFloat(value, 'serialize')};`);
  if (Buffer.isBuffer(value)) return writeString(w, value);
  if (depth >= MAX_SERIALIZE_DEPTH) throw new PhpDataError('PHP_ERR_TOO_DEEP', 0, `a value nested deeper than ${MAX_SERIALIZE_DEPTH}`);
  if (value instanceof PhpSerializable) {
    writeClass(w, 'C', value.className);
    w.latin1(`:${value.data.length}:{`);
    w.bytes(value.data);
    return w.byte(CLOSE);
  }
  const object = value instanceof PhpObject;
  const entries = object ? value.properties : value;
  if (object) writeClass(w, 'O', value.className);
  else w.latin1('a');
  w.latin1(`:${entries.size}:{`);
  for (const [key, item] of entries) {
    // Property names stay strings; array keys that read as ints are ints (§12.1).
    if (!object && isIntKey(key)) w.latin1(`i:${key};`);
    else writeString(w, Buffer.from(key, 'latin1'));
    write(w, item, depth + 1);
  }
  w.byte(CLOSE);
}

function writeString(w: ByteWriter, bytes: Uint8Array): void {
  w.latin1(`s:${bytes.length}:"`);
  w.bytes(bytes);
  w.latin1('";');
}

function writeClass(w: ByteWriter, type: 'O' | 'C', name: Buffer): void {
  w.latin1(`${type}:${name.length}:"`);
  w.bytes(name);
  w.latin1('"');
}
