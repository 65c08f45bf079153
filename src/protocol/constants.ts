// Names from RFC 6455. Opcodes are §5.2, close codes §7.4.1 and the IANA
// "WebSocket Close Code Number Registry" (1012–1014 were registered later).

/** §1.3: appended to Sec-WebSocket-Key before hashing into Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * §5.2: bits of a frame's first byte besides the opcode. RSV1 is the one
 * permessage-deflate (RFC 7692 §6) gives a meaning to.
 */
export const FrameBits = {
  Fin: 0x80,
  Rsv1: 0x40,
  Rsv2: 0x20,
  Rsv3: 0x10,
} as const;

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never on the wire; reported when a Close frame had no payload. */
  NoStatus: 1005,
  /** Reserved: never on the wire; reported when the TCP connection dropped without a Close. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** §5.5: control frames carry at most 125 bytes of payload. */
export const MAX_CONTROL_PAYLOAD = 125;

/** §5.5.1: a close payload is a 2-byte code plus a reason, so the reason has 123 bytes. */
export const MAX_CLOSE_REASON_BYTES = 123;
