// RFC 6455 §5.2 framing for frames the server sends: unmasked (§5.1).
//
// A frame's first byte (FIN, RSV1–3, opcode) is chosen by the session, which
// alone knows the state and the negotiated extensions; these functions only
// lay out the header. Small frames are built as one buffer (header + payload)
// so they leave in one write; past COPY_LIMIT the payload is not copied and
// the caller writes the header and the payload back to back under cork.
import { FrameBits, Opcode } from './constants.js';

/** Payloads up to this size are copied behind their header into one buffer. */
export const COPY_LIMIT = 16 * 1024;

/** A frame's first byte: the opcode, with FIN when it ends its message. */
export function frameHead(opcode: number, fin: boolean): number {
  return (fin ? FrameBits.Fin : 0) | opcode;
}

export function headerSize(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
}

/** Writes a frame header (first byte `head`, see frameHead) into `into` at `at`; returns the header's length. */
export function writeHeader(into: Buffer, at: number, head: number, payloadLength: number): number {
  into[at] = head;
  if (payloadLength < 126) {
    into[at + 1] = payloadLength;
    return 2;
  }
  if (payloadLength < 0x10000) {
    into[at + 1] = 126;
    into[at + 2] = payloadLength >>> 8;
    into[at + 3] = payloadLength & 0xff;
    return 4;
  }
  into[at + 1] = 127;
  into.writeUInt32BE(Math.floor(payloadLength / 0x100000000), at + 2);
  into.writeUInt32BE(payloadLength >>> 0, at + 6);
  return 10;
}

/** A frame header alone, for a payload written separately. */
export function encodeHeader(opcode: number, fin: boolean, payloadLength: number): Buffer {
  const header = Buffer.allocUnsafe(headerSize(payloadLength));
  writeHeader(header, 0, frameHead(opcode, fin), payloadLength);
  return header;
}

/** A whole frame in one new buffer (copies the payload); `head` as frameHead makes it. */
export function encodeFrameWithHead(head: number, payload: Uint8Array): Buffer {
  const hl = headerSize(payload.length);
  const frame = Buffer.allocUnsafe(hl + payload.length);
  writeHeader(frame, 0, head, payload.length);
  frame.set(payload, hl);
  return frame;
}

/** A whole frame in one new buffer (copies the payload). */
export function encodeFrame(opcode: number, fin: boolean, payload: Uint8Array): Buffer {
  return encodeFrameWithHead(frameHead(opcode, fin), payload);
}

/** A whole text frame, the string encoded straight behind its header (no intermediate buffer). */
export function encodeTextFrame(text: string, byteLength: number, head: number = frameHead(Opcode.Text, true)): Buffer {
  const hl = headerSize(byteLength);
  const frame = Buffer.allocUnsafe(hl + byteLength);
  writeHeader(frame, 0, head, byteLength);
  frame.write(text, hl, 'utf8');
  return frame;
}
