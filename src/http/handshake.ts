// The server's opening handshake, RFC 6455 §4.2.1 (reading the client's
// request) and §4.2.2 (answering it). Pure: a parsed head in, a decision and
// the response bytes out.
import crypto, { createHash } from 'node:crypto';
import { WEBSOCKET_GUID } from '../protocol/constants.js';
import { handshakeErrors } from '../protocol/errors.js';
import { isToken, splitList, type RequestHead } from './request-head.js';

export interface HandshakePolicy {
  /** Paths served, a trailing slash more or less (servesPath); undefined serves every path. */
  paths?: readonly string[] | undefined;
  /** Subprotocols the server speaks, in its order of preference. */
  subprotocols?: readonly string[] | undefined;
}

export interface UpgradeDecision {
  /** Sec-WebSocket-Accept value. */
  accept: string;
  /** Subprotocols the client offered, in its order (validated tokens). */
  offeredProtocols: string[];
}

/**
 * One-shot hashing (Node ≥ 20.12): no Hash object, and the digest is not
 * fetched from OpenSSL 3's providers again for every call, which createHash
 * does — 1.9 µs against 5.6–20 µs per key on the development machine.
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

/** §4.2.2 step 5.4: base64(SHA-1(key + GUID)). A valid key is ASCII, so latin1 and UTF-8 agree. */
export function acceptKey(key: string): string {
  if (oneShot !== undefined) return oneShot('sha1', key + WEBSOCKET_GUID, 'base64');
  return createHash('sha1').update(key + WEBSOCKET_GUID, 'latin1').digest('base64');
}

/** §4.2.1 item 5: base64 of exactly 16 bytes is 22 characters plus "==". */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const item of splitList(value)) if (item.toLowerCase() === token) return true;
  return false;
}

/**
 * Whether `path` is one of `paths`, a trailing slash more or less: a client
 * asking for /wss/ where /wss is served (or /wss where /wss/ is) means the
 * same service. The exact match is tried first; it is the common case.
 */
export function servesPath(paths: readonly string[], path: string): boolean {
  if (paths.includes(path)) return true;
  if (path.endsWith('/')) return path.length > 1 && paths.includes(path.slice(0, -1));
  return paths.includes(`${path}/`);
}

/**
 * Checks a request head against §4.2.1. Returns the decision for a valid
 * upgrade, or throws the HandshakeError with the status the RFCs ask for.
 * The order matters: version and method first (they decide whether the rest
 * can even be read), then routing, then the upgrade headers.
 */
export function evaluateUpgrade(head: RequestHead, policy: HandshakePolicy = {}): UpgradeDecision {
  if (head.httpVersion !== 'HTTP/1.1') {
    throw handshakeErrors.httpVersion(head.httpVersion);
  }
  if (head.method !== 'GET') {
    throw handshakeErrors.method(head.method);
  }
  const h = head.headers;
  if (h.host === undefined || h.host === '') throw handshakeErrors.missingHost();
  if (policy.paths !== undefined && !servesPath(policy.paths, head.path)) {
    throw handshakeErrors.noService(head.path, policy.paths.join(', '));
  }
  if (h.upgrade === undefined) {
    throw handshakeErrors.notUpgrade();
  }
  if (!hasToken(h.upgrade, 'websocket')) throw handshakeErrors.upgradeNotWebSocket();
  if (!hasToken(h.connection, 'upgrade')) throw handshakeErrors.connectionNotUpgrade();
  const version = h['sec-websocket-version'];
  if (version === undefined) {
    throw handshakeErrors.missingVersion();
  }
  if (version !== '13') {
    throw handshakeErrors.unsupportedVersion(version);
  }
  const key = h['sec-websocket-key'];
  if (key === undefined) throw handshakeErrors.missingKey();
  if (!KEY_PATTERN.test(key)) throw handshakeErrors.badKey();

  const offeredProtocols: string[] = [];
  const protocolField = h['sec-websocket-protocol'];
  if (protocolField !== undefined) {
    for (const p of splitList(protocolField)) {
      if (!isToken(p)) throw handshakeErrors.badSubprotocol();
      offeredProtocols.push(p);
    }
  }
  return { accept: acceptKey(key), offeredProtocols };
}

/**
 * The default subprotocol choice: the first of the server's own list (its
 * preference) that the client offered; none when nothing matches, which
 * RFC 6455 §4.2.2 allows (the client then decides whether to go on).
 */
export function selectSubprotocol(offered: readonly string[], supported: readonly string[] | undefined): string | undefined {
  if (supported === undefined) return undefined;
  for (const p of supported) if (offered.includes(p)) return p;
  return undefined;
}

/** §4.2.2 step 5: the 101 response, with the accepted extensions (§9.1) when there are any. */
export function acceptResponse(accept: string, protocol: string | undefined, extensions?: string): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n` +
    (protocol !== undefined ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
    (extensions !== undefined ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') +
    '\r\n'
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** A refusal: status, the required headers, and the reason as a one-line text body. */
export function errorResponse(status: number, reason: string, headers: Readonly<Record<string, string>> = {}): string {
  const body = `${status} ${STATUS_TEXT[status] ?? 'Error'}: ${reason}\n`;
  let extra = '';
  for (const [name, value] of Object.entries(headers)) extra += `${name}: ${value}\r\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    extra +
    '\r\n' +
    body
  );
}
