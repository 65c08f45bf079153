// RFC 6455 §5.5.1 Close frames and §7.4 status codes.
import { CloseCode, MAX_CLOSE_REASON_BYTES } from './constants.js';
import { protocolErrors } from './errors.js';
import { isUtf8 } from './utf8.js';

/**
 * Whether a code may appear in a Close frame on the wire (§7.4.1, §7.4.2 and
 * the IANA registry): 1000–1003, 1007–1014 and the 3000–4999 ranges for
 * libraries and applications. 1004 is reserved, 1005/1006/1015 must never be
 * sent, 1016–2999 are unassigned.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

export interface ClosePayload {
  /** The code, or 1005 (NoStatus) when the payload was empty. */
  code: number;
  reason: string;
}

/** Parses a received Close payload; throws the ProtocolError the RFC asks for. */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  if (payload.length === 1) throw protocolErrors.closeTooShort();
  const code = payload.readUInt16BE(0);
  if (!isValidWireCloseCode(code)) throw protocolErrors.invalidCloseCode(code);
  const reasonBytes = payload.subarray(2);
  if (!isUtf8(reasonBytes)) throw protocolErrors.invalidCloseReason();
  return { code, reason: reasonBytes.toString('utf8') };
}

/**
 * Builds a Close payload. 1005 means "no code": an empty payload. Throws
 * for what an application must not send, so a bad call fails at the call
 * site rather than on the wire.
 */
export function encodeClosePayload(code: number, reason = ''): Buffer {
  if (code === CloseCode.NoStatus) {
    if (reason !== '') throw new TypeError('a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4)`);
  }
  const length = Buffer.byteLength(reason, 'utf8');
  if (length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason is ${length} bytes; at most ${MAX_CLOSE_REASON_BYTES} fit (§5.5)`);
  }
  const payload = Buffer.allocUnsafe(2 + length);
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}
