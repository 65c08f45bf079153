// The little of a net.Socket that SocketWriter uses, in memory: every chunk
// written is kept, and counted in writableLength until the peer reads.
import type { Socket } from 'node:net';

export class FakeSocket {
  readonly writes: Buffer[] = [];
  destroyed = false;
  writableLength = 0;
  cork(): void {}
  uncork(): void {}
  pause(): void {}
  resume(): void {}
  write(chunk: Buffer): boolean {
    this.writes.push(chunk);
    this.writableLength += chunk.length;
    return true;
  }
  /** The peer read everything (for node:tls: the loop's check phase reported the writes done). */
  read(): void {
    this.writableLength = 0;
  }
  get socket(): Socket {
    return this as unknown as Socket;
  }
}
