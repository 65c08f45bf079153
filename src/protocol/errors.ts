// The catalogue of every way a handshake or a connection ends on the server's
// decision: each has a stable string code, and the HTTP status or close code
// that goes on the wire. Logs, /stats and tests count them by that code, and
// the wire behaviour can be audited against the RFCs in this one file; the hot
// path never builds a message string.
import { CloseCode } from './constants.js';

/**
 * A violation of RFC 6455 by the peer, a limit it crossed, or another reason
 * the server ends an open connection. It carries the close code that goes on
 * the wire and a stable string code.
 */
export class ProtocolError extends Error {
  readonly closeCode: number;
  readonly code: string;
  constructor(code: string, closeCode: number, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

/**
 * A refused opening handshake: a stable code, the HTTP status and the
 * one-line reason that go back to the client, plus any header the RFC
 * requires with that status (Allow with 405, Sec-WebSocket-Version with 426).
 */
export class HandshakeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: string, status: number, reason: string, headers: Record<string, string> = {}) {
    super(reason);
    this.name = 'HandshakeError';
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}

/** Frame and message rules the peer broke (RFC 6455 §5, §7, §8), and the size limits (§10.4). */
export const protocolErrors = {
  unmasked: () => new ProtocolError('WS_ERR_EXPECTED_MASK', CloseCode.ProtocolError, 'client frame is not masked (RFC 6455 §5.1)'),
  rsv: () => new ProtocolError('WS_ERR_UNEXPECTED_RSV', CloseCode.ProtocolError, 'RSV bits set without a negotiated extension (§5.2)'),
  /** RFC 7692 §6.1: RSV1 marks the first frame of a compressed message, never a continuation or a control frame. */
  rsv1Misplaced: () => new ProtocolError('WS_ERR_UNEXPECTED_RSV_1', CloseCode.ProtocolError, 'RSV1 on a continuation or control frame (RFC 7692 §6.1)'),
  /** RFC 7692 §6.2 / RFC 6455 §7.4.1: the compressed data does not inflate. */
  badCompressedData: () => new ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA', CloseCode.InvalidPayload, 'invalid compressed data (RFC 7692 §6.2)'),
  opcode: (op: number) => new ProtocolError('WS_ERR_INVALID_OPCODE', CloseCode.ProtocolError, `reserved opcode 0x${op.toString(16)} (§5.2)`),
  fragmentedControl: () => new ProtocolError('WS_ERR_FRAGMENTED_CONTROL', CloseCode.ProtocolError, 'control frame with FIN=0 (§5.5)'),
  controlTooLong: () => new ProtocolError('WS_ERR_CONTROL_TOO_LONG', CloseCode.ProtocolError, 'control frame payload over 125 bytes (§5.5)'),
  lengthMsb: () => new ProtocolError('WS_ERR_LENGTH_MSB', CloseCode.ProtocolError, '64-bit payload length with the most significant bit set (§5.2)'),
  nonMinimalLength: () => new ProtocolError('WS_ERR_NON_MINIMAL_LENGTH', CloseCode.ProtocolError, 'payload length not in its minimal encoding (§5.2)'),
  tooBig: (limit: number) => new ProtocolError('WS_ERR_MESSAGE_TOO_BIG', CloseCode.MessageTooBig, `message exceeds the ${limit}-byte limit`),
  tooManyFragments: (limit: number) => new ProtocolError('WS_ERR_TOO_MANY_FRAGMENTS', CloseCode.MessageTooBig, `message has more than ${limit} fragments`),
  unexpectedContinuation: () => new ProtocolError('WS_ERR_UNEXPECTED_CONTINUATION', CloseCode.ProtocolError, 'continuation frame without a message to continue (§5.4)'),
  expectedContinuation: () => new ProtocolError('WS_ERR_EXPECTED_CONTINUATION', CloseCode.ProtocolError, 'new data frame inside a fragmented message (§5.4)'),
  invalidUtf8: () => new ProtocolError('WS_ERR_INVALID_UTF8', CloseCode.InvalidPayload, 'text is not valid UTF-8 (§8.1)'),
  closeTooShort: () => new ProtocolError('WS_ERR_CLOSE_TOO_SHORT', CloseCode.ProtocolError, 'close payload of 1 byte (§5.5.1)'),
  invalidCloseCode: (code: number) => new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', CloseCode.ProtocolError, `invalid close code ${code} (§7.4)`),
  invalidCloseReason: () => new ProtocolError('WS_ERR_INVALID_CLOSE_REASON', CloseCode.InvalidPayload, 'close reason is not valid UTF-8 (§5.5.1)'),
} as const;

/**
 * Why the server ends an open connection other than for a protocol
 * violation. Those with a close code go out in a Close frame; a missing pong
 * ends the socket without one (the peer is presumed gone), so the 'close'
 * event reports 1006 (CloseCode.Abnormal), which is never sent.
 */
export const connectionExits = {
  /** An application handler threw: the peer learns nothing of it (§7.4.1: 1011). */
  handlerThrew: () => new ProtocolError('WS_ERR_HANDLER', CloseCode.InternalError, 'internal error'),
  /** The peer does not read, and its buffer passed maxBuffered under the 'close' policy. */
  sendBufferFull: () => new ProtocolError('WS_ERR_SEND_BUFFER_FULL', CloseCode.PolicyViolation, 'send buffer full: the client does not read'),
  /** A publication found the subscriber's buffer above maxBackpressure under the 'close' policy. */
  slowSubscriber: () => new ProtocolError('WS_ERR_SLOW_SUBSCRIBER', CloseCode.PolicyViolation, 'too slow for its subscriptions: the client does not read'),
  /** Nothing arrived for idleTimeout. */
  idle: () => new ProtocolError('WS_ERR_IDLE_TIMEOUT', CloseCode.GoingAway, 'idle timeout'),
  /** Nothing at all came back within pingTimeout of a heartbeat ping. */
  noPong: (ms: number) => new ProtocolError('WS_ERR_HEARTBEAT_TIMEOUT', CloseCode.Abnormal, `no pong within ${ms} ms: connection terminated`),
  /** The server is shutting down (server.close()). */
  shutdown: (code: number, reason: string) => new ProtocolError('WS_ERR_SERVER_SHUTDOWN', code, reason),
  /** The backend disconnected it (the API, a GatewayWorker kick, server.disconnect()): 4000 by default, do not reconnect. */
  kicked: (code: number, reason: string) => new ProtocolError('WS_ERR_KICKED', code, reason),
  /** A wssd.v1 client's token expired without a refresh: 4001, come back with a new one. */
  tokenExpired: () => new ProtocolError('WS_ERR_TOKEN_EXPIRED', 4001, 'token expired'),
} as const;

/** A token refused for what it holds (RFC 6750 §3.1: invalid_token). */
function invalidToken(code: string, reason: string): HandshakeError {
  return new HandshakeError(code, 401, reason, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
}

/** Refused opening handshakes (RFC 6455 §4.2.1, RFC 9110/9112), by HTTP status. */
export const handshakeErrors = {
  // The request head (RFC 9112), read before anything else.
  headTooLarge: (what: string) => new HandshakeError('HTTP_ERR_HEAD_TOO_LARGE', 431, `${what} too large`),
  bareLf: () => new HandshakeError('HTTP_ERR_BARE_LF', 400, 'bare LF in request head (RFC 9112 §2.2)'),
  nulByte: () => new HandshakeError('HTTP_ERR_NUL_BYTE', 400, 'NUL byte in request head'),
  malformedRequestLine: () => new HandshakeError('HTTP_ERR_REQUEST_LINE', 400, 'malformed request line'),
  malformedMethod: () => new HandshakeError('HTTP_ERR_METHOD', 400, 'malformed request method'),
  emptyTarget: () => new HandshakeError('HTTP_ERR_TARGET', 400, 'empty request target'),
  badTargetCharacter: () => new HandshakeError('HTTP_ERR_TARGET', 400, 'invalid character in request target'),
  targetNotPath: () => new HandshakeError('HTTP_ERR_TARGET', 400, 'request target is not a path'),
  malformedVersion: () => new HandshakeError('HTTP_ERR_VERSION', 400, 'malformed HTTP version'),
  obsoleteFolding: () => new HandshakeError('HTTP_ERR_HEADER', 400, 'obsolete line folding in header (RFC 9112 §5.2)'),
  headerWithoutColon: () => new HandshakeError('HTTP_ERR_HEADER', 400, 'header line without a colon'),
  badHeaderName: (name: string) => new HandshakeError('HTTP_ERR_HEADER', 400, `invalid header name ${JSON.stringify(name.slice(0, 40))}`),
  badHeaderValue: (name: string) => new HandshakeError('HTTP_ERR_HEADER', 400, `invalid character in header ${name}`),
  repeatedHeader: (name: string) => new HandshakeError('HTTP_ERR_REPEATED_HEADER', 400, `repeated ${name} header`),
  timeout: () => new HandshakeError('HTTP_ERR_HANDSHAKE_TIMEOUT', 408, 'handshake not completed in time'),
  /**
   * Plain HTTP (http://, ws://) sent to the TLS port: answered in plain HTTP.
   * nginx says 497 for this; a client's mistake is a 400.
   */
  plainHttpOnTls: () => new HandshakeError('HTTP_ERR_PLAIN_HTTP_ON_TLS', 400, 'this port speaks TLS: use https:// or wss://'),

  // The upgrade rules (RFC 6455 §4.1, §4.2.1, §4.4).
  httpVersion: (version: string) =>
    new HandshakeError('WS_HS_HTTP_VERSION', 505, `${version} is not supported; WebSocket needs HTTP/1.1 (RFC 6455 §4.1)`),
  method: (method: string) =>
    new HandshakeError('WS_HS_METHOD', 405, `method ${method} not allowed; the WebSocket handshake is a GET (§4.1)`, { Allow: 'GET' }),
  missingHost: () => new HandshakeError('WS_HS_MISSING_HOST', 400, 'missing Host header (§4.1)'),
  /** `served`: the paths this server does serve, listed for the client. */
  noService: (path: string, served: string) => new HandshakeError('WS_HS_NO_SERVICE', 404, `no WebSocket service at ${path}; this server serves ${served}`),
  notUpgrade: () =>
    new HandshakeError('WS_HS_NOT_UPGRADE', 426, 'this is a WebSocket endpoint: connect with a WebSocket client (wss://)', {
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
    }),
  upgradeNotWebSocket: () => new HandshakeError('WS_HS_UPGRADE_HEADER', 400, 'Upgrade header does not name websocket (§4.2.1)'),
  connectionNotUpgrade: () => new HandshakeError('WS_HS_CONNECTION_HEADER', 400, 'Connection header does not include Upgrade (§4.2.1)'),
  missingVersion: () =>
    new HandshakeError('WS_HS_MISSING_VERSION', 400, 'missing Sec-WebSocket-Version header (§4.2.1)', { 'Sec-WebSocket-Version': '13' }),
  unsupportedVersion: (version: string) =>
    new HandshakeError('WS_HS_UNSUPPORTED_VERSION', 426, `unsupported Sec-WebSocket-Version ${version.slice(0, 20)}; this server speaks 13 (§4.4)`, {
      'Sec-WebSocket-Version': '13',
    }),
  missingKey: () => new HandshakeError('WS_HS_MISSING_KEY', 400, 'missing Sec-WebSocket-Key header (§4.2.1)'),
  badKey: () => new HandshakeError('WS_HS_BAD_KEY', 400, 'Sec-WebSocket-Key is not 16 bytes in base64 (§4.2.1)'),
  badSubprotocol: () => new HandshakeError('WS_HS_BAD_SUBPROTOCOL', 400, 'invalid subprotocol name in Sec-WebSocket-Protocol (§4.1)'),

  // Connection tokens (src/gateway/jwt.ts): RFC 7519 over RFC 7515. Every one
  // is 401 with the challenge RFC 9110 §11.6.1 requires of a 401: a bare one
  // when no token came, error="invalid_token" otherwise (RFC 6750 §3, §3.1).
  // No reason carries the token, a claim's value or a key.
  tokenMissing: () => new HandshakeError('WS_HS_TOKEN_MISSING', 401, 'no token: connecting needs one', { 'WWW-Authenticate': 'Bearer' }),
  tokenTooLarge: (limit: number) => invalidToken('WS_HS_TOKEN_TOO_LARGE', `token longer than ${limit} bytes`),
  tokenMalformed: (detail: string) => invalidToken('WS_HS_TOKEN_MALFORMED', `malformed token: ${detail}`),
  tokenAlgorithm: (alg: string, why = 'not accepted (RFC 8725 §3.1)') => invalidToken('WS_HS_TOKEN_ALGORITHM', `token algorithm ${alg}: ${why}`),
  tokenSignature: () => invalidToken('WS_HS_TOKEN_SIGNATURE', 'token signature does not verify with any configured key (RFC 7515 §5.2)'),
  tokenExpired: () => invalidToken('WS_HS_TOKEN_EXPIRED', 'token expired (exp, RFC 7519 §4.1.4)'),
  tokenNotYetValid: () => invalidToken('WS_HS_TOKEN_NOT_YET_VALID', 'token not valid yet (nbf, RFC 7519 §4.1.5)'),
  tokenMissingExp: () => invalidToken('WS_HS_TOKEN_MISSING_EXP', 'token has no exp, and this server requires one (RFC 7519 §4.1.4)'),
  tokenAudience: () => invalidToken('WS_HS_TOKEN_AUDIENCE', 'token audience (aud) does not name this server (RFC 7519 §4.1.3)'),
  tokenIssuer: () => invalidToken('WS_HS_TOKEN_ISSUER', 'token issuer (iss) is not the one configured (RFC 7519 §4.1.1)'),
  tokenClaims: (detail: string) => invalidToken('WS_HS_TOKEN_CLAIMS', `token claims refused: ${detail}`),

  // The connect proxy (src/gateway/connect-proxy.ts): the backend says who the client is.
  refusedByBackend: (status: number, reason: string) => new HandshakeError('WS_HS_REFUSED_BY_BACKEND', status, reason),
  proxyUnavailable: () => new HandshakeError('WS_HS_PROXY_UNAVAILABLE', 503, 'the backend could not be asked who you are, try again later', { 'Retry-After': '5' }),
  proxyBusy: () => new HandshakeError('WS_HS_PROXY_BUSY', 503, 'too many connections waiting for the backend, try again later', { 'Retry-After': '5' }),

  // The server's own admission rules.
  refusedByApplication: (status = 403, reason = 'request refused by the server', headers: Record<string, string> = {}) =>
    new HandshakeError('WS_HS_REFUSED_BY_APPLICATION', status, reason, headers),
  serverFull: () => new HandshakeError('WS_HS_SERVER_FULL', 503, 'server at its connection limit, try again later', { 'Retry-After': '10' }),
  tooManyFromAddress: () => new HandshakeError('WS_HS_TOO_MANY_FROM_ADDRESS', 429, 'too many connections from this address', { 'Retry-After': '10' }),
  internal: () => new HandshakeError('WS_HS_INTERNAL', 500, 'internal error'),
} as const;
