// Where a session's outgoing frames go. The session decides every frame — its
// state allows it, the opcode, FIN and RSV bits — and the sink lays it out
// with the encoder into memory it owns: the socket writer into its write
// batch (so a small frame costs one copy of its payload and a large one none),
// a test or a fuzzer into plain buffers. A frame encoded once for many
// connections (a publish) is handed over whole, and is never changed
// afterwards, so a sink may keep it by reference.
import { encodeFrameWithHead, encodeTextFrame } from './frame-encoder.js';

export interface FrameSink {
  /** A frame: `head` is its first byte (FIN, RSV1–3, opcode; see frameHead), then `payload`. */
  frame(head: number, payload: Uint8Array): void;
  /** A frame whose payload is `text` as UTF-8, `byteLength` bytes of it. */
  textFrame(head: number, text: string, byteLength: number): void;
  /** One or more frames already encoded, written as they are; nobody changes them afterwards (a sink may keep them uncopied). */
  encoded(frames: Buffer): void;
}

/** A sink that keeps each frame as a buffer of its own: for tests, fuzzers and tools. */
export class FrameCollector implements FrameSink {
  readonly written: Buffer[] = [];

  frame(head: number, payload: Uint8Array): void {
    this.written.push(encodeFrameWithHead(head, payload));
  }

  textFrame(head: number, text: string, byteLength: number): void {
    this.written.push(encodeTextFrame(text, byteLength, head));
  }

  encoded(frames: Buffer): void {
    this.written.push(Buffer.from(frames));
  }

  /** Everything written so far, as one buffer, and forgets it. */
  take(): Buffer {
    const all = Buffer.concat(this.written);
    this.written.length = 0;
    return all;
  }
}
