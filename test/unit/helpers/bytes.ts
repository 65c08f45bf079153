// Hex fixtures: written the way RFC 6455 §5.7 prints them ("0x81 0x05 …" or
// "81 05 …"), so a fixture can be checked against the RFC by eye.

/** Parses "81 85 37 fa", "0x81 0x85" or "8185 37fa" into bytes. */
export function hex(text: string): Buffer {
  const digits = text.replace(/0x/gi, '').replace(/[\s,]/g, '');
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) throw new Error(`bad hex fixture: ${text}`);
  return Buffer.from(digits, 'hex');
}

/** "81 85 37 fa": for readable assertion messages. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** A payload whose every byte differs from its neighbours, so a shifted or mis-masked byte shows. */
export function pattern(length: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return out;
}
