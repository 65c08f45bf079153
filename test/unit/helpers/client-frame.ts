// Builds frames the way a client puts them on the wire (RFC 6455 §5.2), written
// from the RFC and independently of src/protocol/frame-encoder.ts so the
// decoder is not tested against its own mirror image. It can also build what a
// correct client never would: unmasked frames, RSV bits, reserved opcodes,
// non-minimal lengths, a 64-bit length with its top bit set.

export interface ClientFrameSpec {
  opcode: number;
  payload?: Uint8Array;
  /** Default true. */
  fin?: boolean;
  /** The three RSV bits as a number 0–7 (RSV1 = 4). Default 0. */
  rsv?: number;
  /** Masking key; null sends the frame unmasked. Default 37 fa 21 3d (the §5.7 key). */
  mask?: readonly [number, number, number, number] | null;
  /** Force a length form: 7-bit, 16-bit (126) or 64-bit (127). Default: the minimal one. */
  lengthForm?: 7 | 16 | 64;
  /** Announce this length instead of payload.length (to send a header alone). */
  announcedLength?: number | bigint;
}

export const RFC_MASK = [0x37, 0xfa, 0x21, 0x3d] as const;

/** §5.3 masking, the definition, byte by byte. */
export function xorMask(payload: Uint8Array, mask: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ mask[i % 4];
  return out;
}

export function clientHeader(spec: ClientFrameSpec): Buffer {
  const payload = spec.payload ?? new Uint8Array(0);
  const length = BigInt(spec.announcedLength ?? payload.length);
  const mask = spec.mask === undefined ? RFC_MASK : spec.mask;
  const form = spec.lengthForm ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const bytes: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const maskBit = mask === null ? 0 : 0x80;
  if (form === 7) {
    bytes.push(maskBit | Number(length));
  } else if (form === 16) {
    bytes.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  } else {
    bytes.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) bytes.push(Number((length >> shift) & 0xffn));
  }
  if (mask !== null) bytes.push(...mask);
  return Buffer.from(bytes);
}

export function clientFrame(spec: ClientFrameSpec): Buffer {
  const payload = spec.payload ?? new Uint8Array(0);
  const mask = spec.mask === undefined ? RFC_MASK : spec.mask;
  const body = mask === null ? Buffer.from(payload) : xorMask(payload, mask);
  return Buffer.concat([clientHeader(spec), body]);
}

/**
 * Turns a server frame (unmasked, as the encoder writes it) into the frame a
 * client would send with the same content: mask bit set, key inserted after
 * the length, payload XORed. Parses the header itself from §5.2.
 */
export function maskServerFrame(frame: Uint8Array, mask: readonly number[] = RFC_MASK): Buffer {
  const len7 = frame[1] & 0x7f;
  const lengthBytes = len7 < 126 ? 0 : len7 === 126 ? 2 : 8;
  const headerLength = 2 + lengthBytes;
  const header = Buffer.from(frame.subarray(0, headerLength));
  if (header[1] & 0x80) throw new Error('frame is already masked');
  header[1] |= 0x80;
  return Buffer.concat([header, Buffer.from(mask), xorMask(frame.subarray(headerLength), mask)]);
}

export const text = (s: string): Buffer => Buffer.from(s, 'utf8');
