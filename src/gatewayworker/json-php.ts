// JSON as PHP reads and writes it (GatewayWorker spec §2.5, §10.2, §12.3),
// over bytes and into the values of php-value.ts.
//
//   jsonDecode(bytes, options?) → PhpValue   json_decode($s, true): objects become
//       arrays in their order, keys canonicalized as PHP does ("5" is the int key
//       5, a repeated key replaces in place), an integer beyond int64 becomes a
//       float, strings stay UTF-8 bytes. Throws PhpDataError where PHP returns
//       null: JSON_ERR_SYNTAX (also for empty input, a BOM, `TRUE`, trailing
//       bytes), JSON_ERR_UTF8, JSON_ERR_UTF16 (a lone surrogate escape),
//       JSON_ERR_CTRL_CHAR; and where our bounds are crossed (`limit` set):
//       PHP_ERR_TOO_BIG, PHP_ERR_TOO_DEEP (PHP allows 512 levels), PHP_ERR_TOO_MANY.
//   jsonEncode(value) → Buffer   json_encode($v, JSON_UNESCAPED_UNICODE), what
//       Workerman sends a client for a non-scalar message (§10.2): `\/`, UTF-8
//       left as is but U+2028/U+2029 escaped, control characters as \b \f \n
//       \r \t or \u00xx, lists (keys 0…n−1 in order) as `[…]` and every other
//       array as `{…}`, floats with PHP's digits (`1.0e+25`, `1` for 1.0), an
//       object without its class as `{"__PHP_Incomplete_Class_Name":…, public
//       properties}`. Throws PhpDataError JSON_ERR_UTF8 or JSON_ERR_INF_OR_NAN
//       where PHP's json_encode returns false — Workerman then sends an empty
//       text frame (81 00), and so should the Gateway.
//   decodeBody(packet) → PhpValue   a send or kick body as PHP's Gateway holds it.
//   clientMessage(value) → Buffer   the payload of the text frame a client gets
//       for it: a scalar as PHP converts it to a string, anything else
//       jsonEncode'd, empty where json_encode fails (Workerman sends 81 00).
//
// So a send command (5, 6, 14, 22) without the raw flag sends a text frame of
// clientMessage(decodeBody(packet)); with the raw flag the body bytes as they
// are; a kick (7) sends clientMessage(v) first unless v = decodeBody(packet) is null.
//
// The decoder keeps nesting on an explicit stack and checks every bound before
// it allocates; the encoder's recursion is bounded by the value's depth (512).
import { isUtf8 } from 'node:buffer';
import { unserialize } from './php-serialize.js';
import { ByteWriter, type DataLimits, defaultDataLimits, phpFloat, type PhpArray, PhpDataError, type PhpKey, PhpObject, type PhpValue } from './php-value.js';

export type JsonDecodeOptions = DataLimits;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
/** PHP's scanner keeps a 19-digit integer an int below these digits, and at them when negative (PHP_INT_MIN). */
const LONG_MIN_DIGITS = '9223372036854775808';

interface Frame {
  readonly target: PhpArray;
  readonly object: boolean;
  /** An object's key read, waiting for its value. */
  key: PhpKey | undefined;
}

/** json_decode($input, true). Throws PhpDataError (see the header), nothing else. */
export function jsonDecode(input: Uint8Array, options: JsonDecodeOptions = {}): PhpValue {
  const limits = { ...defaultDataLimits, ...options };
  if (input.length > limits.maxBytes) throw new PhpDataError('PHP_ERR_TOO_BIG', 0, `JSON of ${input.length} bytes over the ${limits.maxBytes}-byte limit`);
  const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const latin1 = text.toString('latin1');
  const stack: Frame[] = [];
  let pos = 0;
  let elements = 0;

  const skip = (): void => {
    while (pos < text.length) {
      const c = text[pos];
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      pos++;
    }
  };
  const syntax = (why: string): PhpDataError => new PhpDataError('JSON_ERR_SYNTAX', pos, why);
  const count = (): void => {
    if (++elements > limits.maxElements) throw new PhpDataError('PHP_ERR_TOO_MANY', pos, `more than ${limits.maxElements} elements`);
  };

  for (;;) {
    // A value is expected here.
    skip();
    let value: PhpValue | undefined;
    const c = text[pos];
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= limits.maxDepth) throw new PhpDataError('PHP_ERR_TOO_DEEP', pos, `nesting deeper than ${limits.maxDepth}`);
      const object = c === 0x7b;
      pos++;
      skip();
      const frame: Frame = { target: new Map(), object, key: undefined };
      if (text[pos] === (object ? 0x7d : 0x5d)) {
        pos++;
        value = frame.target;
      } else {
        stack.push(frame);
        if (object) frame.key = readKey();
        continue;
      }
    } else if (c === QUOTE) {
      value = readString();
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      value = readNumber();
    } else if (latin1.startsWith('true', pos)) {
      pos += 4;
      value = true;
    } else if (latin1.startsWith('false', pos)) {
      pos += 5;
      value = false;
    } else if (latin1.startsWith('null', pos)) {
      pos += 4;
      value = null;
    } else {
      throw syntax(pos >= text.length ? 'the JSON ends where a value should be' : 'not a JSON value');
    }
    // Deliver the value, closing every container it completes.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        skip();
        if (pos !== text.length) throw syntax('bytes after the JSON value');
        return value;
      }
      count();
      top.target.set(top.object ? (top.key as PhpKey) : String(top.target.size), value);
      skip();
      const next = text[pos++];
      if (next === COMMA) {
        if (top.object) top.key = readKey();
        break;
      }
      if (next !== (top.object ? 0x7d : 0x5d)) {
        pos--;
        throw syntax(top.object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
      stack.pop();
      value = top.target;
    }
  }

  /** `"key" :` — as a PHP array key. */
  function readKey(): PhpKey {
    skip();
    if (text[pos] !== QUOTE) throw syntax('an object key is a string');
    const key = readString().toString('latin1');
    skip();
    if (text[pos++] !== COLON) {
      pos--;
      throw syntax("expected ':'");
    }
    return key;
  }

  /** A string, as its UTF-8 bytes; pos is at its opening quote. */
  function readString(): Buffer {
    pos++;
    const parts: Buffer[] = [];
    let run = pos;
    for (;;) {
      if (pos >= text.length) throw syntax('the JSON ends inside a string');
      const b = text[pos];
      if (b === QUOTE || b === BACKSLASH) {
        const raw = text.subarray(run, pos);
        if (!isUtf8(raw)) throw new PhpDataError('JSON_ERR_UTF8', run, 'malformed UTF-8');
        parts.push(raw);
        if (b === QUOTE) {
          pos++;
          return Buffer.concat(parts);
        }
        parts.push(readEscape());
        run = pos;
      } else if (b < 0x20) {
        throw new PhpDataError('JSON_ERR_CTRL_CHAR', pos, 'a control character in a string');
      } else {
        pos++;
      }
    }
  }

  /** One escape (pos at its backslash) as UTF-8 bytes; a surrogate pair is one character. */
  function readEscape(): Buffer {
    const at = pos;
    const e = text[pos + 1];
    pos += 2;
    const simple = e === undefined ? undefined : SIMPLE_ESCAPES.get(e);
    if (simple !== undefined) return Buffer.from([simple]);
    if (e !== 0x75 /* u */) {
      pos = at;
      throw syntax('not a JSON escape');
    }
    const unit = hex4(pos);
    if (unit < 0) throw syntax('\\u takes four hex digits');
    pos += 4;
    if (unit >= 0xdc00 && unit <= 0xdfff) throw new PhpDataError('JSON_ERR_UTF16', at, 'a lone low surrogate');
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = text[pos] === BACKSLASH && text[pos + 1] === 0x75 ? hex4(pos + 2) : -1;
      if (low < 0xdc00 || low > 0xdfff) throw new PhpDataError('JSON_ERR_UTF16', at, 'a lone high surrogate');
      pos += 6;
      return Buffer.from(String.fromCharCode(unit, low), 'utf8');
    }
    return Buffer.from(String.fromCharCode(unit), 'utf8');
  }

  function hex4(at: number): number {
    const digits = latin1.slice(at, at + 4);
    return /^[0-9a-fA-F]{4}$/.test(digits) ? parseInt(digits, 16) : -1;
  }

  /** An int when it fits in int64 (PHP's scanner decides by its digits), else a float. */
  function readNumber(): PhpValue {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(latin1);
    if (m === null) throw syntax('not a JSON number');
    const token = m[0];
    pos += token.length;
    if (m[1] !== undefined || m[2] !== undefined) return Number(token);
    const negative = token.startsWith('-');
    const digits = negative ? token.slice(1) : token;
    const bigint = digits.length > 19 || (digits.length === 19 && (digits > LONG_MIN_DIGITS || (digits === LONG_MIN_DIGITS && !negative)));
    return bigint ? Number(token) : BigInt(token);
  }
}

const SIMPLE_ESCAPES = new Map<number, number>([
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x2f, 0x2f],
  [0x62, 0x08],
  [0x66, 0x0c],
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
]);

/** json_encode's own depth limit. */
const MAX_ENCODE_DEPTH = 512;
const INCOMPLETE_CLASS_NAME = '__PHP_Incomplete_Class_Name';

/** json_encode($value, JSON_UNESCAPED_UNICODE). Throws PhpDataError where PHP returns false. */
export function jsonEncode(value: PhpValue): Buffer {
  const w = new ByteWriter();
  encode(w, value, 0);
  return w.finish();
}

/**
 * A send or kick command's body as PHP's Gateway holds it after
 * GatewayProtocol::decode (§2.4): the raw bytes when flag bit 0 is set, else
 * the unserialized value, bytes after it ignored as PHP 8.2 does, and PHP's
 * `false` for a body unserialize() refuses (malformed; also a reference, which
 * PHP would read: a deviation). Only our bounds throw (PhpDataError, `limit`).
 */
export function decodeBody(packet: { flag: number; body: Buffer }, options?: DataLimits): PhpValue {
  if ((packet.flag & 0x01) !== 0) return packet.body;
  try {
    return unserialize(packet.body, { ...options, allowTrailingBytes: true });
  } catch (error) {
    if (error instanceof PhpDataError && !error.limit) return false;
    throw error;
  }
}

/**
 * What Workerman's websocket encoder sends a client for a body (§10.2): a
 * scalar as PHP's string of it (true → "1", false → "", a float with 14
 * digits), anything else its JSON; nothing (an empty text frame) where PHP's
 * json_encode returns false.
 */
export function clientMessage(value: PhpValue): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'boolean') return Buffer.from(value ? '1' : '', 'latin1');
  if (typeof value === 'bigint') return Buffer.from(value.toString(), 'latin1');
  if (typeof value === 'number') return Buffer.from(phpFloat(value, 'string'), 'latin1');
  try {
    return jsonEncode(value);
  } catch (error) {
    if (error instanceof PhpDataError) return Buffer.alloc(0);
    throw error;
  }
}

function encode(w: ByteWriter, value: PhpValue, depth: number): void {
  if (value === null) return w.latin1('null');
  if (typeof value === 'boolean') return w.latin1(value ? 'true' : 'false');
  if (typeof value === 'bigint') return w.latin1(value.toString());
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PhpDataError('JSON_ERR_INF_OR_NAN', 0, 'Inf and NaN cannot be JSON encoded');
    return w.latin1(phpFloat(value, 'json'));
  }
  if (Buffer.isBuffer(value)) return encodeString(w, value);
  if (depth >= MAX_ENCODE_DEPTH) throw new PhpDataError('PHP_ERR_TOO_DEEP', 0, `a value nested deeper than ${MAX_ENCODE_DEPTH}`);
  if (value instanceof Map) {
    if (isList(value)) {
      w.byte(0x5b);
      let first = true;
      for (const item of value.values()) {
        if (!first) w.byte(COMMA);
        first = false;
        encode(w, item, depth + 1);
      }
      return w.byte(0x5d);
    }
    return encodeObject(w, value, depth);
  }
  // An object without its class: PHP keeps the class name as a first property.
  // A C: object's payload is opaque: PHP, without the class, keeps nothing of it.
  const props: PhpArray = new Map([[INCOMPLETE_CLASS_NAME, value.className]]);
  const properties = value instanceof PhpObject ? value.properties : new Map<PhpKey, PhpValue>();
  for (const [key, item] of properties) {
    // Protected and private properties ("\0*\0name", "\0Class\0name") are not encoded.
    if (key.charCodeAt(0) !== 0) props.set(key, item);
  }
  encodeObject(w, props, depth);
}

function encodeObject(w: ByteWriter, entries: PhpArray, depth: number): void {
  w.byte(0x7b);
  let first = true;
  for (const [key, item] of entries) {
    if (!first) w.byte(COMMA);
    first = false;
    encodeString(w, Buffer.from(key, 'latin1'));
    w.byte(COLON);
    encode(w, item, depth + 1);
  }
  w.byte(0x7d);
}

/** zend_array_is_list: keys 0, 1, 2… in order (an empty array is a list). */
function isList(array: PhpArray): boolean {
  let i = 0;
  for (const key of array.keys()) {
    if (key !== String(i++)) return false;
  }
  return true;
}

const HEX = '0123456789abcdef';

function encodeString(w: ByteWriter, bytes: Buffer): void {
  if (!isUtf8(bytes)) throw new PhpDataError('JSON_ERR_UTF8', 0, 'malformed UTF-8 characters, possibly incorrectly encoded');
  w.byte(QUOTE);
  let run = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    let escape: string | undefined;
    if (b < 0x20) escape = CONTROL_ESCAPES.get(b) ?? `\\u00${HEX[b >> 4]}${HEX[b & 15]}`;
    else if (b === QUOTE) escape = '\\"';
    else if (b === BACKSLASH) escape = '\\\\';
    else if (b === 0x2f) escape = '\\/';
    else if (b === 0xe2 && bytes[i + 1] === 0x80 && (bytes[i + 2] === 0xa8 || bytes[i + 2] === 0xa9)) {
      // U+2028 and U+2029 end a line in JavaScript source: PHP escapes them by default.
      escape = bytes[i + 2] === 0xa8 ? '\\u2028' : '\\u2029';
      w.bytes(bytes.subarray(run, i));
      w.latin1(escape);
      i += 2;
      run = i + 1;
      continue;
    }
    if (escape !== undefined) {
      w.bytes(bytes.subarray(run, i));
      w.latin1(escape);
      run = i + 1;
    }
  }
  w.bytes(bytes.subarray(run));
  w.byte(QUOTE);
}

const CONTROL_ESCAPES = new Map<number, string>([
  [0x08, '\\b'],
  [0x0c, '\\f'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
]);
