// One published message, encoded once for all its subscribers (RFC 6455
// §5.6): text is encoded to UTF-8 once; a small message is framed once and
// that frame is copied into each subscriber's write batch; a large one keeps
// its payload shared, uncopied, and each subscriber only gets a header of
// its own (header and payload leave together under the socket's cork).
//
// With permessage-deflate (RFC 7692), the payload is also compressed once per
// window size in use among its subscribers, with a fresh window, so every
// subscriber that negotiated that window can be sent the same bytes. A
// connection compressing with context takeover cannot share its own
// compressor's output (its window is its own), so after a shared message it
// resets its compressor: the peer's window now holds bytes ours lacks.
import { Opcode } from '../protocol/constants.js';
import { COPY_LIMIT, encodeFrame, encodeTextFrame, frameHead, headerSize } from '../protocol/frame-encoder.js';
import type { SharedMessage } from '../protocol/session.js';
import type { StreamPosition } from './history.js';

export type PublishData = string | Buffer | Uint8Array | ArrayBuffer;

export class Publication implements SharedMessage {
  readonly topic: string;
  readonly binary: boolean;
  /** The payload as bytes: what another process or machine gets. */
  readonly payload: Buffer;
  /** The whole frame when it is small enough to copy into each batch; undefined for a large one. */
  readonly frame: Buffer | undefined;
  /** Its place in the topic's history, for a topic with history. */
  readonly position: StreamPosition | undefined;
  /** Whether subscribers with permessage-deflate get it compressed (publish's `compress` option). */
  compress = true;
  /** The payload compressed, by window size (shareKey): made at the first subscriber that needs it. */
  private compressedBy: Map<number, Buffer> | undefined;
  /** Other forms of this publication (a protocol's envelope around it), made once each. */
  private variants: Map<string, Publication> | undefined;

  private constructor(topic: string, binary: boolean, payload: Buffer, frame: Buffer | undefined, position?: StreamPosition) {
    this.topic = topic;
    this.binary = binary;
    this.payload = payload;
    this.frame = frame;
    this.position = position;
  }

  /** From an application's data: strings are text unless `binary`, bytes binary unless `binary === false`. */
  static of(topic: string, data: PublishData, binary?: boolean): Publication {
    if (typeof data === 'string' && binary !== true) {
      const length = Buffer.byteLength(data, 'utf8');
      if (length + headerSize(length) <= COPY_LIMIT) {
        const frame = encodeTextFrame(data, length);
        return new Publication(topic, false, frame.subarray(frame.length - length), frame);
      }
      return new Publication(topic, false, Buffer.from(data, 'utf8'), undefined);
    }
    return Publication.fromBytes(topic, toBuffer(data), binary !== false);
  }

  /** From bytes that came from elsewhere (another worker, another node, the history). */
  static fromBytes(topic: string, payload: Buffer, binary: boolean, position?: StreamPosition): Publication {
    if (payload.length + headerSize(payload.length) > COPY_LIMIT) return new Publication(topic, binary, payload, undefined, position);
    const frame = encodeFrame(binary ? Opcode.Binary : Opcode.Text, true, payload);
    return new Publication(topic, binary, frame.subarray(frame.length - payload.length), frame, position);
  }

  /** The payload compressed with a fresh window for subscribers sharing `key`; `compress` makes it the first time. */
  compressedFor(key: number, compress: (payload: Buffer) => Buffer): Buffer {
    const map = (this.compressedBy ??= new Map());
    let compressed = map.get(key);
    if (compressed === undefined) {
      compressed = compress(this.payload);
      map.set(key, compressed);
    }
    return compressed;
  }

  /**
   * This publication in another form, for connections that speak a protocol
   * on top of WebSocket (wssd.v1 wraps it in a JSON envelope): `make` builds
   * it at the first such subscriber, and every other one gets the same.
   */
  variant(key: string, make: (publication: Publication) => Publication): Publication {
    const map = (this.variants ??= new Map());
    let form = map.get(key);
    if (form === undefined) {
      form = make(this);
      form.compress = this.compress;
      map.set(key, form);
    }
    return form;
  }

  /** The frame's first byte. */
  get head(): number {
    return frameHead(this.binary ? Opcode.Binary : Opcode.Text, true);
  }
}

/** Application data as bytes (a string as UTF-8). */
export function toBuffer(data: PublishData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
