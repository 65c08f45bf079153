import { CloseCode } from './constants.js';

/**
 * A violation of RFC 6455 by the peer, or a limit it crossed. It carries the
 * close code that goes on the wire and a stable string code for logs and
 * tests; every protocol failure in wssd is one of these, made in one place.
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

// The catalogue. Keeping every message here makes the wire behaviour easy to
// audit against the RFC and keeps the hot path free of string building.
export const protocolErrors = {
  unmasked: () => new ProtocolError('WS_ERR_EXPECTED_MASK', CloseCode.ProtocolError, 'client frame is not masked (RFC 6455 §5.1)'),
  rsv: () => new ProtocolError('WS_ERR_UNEXPECTED_RSV', CloseCode.ProtocolError, 'RSV bits set without a negotiated extension (§5.2)'),
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
