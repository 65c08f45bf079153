// PHP's parse_str() and the query part of parse_url(), ported from PHP 8.2's C
// (main/php_variables.c php_default_treat_data + php_register_variable_ex,
// ext/standard/url.c php_url_parse_ex2), so that the `get` array of
// CMD_ON_WEBSOCKET_CONNECT (GatewayWorker spec §10.3) holds what PHP's Gateway
// puts there, quirks included:
//
//   parseStr('a=1&b[]=2&b[]=3&c.d=4') → ['a'=>'1', 'b'=>['2','3'], 'c_d'=>'4']
//   - pairs split at '&' (empty ones skipped), then '+' and %XX decoded; a name
//     ends at a decoded NUL, leading spaces are dropped, ' ' and '.' before the
//     first '[' become '_'; `a[]` appends, `a[k]` nests, `a[b` (no ']')
//     is the name `a_b`, anything after a ']' not followed by '[' is ignored;
//   - keys canonicalized ('5' is the int key 5), a later value replacing an
//     earlier one in place, a scalar replaced by an array when indexed;
//   - max_input_vars (1000) pairs at most, the rest ignored; past
//     max_input_nesting_level (64) brackets the whole top-level variable is dropped.
//   phpUrlQuery('/a:80/x?t=1') → ''  (parse_url fails on it, so PHP has no query)
//
// Input and output strings are binary strings (latin1, one char per byte),
// as wssd's request head gives them; values in the array are Buffers.
import { isIntKey, PhpArray, PhpKey } from './php-value.js';

export interface ParseStrOptions {
  /** PHP's max_input_vars. Default 1000. */
  maxInputVars?: number;
  /** PHP's max_input_nesting_level. Default 64. */
  maxNestingLevel?: number;
}

const INT64_MAX = 2n ** 63n - 1n;

/** parse_str($query, $result); returns $result. Bounded by the options, so by the input. */
export function parseStr(query: string, options: ParseStrOptions = {}): PhpArray {
  const maxInputVars = options.maxInputVars ?? 1000;
  const maxNesting = options.maxNestingLevel ?? 64;
  // The C code sees a NUL-terminated string.
  const nul = query.indexOf('\0');
  const input = nul < 0 ? query : query.slice(0, nul);
  const result: PhpArray = new Map();
  const next = new NextIndex();
  let count = 0;
  for (const pair of input.split('&')) {
    if (pair === '') continue;
    if (++count > maxInputVars) break;
    const eq = pair.indexOf('=');
    const name = urlDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : urlDecode(pair.slice(eq + 1));
    const end = name.indexOf('\0');
    register(result, end < 0 ? name : name.slice(0, end), Buffer.from(value, 'latin1'), maxNesting, next);
  }
  return result;
}

/** php_url_decode: '+' is a space, %XX a byte when both digits are hex, anything else itself. */
export function urlDecode(text: string): string {
  if (!/[+%]/.test(text)) return text;
  return text.replace(/\+|%([0-9a-fA-F]{2})/g, (match, hex: string | undefined) => (hex === undefined ? ' ' : String.fromCharCode(parseInt(hex, 16))));
}

/**
 * Each array's next append index (PHP's nNextFreeElement): the largest int
 * key + 1, negative keys included (an array_init'ed array, as parse_str's are,
 * starts below every key: a[-5]=1&a[]=2 appends at -4), 0 before any int key.
 */
class NextIndex {
  private readonly next = new WeakMap<PhpArray, bigint>();

  set(array: PhpArray, key: PhpKey, value: PhpArray | Buffer): void {
    if (isIntKey(key)) {
      const n = BigInt(key);
      const current = this.next.get(array);
      if (current === undefined || n >= current) this.next.set(array, n < INT64_MAX ? n + 1n : INT64_MAX);
    }
    array.set(key, value);
  }

  /** zend_hash_next_index_insert; false when the next index is taken (after a key of PHP_INT_MAX). */
  append(array: PhpArray, value: PhpArray | Buffer): boolean {
    const key = String(this.next.get(array) ?? 0n);
    if (array.has(key)) return false;
    this.set(array, key, value);
    return true;
  }
}

/** php_register_variable_ex for one decoded name and value. */
function register(track: PhpArray, rawName: string, value: Buffer, maxNesting: number, next: NextIndex): void {
  const name = rawName.replace(/^ +/, '');
  let bracket = name.indexOf('[');
  if (bracket < 0) bracket = name.length;
  const top = name.slice(0, bracket).replace(/[ .]/g, '_');
  if (top.length === 0) return;
  let index: string | null = top;
  let table = track;
  let ip = bracket;
  if (bracket < name.length) {
    for (let nest = 1; ; nest++) {
      if (nest > maxNesting) {
        track.delete(top);
        return;
      }
      const start = ip + 1;
      let key: string | null = null;
      if (name[start] === ']') {
        ip = start;
      } else {
        const close = name.indexOf(']', start);
        if (close < 0) {
          // Not an index: the first '[' is part of the name after all, and the
          // name's rest is cleaned like a name. A deeper one leaves the index as it is.
          if (nest === 1) index = `${top}_${name.slice(start).replace(/[ .[]/g, '_')}`;
          break;
        }
        key = name.slice(start, close);
        ip = close;
      }
      if (index === null) {
        const inner: PhpArray = new Map();
        if (!next.append(table, inner)) return;
        table = inner;
      } else {
        const existing = table.get(index);
        if (existing instanceof Map) {
          table = existing;
        } else {
          // Missing, or a scalar that an index turns into a fresh array in its place.
          const inner: PhpArray = new Map();
          next.set(table, index, inner);
          table = inner;
        }
      }
      index = key;
      ip++;
      if (name[ip] !== '[') break;
    }
  }
  if (index === null) next.append(table, value);
  else next.set(table, index, value);
}

/**
 * `parse_url($url)['query'] ?? ''`: the query of the URL, '' when it has none
 * or when parse_url() refuses the URL (then PHP has no query at all).
 * Control characters in it become '_', as parse_url does.
 */
export function phpUrlQuery(url: string): string {
  return urlQuery(url)?.replace(/[\x00-\x1f\x7f]/g, '_') ?? '';
}

/** php_url_parse_ex2, reduced to what decides the query: undefined for no query or a refused URL. */
function urlQuery(str: string): string | undefined {
  const ue = str.length;
  let s = 0;
  let port = 0;
  const slashes = (at: number): boolean => at + 1 < ue && str[at] === '/' && str[at + 1] === '/';
  const justPath = (from: number): string | undefined => {
    const hash = str.indexOf('#', from);
    const end = hash < 0 ? ue : hash;
    const q = str.indexOf('?', from);
    return q < 0 || q >= end ? undefined : str.slice(q + 1, end);
  };
  /** The port after a colon at `e`: false when parse_url fails, 'path' when it is a path after all. */
  const parsePort = (e: number): boolean | 'path' => {
    const p = e + 1;
    let pp = p;
    while (pp < ue && pp - p < 6 && isDigit(str.charCodeAt(pp))) pp++;
    if (pp - p > 0 && pp - p < 6 && (pp === ue || str[pp] === '/')) {
      const n = strtol(str.slice(p, pp));
      if (n === undefined || n < 0 || n > 65535) return false;
      port = n;
      if (slashes(s)) s += 2;
      return true;
    }
    if (p === pp && pp === ue) return false;
    if (slashes(s)) {
      s += 2;
      return true;
    }
    return 'path';
  };

  const colon = str.indexOf(':');
  if (colon > 0) {
    const e = colon;
    for (let p = 0; p < e; p++) {
      if (!/[A-Za-z0-9+.-]/.test(str[p])) {
        const q = str.indexOf('?');
        if (e + 1 < ue && q >= 0 && e < q) {
          const r = parsePort(e);
          if (r === false) return undefined;
          if (r === 'path') return justPath(s);
        } else if (slashes(s)) {
          s += 2;
        } else {
          return justPath(s);
        }
        return host();
      }
    }
    if (e + 1 === ue) return undefined;
    if (str[e + 1] !== '/') {
      let p = e + 1;
      while (p < ue && isDigit(str.charCodeAt(p))) p++;
      if ((p === ue || str[p] === '/') && p - e < 7) {
        const r = parsePort(e);
        if (r === false) return undefined;
        if (r === 'path') return justPath(s);
        return host();
      }
      return justPath(e + 1);
    }
    if (!(e + 2 < ue && str[e + 2] === '/')) return justPath(e + 1);
    s = e + 3;
    if (str.slice(0, e).toLowerCase() === 'file' && e + 3 < ue && str[e + 3] === '/') {
      return justPath(e + 5 < ue && str[e + 5] === ':' ? e + 4 : s);
    }
    return host();
  }
  if (colon === 0) {
    const r = parsePort(0);
    if (r === false) return undefined;
    if (r === 'path') return justPath(s);
    return host();
  }
  if (!slashes(s)) return justPath(s);
  s += 2;
  return host();

  /** parse_host: user info, port, host; then the path from the first '/', '?' or '#'. */
  function host(): string | undefined {
    let e = s;
    while (e < ue && str[e] !== '/' && str[e] !== '?' && str[e] !== '#') e++;
    const at = str.lastIndexOf('@', e - 1);
    if (at >= s) s = at + 1;
    let p: number;
    const ipv6 = s < ue && str[s] === '[' && str[e - 1] === ']';
    const portColon = ipv6 ? -1 : str.lastIndexOf(':', e - 1);
    if (portColon >= s) {
      p = portColon;
      if (port === 0 && e - (p + 1) > 5) return undefined;
      if (port === 0 && e - (p + 1) > 0) {
        const n = strtol(str.slice(p + 1, e));
        if (n === undefined || n < 0 || n > 65535) return undefined;
        port = n;
      }
    } else {
      p = e;
    }
    if (p - s < 1) return undefined;
    if (e === ue) return undefined;
    return justPath(e);
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** C's strtol on a short buffer: leading white space, a sign, digits; undefined when no digit. */
function strtol(text: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[2]);
  return m[1] === '-' ? -n : n;
}
