// The body of CMD_ON_WEBSOCKET_CONNECT (GatewayWorker spec §10.3): what a PHP
// application's `Events::onWebSocketConnect($client_id, $data)` receives, built
// from the upgrade request the way Workerman 5's Http\Request and the PHP
// Gateway build it, so that `$data['get']['token']`,
// `$data['server']['HTTP_ORIGIN']` and `$data['cookie']['sid']` read the same:
//
//   websocketConnectBody(request) → serialize(['get' => …, 'server' => …, 'cookie' => …])
//   websocketConnectData(request) → that array, unserialized
//
// - get: parse_str() of parse_url($target)['query'] (php-url.ts).
// - server: QUERY_STRING, REQUEST_METHOD, REQUEST_URI, SERVER_PROTOCOL ('HTTP/'
//   and what follows the first 'HTTP/' of the request line), SERVER_NAME (the
//   Host header with its port, or null), CONTENT_TYPE (or null), REMOTE_ADDR,
//   REMOTE_PORT, SERVER_PORT (ints); then HTTP_<NAME> for every header in
//   order, the name upper-cased (ASCII) with '-' as '_', a repeated header
//   joined with ',' (no space) in its first place.
// - cookie: the Cookie header(s) split at ';', each pair at its first '='
//   (pieces without '=' skipped), the name trimmed (PHP's trim), the value
//   neither trimmed nor decoded; a later name replaces an earlier one in place.
//
// The request is wssd's parsed head (http/request-head.ts): header names and
// values as binary strings (latin1), values already trimmed of spaces and tabs
// as Workerman trims them. The addresses are the socket's, not X-Forwarded-*
// (PHP reports its own socket too).
import { phpUrlQuery, parseStr, ParseStrOptions } from './php-url.js';
import { serialize } from './php-serialize.js';
import { PhpArray, PhpKey, PhpValue } from './php-value.js';

export interface WebsocketConnectRequest {
  method: string;
  /** The request-target as sent. */
  target: string;
  /** 'HTTP/1.1' (as wssd's RequestHead has it) or '1.1'. */
  httpVersion: string;
  /** Names and values alternating, in the order received (RequestHead.rawHeaders). */
  rawHeaders: readonly string[];
  /** The peer's address as node:net reports it ('1.2.3.4', '::ffff:1.2.3.4', '::1'). */
  remoteAddress: string;
  remotePort: number;
  /** The port of the listening socket the client connected to. */
  localPort: number;
}

/** serialize($data) for CMD_ON_WEBSOCKET_CONNECT (sent with flag 0: the body is serialized). */
export function websocketConnectBody(request: WebsocketConnectRequest, options?: ParseStrOptions): Buffer {
  return serialize(websocketConnectData(request, options));
}

/** ['get' => …, 'server' => …, 'cookie' => …]. */
export function websocketConnectData(request: WebsocketConnectRequest, options?: ParseStrOptions): PhpArray {
  const version = request.httpVersion.startsWith('HTTP/') ? request.httpVersion : `HTTP/${request.httpVersion}`;
  const requestLine = `${request.method} ${request.target} ${version}`;
  const headers = headerMap(request.rawHeaders);
  const query = phpUrlQuery(request.target);
  const httpAt = requestLine.indexOf('HTTP/');
  const server: PhpArray = new Map<PhpKey, PhpValue>([
    ['QUERY_STRING', bytes(query)],
    ['REQUEST_METHOD', bytes(request.method)],
    ['REQUEST_URI', bytes(request.target)],
    ['SERVER_PROTOCOL', bytes(`HTTP/${httpAt < 0 ? '1.0' : requestLine.slice(httpAt + 5)}`)],
    ['SERVER_NAME', nullable(headers.get('host'))],
    ['CONTENT_TYPE', nullable(headers.get('content-type'))],
    ['REMOTE_ADDR', bytes(workermanRemoteIp(request.remoteAddress))],
    ['REMOTE_PORT', BigInt(request.remotePort)],
    ['SERVER_PORT', BigInt(request.localPort)],
  ]);
  for (const [name, value] of headers) server.set(`HTTP_${asciiUpper(name).replace(/-/g, '_')}`, bytes(value));
  return new Map<PhpKey, PhpValue>([
    ['get', query === '' ? new Map() : parseStr(query, options)],
    ['server', server],
    ['cookie', cookies(headers.get('cookie') ?? '')],
  ]);
}

/**
 * The client's address as Workerman's getRemoteIp() gives it: IPv6 in
 * brackets ('[::1]'), an IPv4-mapped address as plain IPv4 (what PHP sees
 * listening on an IPv4 socket, which is how GatewayWorker listens).
 */
export function workermanRemoteIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1];
  return address.includes(':') ? `[${address}]` : address;
}

/** Workerman's header array: lower-cased names (ASCII), repeats joined with ',' in their first place. */
function headerMap(raw: readonly string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = asciiLower(raw[i]);
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? raw[i + 1] : `${previous},${raw[i + 1]}`);
  }
  return headers;
}

/** Request::cookie(). */
function cookies(header: string): PhpArray {
  const out: PhpArray = new Map();
  for (const piece of header.split(';')) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    out.set(phpTrim(piece.slice(0, eq)), bytes(piece.slice(eq + 1)));
  }
  return out;
}

/** PHP's trim() with its default characters: " \t\n\r\0\x0B". */
function phpTrim(text: string): string {
  return text.replace(/^[ \t\n\r\0\x0b]+|[ \t\n\r\0\x0b]+$/g, '');
}

/** strtolower / strtoupper of PHP 8.2: ASCII letters only, whatever the locale. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

function asciiUpper(text: string): string {
  return text.replace(/[a-z]+/g, (s) => s.toUpperCase());
}

function bytes(binary: string): Buffer {
  return Buffer.from(binary, 'latin1');
}

function nullable(binary: string | undefined): Buffer | null {
  return binary === undefined ? null : bytes(binary);
}
