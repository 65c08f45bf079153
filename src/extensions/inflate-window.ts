// The last bytes of a stream of messages, as many as an LZ77 window holds:
// what an inflater with context takeover keeps between two messages. After a
// sync flush at a message's end (RFC 7692 §7.2.1) the inflater sits on a byte
// boundary between blocks, so its whole state is that window; an inflater
// made fresh with these bytes as its preset dictionary continues the stream
// exactly. That lets a connection give back its zlib context when idle, and
// carry on after a message that ended with a final block.
//
// Messages are kept as they are (they are exact-size buffers of their own:
// no copy), trimmed from the front once more than a window is held; a large
// one is kept as a copy of its last window, not as a view that would pin it.
export class InflateWindow {
  private readonly size: number;
  private pieces: Buffer[] = [];
  private length = 0;

  constructor(windowBits: number) {
    this.size = 1 << windowBits;
  }

  push(message: Buffer): void {
    if (message.length === 0) return;
    if (message.length >= this.size) {
      this.pieces = [Buffer.from(message.subarray(message.length - this.size))];
      this.length = this.size;
      return;
    }
    this.pieces.push(message);
    this.length += message.length;
    while (this.length - this.pieces[0].length >= this.size) this.length -= this.pieces.shift()!.length;
  }

  /** The last window of bytes (fewer at the start of the stream); undefined when nothing was seen yet. */
  window(): Buffer | undefined {
    if (this.length === 0) return undefined;
    const all = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.length);
    // Keep the joined copy: the next call needs no concat.
    this.pieces = [all];
    return all.length > this.size ? all.subarray(all.length - this.size) : all;
  }

  /** Bytes held. */
  get held(): number {
    return this.length;
  }
}
