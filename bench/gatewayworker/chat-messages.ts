// Case 12's chat messages, kept pure so that test/unit/bench/ can check them.
//
// A chat message is `size` ASCII bytes: "m", the sender's index (5 digits),
// its sequence number (9), the time it was sent (µs of the load client's
// performance.now(), 13), then the template's filler. ASCII, so that wssd
// (which sends UTF-8 as text) and the PHP Gateway (text frames always) frame
// it alike. A receiver checks each one against the next number it expects
// from that sender: from a member of its group, in order, none missing,
// none twice.
//
// Frames out are text frames masked with the key 0 (RFC 6455 §5.3 wants an
// unpredictable key from a browser; a server cannot tell, and unmasks all
// the same), so a message costs the client no masking pass.

const M = 0x6d; // 'm'
const ZERO = 0x30;
const SENDER_AT = 1;
const SENDER_DIGITS = 5;
const SEQ_AT = SENDER_AT + SENDER_DIGITS;
const SEQ_DIGITS = 9;
const TIME_AT = SEQ_AT + SEQ_DIGITS;
const TIME_DIGITS = 13;
/** The smallest chat message: "m", sender, sequence number, time. */
export const CHAT_HEAD = TIME_AT + TIME_DIGITS;
/** Senders are numbered in 5 digits. */
export const MAX_CLIENTS = 10 ** SENDER_DIGITS;

/** The bytes every chat message of `size` starts from: "m" and filler ('.'). */
export function chatTemplate(size: number): Buffer {
  if (size < CHAT_HEAD || size > 125) throw new Error(`chat messages of ${size} bytes: ${CHAT_HEAD} to 125`);
  const template = Buffer.alloc(size, '.');
  template[0] = M;
  return template;
}

function writeDigits(buffer: Buffer, at: number, digits: number, value: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    buffer[i] = ZERO + (value % 10);
    value = Math.floor(value / 10);
  }
}

function readDigits(data: Buffer, at: number, digits: number): number {
  let value = 0;
  for (let i = at; i < at + digits; i++) value = value * 10 + (data[i] - ZERO);
  return value;
}

/** A client's text frame (masked with the key 0) carrying chat message `seq` of `sender`, sent at `timeMs`. */
export function chatFrame(template: Buffer, sender: number, seq: number, timeMs: number): Buffer {
  const size = template.length;
  const frame = Buffer.allocUnsafe(6 + size);
  frame[0] = 0x81;
  frame[1] = 0x80 | size;
  frame.writeUInt32BE(0, 2);
  template.copy(frame, 6);
  writeDigits(frame, 6 + SENDER_AT, SENDER_DIGITS, sender);
  writeDigits(frame, 6 + SEQ_AT, SEQ_DIGITS, seq);
  writeDigits(frame, 6 + TIME_AT, TIME_DIGITS, Math.round(timeMs * 1000));
  return frame;
}

/** A client's text frame (masked with the key 0) of a short control message ("join:g001", "c"). */
export function controlFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'latin1');
  if (payload.length > 125) throw new Error('a control message is under 126 bytes');
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

/** Whether the payload data[start..end) is a chat message of `size` bytes (else a control answer). */
export function isChat(data: Buffer, start: number, end: number, size: number): boolean {
  return data[start] === M && end - start === size;
}

export const chatSender = (data: Buffer, start: number): number => readDigits(data, start + SENDER_AT, SENDER_DIGITS);
export const chatSeq = (data: Buffer, start: number): number => readDigits(data, start + SEQ_AT, SEQ_DIGITS);
export const chatTimeMs = (data: Buffer, start: number): number => readDigits(data, start + TIME_AT, TIME_DIGITS) / 1000;

/**
 * Checks chat message `seq` of `sender` at a receiver of group `group`, whose
 * `expected` holds the next number due from each sender, and advances it;
 * returns what is wrong, or undefined.
 */
export function checkDelivery(expected: Int32Array, group: number, groupOf: (index: number) => number, sender: number, seq: number): string | undefined {
  if (sender >= expected.length || groupOf(sender) !== group) return `a message from client ${sender}, not of its group ${group}`;
  if (seq !== expected[sender]) return `message ${seq} of client ${sender} where ${expected[sender]} was next`;
  expected[sender] = seq + 1;
  return undefined;
}

export const groupName = (group: number): string => `g${String(group).padStart(3, '0')}`;
