// wssd's public API. Everything here is stable; the rest of src/ is not.
export { attach, createServer, WebSocketServer, type ListenAddress, type ServerEvents } from './websocket-server.js';
export { Connection, ReadyState, type ConnectionEvents, type SendOptions, type UpgradeRequest } from './connection.js';
export { defaults, type ServerOptions, type RequestVerdict, type RequestVerifier, type SubprotocolSelector } from './config.js';
export { ConfigError } from './config-error.js';
export { createLogger, type Logger, type LogFormat } from './log.js';
export { CloseCode, Opcode, WEBSOCKET_GUID } from './protocol/constants.js';
export { ProtocolError } from './protocol/errors.js';
export { FrameDecoder, type FrameHandler, type FrameDecoderOptions } from './protocol/frame-decoder.js';
export { encodeFrame, encodeHeader, encodeTextFrame } from './protocol/frame-encoder.js';
export { MessageAssembler } from './protocol/message-assembler.js';
export { WebSocketSession, SessionState, type SessionHost } from './protocol/session.js';
export { maskReference, unmask, unmaskWith, randomMaskSource, type MaskSource } from './protocol/mask.js';
export { Utf8Validator } from './protocol/utf8.js';
export { isValidWireCloseCode, parseClosePayload, encodeClosePayload } from './protocol/close.js';
export { HandshakeError } from './http/handshake-error.js';
export { parseRequestHead, RequestHeadReader } from './http/request-head.js';
export { evaluateUpgrade, acceptKey } from './http/handshake.js';
