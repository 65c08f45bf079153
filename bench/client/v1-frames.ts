// Case 11's wssd.v1 subscribers as the load client runs them: the subscribe
// command they send, and the receiver that reads the publications of cases 7,
// 9 and 10 (bench/harness/publications.ts) out of the protocol's `pub` push —
// kept pure so that test/unit/bench/client.test.ts can hold it against the
// server's own envelope (src/gateway/v1/frames.ts, v1Form) and base64.
//
// A binary publication reaches a wssd.v1 client as one text frame,
//   {"push":"pub","topic":"<topic>","data_base64":"<payload as base64>"}
// (topics without history: no offset, no epoch). The receiver checks every
// frame as PublicationReceiver checks a raw one: a text frame with FIN, of
// exactly the envelope's length, starting with the envelope's bytes up to the
// base64, carrying the next sequence number of its connection and the right
// check byte — and, when sampled, records the publish-to-receipt latency.
// It decodes only the base64 it reads (the first 16 characters: sequence
// number and stamp; the last quantum: the check byte) into a scratch buffer,
// so that a frame costs the load client no allocation, as a raw one does not:
// the client must not be what limits the server.
import { Opcode } from '../../src/protocol/constants.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { FrameDecoder, type FrameHandler } from '../../src/protocol/frame-decoder.js';
import { monoMs } from '../harness/clock.js';
import { checkByte, type PublicationStats } from '../harness/publications.js';
import type { Receiver } from '../harness/subscribers.js';

/** The subprotocol (docs/reference/client-protocol.md). */
export const V1_PROTOCOL = 'wssd.v1';

/** The id of the one command each load-client subscriber sends. */
export const SUBSCRIBE_ID = 1;

/** A subscribe command (text), without `since`: the topics of table A keep no history. */
export function subscribeCommand(topic: string, id = SUBSCRIBE_ID): Buffer {
  return Buffer.from(JSON.stringify({ id, cmd: 'subscribe', topic }), 'utf8');
}

/** Whether `text` is the reply a plain subscribe gets: `{"id":ID,"result":{"recovered":true,…}}`. */
export function isSubscribedReply(text: string, id = SUBSCRIBE_ID): boolean {
  try {
    const reply = JSON.parse(text) as { id?: unknown; result?: { recovered?: unknown } };
    return reply.id === id && reply.result?.recovered === true;
  } catch {
    return false;
  }
}

/** Characters of the base64 of `size` bytes (RFC 4648 §4, padded). */
export function base64Length(size: number): number {
  return 4 * Math.ceil(size / 3);
}

/** What a `pub` push of `topic` holds before the base64 of the payload. */
export function envelopeHead(topic: string): Buffer {
  return Buffer.from(`{"push":"pub","topic":${JSON.stringify(topic)},"data_base64":"`, 'utf8');
}

/** The bytes that close a `pub` push of a topic without history. */
const TAIL = '"}';

/** A `pub` push's length for a `size`-byte binary publication of `topic` (no history). */
export function envelopeLength(topic: string, size: number): number {
  return envelopeHead(topic).length + base64Length(size) + TAIL.length;
}

// Base64's alphabet (RFC 4648 §4) as values by character code; -1 elsewhere.
const VALUES = new Int8Array(256).fill(-1);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
for (let i = 0; i < 64; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes the `quanta` 4-character groups of base64 at src[start..] into
 * `into` from 0; a '=' ends the bytes. Returns the bytes written, or -1 where a
 * character is not base64.
 */
export function decodeBase64Into(src: Buffer, start: number, quanta: number, into: Buffer): number {
  let out = 0;
  for (let q = 0; q < quanta; q++) {
    const at = start + 4 * q;
    const a = VALUES[src[at]];
    const b = VALUES[src[at + 1]];
    if (a < 0 || b < 0) return -1;
    into[out++] = (a << 2) | (b >> 4);
    if (src[at + 2] === 0x3d /* = */) return out;
    const c = VALUES[src[at + 2]];
    if (c < 0) return -1;
    into[out++] = ((b & 15) << 4) | (c >> 2);
    if (src[at + 3] === 0x3d) return out;
    const d = VALUES[src[at + 3]];
    if (d < 0) return -1;
    into[out++] = ((c & 3) << 6) | d;
  }
  return out;
}

/** One scratch buffer for every receiver: a frame's decoded bytes are read before the next frame is. */
const scratch = Buffer.alloc(12);

/** One wssd.v1 subscriber's receiving side, after its subscribe's reply (see the file's head). */
export class V1PublicationReceiver implements FrameHandler, Receiver {
  next: number;
  failed = false;
  private readonly size: number;
  private readonly stats: PublicationStats;
  private readonly sampled: boolean;
  private readonly head: Buffer;
  private readonly length: number;
  private readonly decoder: FrameDecoder;
  private arrival = 0;

  constructor(topic: string, size: number, stats: PublicationStats, sampled: boolean, firstSeq = 0) {
    this.size = size;
    this.stats = stats;
    this.sampled = sampled;
    this.next = firstSeq;
    this.head = envelopeHead(topic);
    this.length = envelopeLength(topic, size);
    this.decoder = new FrameDecoder(this, { requireMask: false, maxPayload: this.length });
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.arrival = monoMs();
    this.decoder.push(chunk);
  }

  onFrame(opcode: number, fin: boolean, data: Buffer, start: number, end: number): void {
    if (this.failed) return;
    if (opcode !== Opcode.Text || !fin) return this.fail(`unexpected frame: opcode ${opcode}, fin ${fin}`);
    if (end - start !== this.length) return this.fail(`a frame of ${end - start} bytes, expected a pub push of ${this.length}: ${data.toString('utf8', start, Math.min(end, start + 120))}`);
    const head = this.head;
    if (data.compare(head, 0, head.length, start, start + head.length) !== 0 || data[end - 2] !== 0x22 || data[end - 1] !== 0x7d) {
      return this.fail(`not a pub push of this topic: ${data.toString('utf8', start, Math.min(end, start + 120))}`);
    }
    const b64 = start + head.length;
    // 16 characters: the payload's first 12 bytes, sequence number and stamp.
    if (decodeBase64Into(data, b64, 4, scratch) !== 12) return this.fail('the payload is not base64');
    const seq = scratch.readUInt32LE(0);
    if (seq !== this.next) return this.fail(seq > this.next ? `publications ${this.next}..${seq - 1} missing (got ${seq})` : `publication ${seq} out of order (expected ${this.next})`);
    const sent = scratch.readDoubleLE(4);
    // The last quantum ends with the payload's last byte, the check byte.
    const last = decodeBase64Into(data, end - 2 - 4, 1, scratch);
    if (last < 1 || scratch[last - 1] !== checkByte(seq, this.size)) return this.fail(`publication ${seq}: its last byte is wrong`);
    this.next = seq + 1;
    const stats = this.stats;
    stats.received++;
    if (stats.recording) {
      stats.recordedFrames++;
      if (this.sampled) stats.latencies.add(this.arrival - sent);
    }
  }

  onError(error: ProtocolError): void {
    this.fail(`undecodable frame: ${error.message}`);
  }

  private fail(message: string): void {
    this.failed = true;
    this.stats.fail(new Error(message));
  }
}
