// One published message, encoded once for all its subscribers (RFC 6455
// §5.6): text is encoded to UTF-8 once; a small message is framed once and
// that one frame is handed to every subscriber's socket, uncopied; a large
// one keeps its payload shared, uncopied, and each subscriber only gets a
// header of its own (header and payload leave together under the socket's cork).
//
// Small frames are cut back to back from a slab of their own (as Node's
// Buffer pool cuts small buffers), so the frames a subscriber is sent in one
// tick are usually one run of memory, which its write batch hands to the
// socket as one view (src/io/write-batch.ts): a publication costs one copy
// of its frame, whatever the number of subscribers.
//
// With permessage-deflate (RFC 7692), the payload is also compressed once per
// window size in use among its subscribers, with a fresh window, so every
// subscriber that negotiated that window can be sent the same bytes. A
// connection compressing with context takeover cannot share its own
// compressor's output (its window is its own), so after a shared message it
// resets its compressor: the peer's window now holds bytes ours lacks.
import { Opcode } from '../protocol/constants.js';
import { COPY_LIMIT, frameHead, headerSize, writeHeader } from '../protocol/frame-encoder.js';
import type { SharedMessage } from '../protocol/session.js';
import type { StreamPosition } from './history.js';

export type PublishData = string | Buffer | Uint8Array | ArrayBuffer;

const TEXT = frameHead(Opcode.Text, true);
const BINARY = frameHead(Opcode.Binary, true);

export class Publication implements SharedMessage {
  readonly topic: string;
  readonly binary: boolean;
  /** The payload as bytes: what another process or machine gets. */
  readonly payload: Buffer;
  /** The whole frame, shared by every subscriber, when it is at most COPY_LIMIT; undefined for a large one. */
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
        const frame = claimFrame(TEXT, length);
        frame.write(data, frame.length - length, length, 'utf8');
        return new Publication(topic, false, frame.subarray(frame.length - length), frame);
      }
      return new Publication(topic, false, Buffer.from(data, 'utf8'), undefined);
    }
    return Publication.fromBytes(topic, toBuffer(data), binary !== false);
  }

  /** From bytes that came from elsewhere (another worker, another node, the history). */
  static fromBytes(topic: string, payload: Buffer, binary: boolean, position?: StreamPosition): Publication {
    if (payload.length + headerSize(payload.length) > COPY_LIMIT) return new Publication(topic, binary, payload, undefined, position);
    const frame = claimFrame(binary ? BINARY : TEXT, payload.length);
    frame.set(payload, frame.length - payload.length);
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
    return this.binary ? BINARY : TEXT;
  }
}

/** Where small publications' frames are cut from; never written again once cut. */
const FRAME_SLAB_SIZE = 4 * COPY_LIMIT;
let frameSlab = Buffer.alloc(0);
let frameSlabUsed = 0;

/** A frame of `payloadLength` bytes (header + payload ≤ COPY_LIMIT) at the frame slab's edge, its header written. */
function claimFrame(head: number, payloadLength: number): Buffer {
  const size = headerSize(payloadLength) + payloadLength;
  if (frameSlabUsed + size > frameSlab.length) {
    frameSlab = Buffer.allocUnsafe(FRAME_SLAB_SIZE);
    frameSlabUsed = 0;
  }
  const at = frameSlabUsed;
  frameSlabUsed = at + size;
  writeHeader(frameSlab, at, head, payloadLength);
  return frameSlab.subarray(at, at + size);
}

/** Application data as bytes (a string as UTF-8). */
export function toBuffer(data: PublishData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
