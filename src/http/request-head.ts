// The HTTP/1.1 request head of an upgrade (RFC 9112 §2–§5), read from bytes
// under hard limits. Pure: the socket layer pushes chunks and acts on the
// result. Strict on purpose: a WebSocket endpoint has no legacy HTTP clients
// to humour, and every leniency (bare LF, obs-fold, NUL, space before the
// colon) is a request-smuggling or parser-confusion vector.
import { handshakeErrors } from '../protocol/errors.js';

export interface HeadLimits {
  /** Whole head, request line to the blank line. Default 16 KiB. */
  maxHeadBytes: number;
  /** Header field lines. Default 100. */
  maxHeaderCount: number;
  /** Any single line. Default 8 KiB. */
  maxLineBytes: number;
}

export const defaultHeadLimits: HeadLimits = {
  maxHeadBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxLineBytes: 8 * 1024,
};

export interface RequestHead {
  method: string;
  /** The request-target as sent (origin-form, or absolute-form). */
  target: string;
  /** The path of the target, without the query. */
  path: string;
  /** The query string without '?', or ''. */
  query: string;
  httpVersion: string;
  /** Field names lower-cased; repeated fields joined with ", " (RFC 9110 §5.3). */
  headers: Record<string, string>;
  /** Names and values as received, alternating, like Node's rawHeaders. */
  rawHeaders: string[];
}

const CR = 13;
const LF = 10;
const tooLarge = handshakeErrors.headTooLarge;

/**
 * Gathers the bytes of one request head from socket chunks, refusing as soon
 * as a limit is crossed, a bare LF or a NUL appears. Memory is bounded by
 * maxHeadBytes: nothing past it is ever kept.
 */
export class RequestHeadReader {
  private readonly limits: HeadLimits;
  private chunks: Buffer[] = [];
  private length = 0;
  /** Offset (in the gathered bytes) where the current line starts. */
  private lineStart = 0;
  private lines = 0;
  private previousByte = -1;
  /** Set when complete: the head (without the final CRLF CRLF) and the bytes after it. */
  head: Buffer | undefined;
  rest: Buffer | undefined;

  constructor(limits: HeadLimits = defaultHeadLimits) {
    this.limits = limits;
  }

  /**
   * Takes the next chunk. Returns true once the head is complete (then `head`
   * and `rest` are set); throws a HandshakeError on a violation.
   */
  push(chunk: Buffer): boolean {
    const base = this.length;
    const { maxHeadBytes, maxLineBytes, maxHeaderCount } = this.limits;
    // Every violation is found at the byte that makes it, in order, so the
    // verdict never depends on how the head was cut into chunks: the head's
    // (maxHeadBytes + 1)th byte, a line's byte past maxLineBytes and its CR,
    // a bare LF, a NUL, a line past the header count.
    const end = Math.min(chunk.length, maxHeadBytes - base);
    let lineEnd = this.lineStart + maxLineBytes + 1 - base;
    for (let i = 0; i < end; i++) {
      const byte = chunk[i];
      if (byte === LF) {
        const prev = i > 0 ? chunk[i - 1] : this.previousByte;
        if (prev !== CR) throw handshakeErrors.bareLf();
        const at = base + i + 1;
        if (at - this.lineStart === 2) {
          // An empty line ends the head.
          this.append(chunk.subarray(0, i + 1));
          this.finish(at, chunk.subarray(i + 1));
          return true;
        }
        if (++this.lines > maxHeaderCount + 1) throw tooLarge('header count');
        this.lineStart = at;
        lineEnd = at + maxLineBytes + 1 - base;
      } else if (i >= lineEnd) {
        throw tooLarge('request line or header line');
      } else if (byte === 0) {
        throw handshakeErrors.nulByte();
      }
    }
    if (end < chunk.length) throw tooLarge('request head');
    this.append(chunk);
    this.previousByte = chunk.length > 0 ? chunk[chunk.length - 1] : this.previousByte;
    return false;
  }

  private append(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private finish(headEnd: number, rest: Buffer): void {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    this.head = all.subarray(0, headEnd - 4);
    this.rest = rest;
    this.chunks = [];
  }
}

// RFC 9110 §5.6.2 tchar.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** RFC 9110 §5.5: field-value bytes are VCHAR, SP, HTAB and obs-text; other controls are refused. */
function hasBadValueByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** Strips RFC 9110 OWS (SP / HTAB) from both ends. */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

/** Fields that must appear once: a second copy is ambiguous, so refused. */
const SINGLETON_FIELDS = new Set(['host', 'sec-websocket-key', 'sec-websocket-version', 'content-length']);

/** Parses a complete head (without its final blank line). Throws a HandshakeError. */
export function parseRequestHead(head: Buffer): RequestHead {
  // latin1 maps each byte to one char, so obs-text survives and offsets match bytes.
  const text = head.toString('latin1');
  const lines = text.split('\r\n');
  const requestLine = lines[0];
  const sp1 = requestLine.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : requestLine.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || requestLine.indexOf(' ', sp2 + 1) !== -1) {
    throw handshakeErrors.malformedRequestLine();
  }
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  const httpVersion = requestLine.slice(sp2 + 1);
  if (!isToken(method)) throw handshakeErrors.malformedMethod();
  if (target.length === 0) throw handshakeErrors.emptyTarget();
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw handshakeErrors.badTargetCharacter();
  }
  if (!/^HTTP\/[0-9]\.[0-9]$/.test(httpVersion)) throw handshakeErrors.malformedVersion();

  const { path, query } = splitTarget(target);

  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) throw handshakeErrors.obsoleteFolding();
    const colon = line.indexOf(':');
    if (colon < 0) throw handshakeErrors.headerWithoutColon();
    addHeader(headers, rawHeaders, line.slice(0, colon), trimOws(line.slice(colon + 1)));
  }
  return { method, target, path, query, httpVersion, headers, rawHeaders };
}

/** Checks one field (RFC 9110 §5.1, §5.5) and adds it; a repeated singleton field is refused. */
function addHeader(headers: Record<string, string>, rawHeaders: string[], name: string, value: string): void {
  // RFC 9112 §5.1: no whitespace between the field name and the colon.
  if (!isToken(name)) throw handshakeErrors.badHeaderName(name);
  if (hasBadValueByte(value)) throw handshakeErrors.badHeaderValue(name);
  rawHeaders.push(name, value);
  const key = name.toLowerCase();
  const previous = headers[key];
  if (previous === undefined) headers[key] = value;
  else if (SINGLETON_FIELDS.has(key)) throw handshakeErrors.repeatedHeader(name);
  else headers[key] = `${previous}, ${value}`;
}

/**
 * The same RequestHead from a head that node:http already parsed (for
 * attach()/handleUpgrade), held to the same header rules.
 */
export function headFromParsed(method: string, target: string, httpVersion: string, raw: readonly string[]): RequestHead {
  const { path, query } = splitTarget(target);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const rawHeaders: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) addHeader(headers, rawHeaders, raw[i], raw[i + 1]);
  return { method, target, path, query, httpVersion: `HTTP/${httpVersion}`, headers, rawHeaders };
}

/** Origin-form "/p?q", or absolute-form "http://host/p?q" (RFC 9112 §3.2.2). */
function splitTarget(target: string): { path: string; query: string } {
  let rest = target;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = /^(?:https?|wss?):\/\//i.exec(target);
    if (!scheme) throw handshakeErrors.targetNotPath();
    // RFC 3986 §3.2: the authority ends at the first "/", "?" or "#".
    let end = scheme[0].length;
    while (end < target.length) {
      const c = target.charCodeAt(end);
      if (c === 0x2f || c === 0x3f || c === 0x23) break;
      end++;
    }
    rest = target.charCodeAt(end) === 0x2f ? target.slice(end) : '/' + target.slice(end);
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * Splits a comma-separated list field (RFC 9110 §5.6.1) into trimmed,
 * non-empty elements, in one linear pass: no regular expression, so no
 * backtracking on hostile input (cf. ws CVE-2021-32640).
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c /* , */) {
      const item = trimOws(value.slice(start, i));
      if (item.length > 0) out.push(item);
      start = i + 1;
    }
  }
  return out;
}
