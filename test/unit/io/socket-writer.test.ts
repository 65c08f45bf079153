// The socket writer over a fake socket: what a socket is handed, and what
// memory stands behind it. A batch is a view of a slab other connections'
// batches share; a socket whose peer does not read holds its views, and the
// slabs behind them, until the peer reads. What must hold: a socket that
// keeps emptying is handed views, uncopied; one that never empties holds a
// few views at most and then copies of exactly the bytes it was sent (bench
// case 7d: a send() loop over 50 connections left 6 MiB queued for one that
// did not read, holding 318 MiB of slabs).
import { describe, expect, it } from 'vitest';
import { SocketWriter } from '../../../src/io/socket-writer.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { frameHead } from '../../../src/protocol/frame-encoder.js';
import { pattern } from '../helpers/bytes.js';
import { FakeSocket } from '../helpers/fake-socket.js';
import { parseServerFrames } from '../helpers/server-frames.js';

const BINARY = frameHead(Opcode.Binary, true);

function writers(n: number): { socket: FakeSocket; writer: SocketWriter }[] {
  return Array.from({ length: n }, () => {
    const socket = new FakeSocket();
    return { socket, writer: new SocketWriter(socket.socket, { onDrain() {} }, 64 * 1024) };
  });
}

/** Bytes of memory behind a socket's writes: each distinct ArrayBuffer, whole. */
function held(socket: FakeSocket): number {
  let bytes = 0;
  for (const buffer of new Set(socket.writes.map((w) => w.buffer))) bytes += buffer.byteLength;
  return bytes;
}

describe('SocketWriter', () => {
  it('a send() loop over 50 connections, one peer not reading: its socket holds about its bytes, the others views', () => {
    const all = writers(50);
    const stalled = all[0];
    const ticks = 400;
    for (let tick = 0; tick < ticks; tick++) {
      const payload = pattern(1024, tick);
      for (const { writer } of all) writer.frame(BINARY, payload);
      for (const { writer } of all) writer.flush();
      // Everyone reads but the first.
      for (const { socket } of all.slice(1)) socket.read();
    }
    const sent = stalled.socket.writes.reduce((n, w) => n + w.length, 0);
    expect(sent).toBe(ticks * 1028);
    // A few views (each a whole 64 KiB slab) before the copies begin, then the bytes themselves.
    expect(held(stalled.socket)).toBeLessThanOrEqual(sent + 5 * 64 * 1024);
    // Every frame arrived whole and in order.
    expect(parseServerFrames(Buffer.concat(stalled.socket.writes)).map((f) => f.payload)).toEqual(Array.from({ length: ticks }, (_, i) => pattern(1024, i)));
    // Peers that read were handed views of the shared slabs, never copies.
    expect(all[1].socket.writes.every((w) => w.buffer.byteLength > w.length)).toBe(true);
  });

  it('a socket that empties again is handed views again', () => {
    const [{ socket, writer }] = writers(1);
    for (let i = 0; i < 10; i++) {
      writer.frame(BINARY, pattern(100, i));
      writer.flush();
    }
    // Ten writes, never emptied: the last ones were copies of exactly their bytes.
    expect(socket.writes.at(-1)?.buffer.byteLength).toBe(102);
    socket.read();
    writer.frame(BINARY, pattern(100, 10));
    writer.flush();
    expect(socket.writes.at(-1)?.buffer.byteLength).toBeGreaterThan(102);
  });
});
