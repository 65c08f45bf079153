// The PHP values a Gateway meets (GatewayWorker spec §12), modelled so that
// nothing is lost between PHP's bytes and JavaScript:
//
//   PHP            here
//   null           null
//   bool           boolean
//   int            bigint   (exact over the whole int64 range, never a lossy number)
//   float          number
//   string         Buffer   (bytes: PHP strings are not text, sessions need not be UTF-8)
//   array          PhpArray = Map<PhpKey, PhpValue>, in PHP's order
//   object O:      PhpObject (a class name and its properties, as unserialize() without the class keeps them)
//   object C:      PhpSerializable (a class name and its opaque payload)
//
// A PhpKey is the key's bytes as a binary string (one char per byte, latin1),
// an int key being its canonical decimal. PHP turns a string key that reads as
// a canonical int into that int (§12.1), so the string "5" and the int 5 are
// one key in PHP and one key here, and whether a key is an int is a property
// of its text alone (isIntKey). Values are treated as immutable once built.
//
// PhpDataError is the one error of the PHP codecs (serialize, JSON, the
// ext_data readers): a stable code and the byte offset where the input went
// wrong. `limit` says that the input broke one of our bounds (DataLimits; PHP
// might have accepted it); otherwise PHP refuses the input too, or throws
// (PHP_ERR_ILLEGAL_OFFSET: an array as a key; PHP_ERR_NOT_ARRAY: a merge of a
// non-array), which kills PHP's Gateway process: the command is then dropped.

export type PhpKey = string;
export type PhpArray = Map<PhpKey, PhpValue>;
export type PhpValue = null | boolean | bigint | number | Buffer | PhpArray | PhpObject | PhpSerializable;

/** An object as `unserialize()` keeps it when its class is unknown: serialized back to the same `O:` bytes. */
export class PhpObject {
  constructor(
    readonly className: Buffer,
    /** Property names are always strings in PHP (an `i:` name is read as its decimal string). */
    readonly properties: PhpArray,
  ) {}
}

/** A `C:` object (a class implementing Serializable): its payload kept opaque and written back verbatim. */
export class PhpSerializable {
  constructor(
    readonly className: Buffer,
    readonly data: Buffer,
  ) {}
}

export type PhpDataErrorCode =
  | 'PHP_ERR_MALFORMED'
  | 'PHP_ERR_TRUNCATED'
  | 'PHP_ERR_TRAILING'
  | 'PHP_ERR_UNSUPPORTED'
  | 'PHP_ERR_LENGTH'
  | 'PHP_ERR_TOO_BIG'
  | 'PHP_ERR_TOO_DEEP'
  | 'PHP_ERR_TOO_MANY'
  | 'PHP_ERR_ILLEGAL_OFFSET'
  | 'PHP_ERR_NOT_ARRAY'
  | 'JSON_ERR_SYNTAX'
  | 'JSON_ERR_UTF8'
  | 'JSON_ERR_UTF16'
  | 'JSON_ERR_CTRL_CHAR'
  | 'JSON_ERR_INF_OR_NAN';

const LIMIT_CODES: ReadonlySet<PhpDataErrorCode> = new Set(['PHP_ERR_TOO_BIG', 'PHP_ERR_TOO_DEEP', 'PHP_ERR_TOO_MANY']);

export class PhpDataError extends Error {
  readonly code: PhpDataErrorCode;
  /** Byte offset in the input where it went wrong (0 for values, which have no offset). */
  readonly offset: number;
  /** True when our bound was crossed; false when PHP refuses the input as well. */
  readonly limit: boolean;
  constructor(code: PhpDataErrorCode, offset: number, message: string) {
    super(`${message} at byte ${offset}`);
    this.name = 'PhpDataError';
    this.code = code;
    this.offset = offset;
    this.limit = LIMIT_CODES.has(code);
  }
}

/** The bounds of the decoders (unserialize, json_decode), checked before anything is allocated. */
export interface DataLimits {
  /** Largest input. Default 10 MiB, the largest GatewayProtocol packet. */
  maxBytes?: number;
  /** Deepest nesting of arrays and objects. Default 64. */
  maxDepth?: number;
  /** Most array elements and object properties, all levels together. Default 1,048,576. */
  maxElements?: number;
}

export const defaultDataLimits: Required<DataLimits> = {
  maxBytes: 10 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 1024 * 1024,
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const CANONICAL_INT = /^(?:0|-?[1-9][0-9]{0,18})$/;

/** Whether PHP stores this key as an int: a canonical decimal within int64 (§12.1). */
export function isIntKey(key: PhpKey): boolean {
  if (!CANONICAL_INT.test(key)) return false;
  if (key.length < 19) return true;
  const n = BigInt(key);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** Clamps to int64 the way unserialize() does for an out-of-range `i:` ("Numerical result out of range"). */
export function clampInt64(n: bigint): bigint {
  return n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n;
}

/**
 * The key PHP uses when a value indexes an array (`$a[$v]`, `isset($a[$v])`),
 * or undefined where PHP throws "Illegal offset type" (arrays, objects).
 * A float is truncated, and one outside int64 wraps modulo 2^64 (infinities and
 * NaN give 0), as PHP 8.2's zend_dval_to_lval does.
 */
export function phpKey(value: PhpValue): PhpKey | undefined {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '0';
    return BigInt.asIntN(64, BigInt(Math.trunc(value))).toString();
  }
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  return undefined;
}

/** The key of a PHP string's bytes: a uid or group as ext_data carries it (cmds 12, 15, 20, 21, 23, 24, 27). */
export function bytesKey(bytes: Uint8Array): PhpKey {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The key of a JavaScript string taken as UTF-8 text (what a PHP literal 'room' would be). */
export function textKey(text: string): PhpKey {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** The bytes of a key (for a string key: the PHP string). */
export function keyBytes(key: PhpKey): Buffer {
  return Buffer.from(key, 'latin1');
}

/** A PHP string from JavaScript text (UTF-8) or from bytes (copied). */
export function phpString(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

/** A PHP array from key/value pairs; number and bigint keys are int keys, a later repeat replaces in place. */
export function phpArray(entries: Iterable<readonly [PhpKey | number | bigint, PhpValue]>): PhpArray {
  const out: PhpArray = new Map();
  for (const [key, value] of entries) out.set(typeof key === 'string' ? key : BigInt(key).toString(), value);
  return out;
}

/** A PHP list (keys 0…n−1) of the values. */
export function phpList(values: Iterable<PhpValue>): PhpArray {
  const out: PhpArray = new Map();
  for (const value of values) out.set(String(out.size), value);
  return out;
}

/** PHP's `empty()` on a string: '' and '0' are falsy (§12.4). */
export function isEmptyString(bytes: Uint8Array): boolean {
  return bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0x30);
}

/**
 * A float as PHP prints it (zend_gcvt), for three uses:
 * - 'serialize': `serialize()`'s `d:` (serialize_precision -1: shortest digits
 *   that read back the same, exponent with 'E' when the decimal exponent is
 *   below −4 or above 16), and INF, -INF, NAN;
 * - 'json': the same digits with 'e' (json_encode); callers refuse INF and NAN;
 * - 'string': `(string)$float` (precision 14, exponent above 14).
 */
export function phpFloat(value: number, use: 'serialize' | 'json' | 'string'): string {
  if (Number.isNaN(value)) return 'NAN';
  if (!Number.isFinite(value)) return value > 0 ? 'INF' : '-INF';
  const negative = value < 0 || Object.is(value, -0);
  // toExponential() gives the shortest round-trip digits, toExponential(13)
  // the 14 correctly rounded ones: the digits zend_dtoa's modes 0 and 2 give.
  const exp = use === 'string' ? Math.abs(value).toExponential(13) : Math.abs(value).toExponential();
  const e = exp.indexOf('e');
  let digits = exp.slice(0, e).replace('.', '');
  digits = digits.replace(/0+$/, '') || '0';
  const decpt = Number(exp.slice(e + 1)) + 1;
  const ndigit = use === 'string' ? 14 : 17;
  const body = gcvt(digits, value === 0 ? 1 : decpt, ndigit, use === 'json' ? 'e' : 'E');
  return negative ? `-${body}` : body;
}

/** php_gcvt's layout of a digit string whose decimal point sits after `decpt` digits. */
function gcvt(digits: string, decpt: number, ndigit: number, expChar: string): string {
  if (decpt < 0 ? decpt < -3 : decpt > ndigit) {
    const exponent = decpt - 1;
    const mantissa = digits.length === 1 ? `${digits}.0` : `${digits[0]}.${digits.slice(1)}`;
    return `${mantissa}${expChar}${exponent < 0 ? '-' : '+'}${Math.abs(exponent)}`;
  }
  if (decpt <= 0) return `0.${'0'.repeat(-decpt)}${digits}`;
  if (digits.length <= decpt) return digits + '0'.repeat(decpt - digits.length);
  return `${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/**
 * Bytes written piece by piece into one growing buffer: the encoders'
 * output, without an intermediate string per value.
 */
export class ByteWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(initial = 256) {
    this.buffer = Buffer.allocUnsafe(initial);
  }

  private reserve(more: number): void {
    if (this.length + more <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + more));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  /** Text whose every char is below 0x100 (syntax, digits, binary strings). */
  latin1(text: string): void {
    this.reserve(text.length);
    this.length += this.buffer.write(text, this.length, 'latin1');
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** The bytes written (a copy the size of the output, so the slack is not pinned). */
  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}
