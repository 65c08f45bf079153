// `wssd/protocol`: the sans-I/O core of RFC 6455, for tools, fuzzers and
// benchmarks that need no socket. Everything exported here is stable.
export { CloseCode, FrameBits, Opcode, WEBSOCKET_GUID } from './constants.js';
export { ProtocolError, HandshakeError, protocolErrors, connectionExits, handshakeErrors } from './errors.js';
export { FrameDecoder, type FrameHandler, type FrameDecoderOptions } from './frame-decoder.js';
export { encodeFrame, encodeHeader, encodeTextFrame } from './frame-encoder.js';
export type { FrameSink } from './frame-sink.js';
export { MessageAssembler } from './message-assembler.js';
export { WebSocketSession, SessionState, type SessionHost, type SessionOptions, type SharedMessage, type MessageCompression } from './session.js';
export { unmask, randomMaskSource, type MaskSource } from './mask.js';
export { isUtf8 } from './utf8.js';
export { isValidWireCloseCode, parseClosePayload, encodeClosePayload } from './close.js';
// The opening handshake (RFC 6455 §4, RFC 9112) and extension negotiation
// (RFC 7692) are as pure; they live beside the I/O that uses them.
export { parseRequestHead, type RequestHead, type HeadLimits } from '../http/request-head.js';
export { evaluateUpgrade, acceptKey } from '../http/handshake.js';
export { negotiateDeflate, type DeflateParams } from '../extensions/permessage-deflate.js';
