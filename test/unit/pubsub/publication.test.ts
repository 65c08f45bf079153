// A publication on its way to many subscribers, through the real session and
// socket writer, a fake socket under each: its frame is encoded once and
// every subscriber's socket is handed that same memory, never a copy; the
// frames of publications made one after another lie back to back, so a tick
// of them leaves as one write per subscriber; and what a socket holds is
// about the bytes it was sent, not one write-batch slab per write (bench case
// 7d: a subscriber that did not read held 52 MiB of slabs for 1 MiB queued).
import { describe, expect, it } from 'vitest';
import { SocketWriter } from '../../../src/io/socket-writer.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { COPY_LIMIT } from '../../../src/protocol/frame-encoder.js';
import { WebSocketSession } from '../../../src/protocol/session.js';
import { Publication } from '../../../src/pubsub/publication.js';
import { pattern } from '../helpers/bytes.js';
import { FakeSocket } from '../helpers/fake-socket.js';
import { parseServerFrames } from '../helpers/server-frames.js';

const host = { onMessage() {}, onPing() {}, onPong() {}, onCloseSent() {}, onClosed() {} };

function subscribers(n: number): { socket: FakeSocket; writer: SocketWriter; session: WebSocketSession }[] {
  return Array.from({ length: n }, () => {
    const socket = new FakeSocket();
    const writer = new SocketWriter(socket.socket, { onDrain() {} }, 64 * 1024);
    return { socket, writer, session: new WebSocketSession(host, writer) };
  });
}

describe('Publication', () => {
  it('§5.6 its frame is shared, not copied: every subscriber\'s socket gets the same memory', () => {
    const subs = subscribers(20);
    const publication = Publication.of('t', pattern(1024, 7));
    for (const s of subs) s.session.sendShared(publication);
    for (const s of subs) s.writer.flush();
    for (const s of subs) {
      expect(s.socket.writes).toHaveLength(1);
      const [out] = s.socket.writes;
      expect(out.buffer).toBe(publication.frame?.buffer);
      expect(out.byteOffset).toBe(publication.frame?.byteOffset);
      expect(parseServerFrames(out).map((f) => [f.opcode, f.payload])).toEqual([[Opcode.Binary, pattern(1024, 7)]]);
    }
  });

  it('a tick of publications leaves as one write per subscriber, in order, text and binary alike', () => {
    const subs = subscribers(5);
    const sent = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? `text ${i} ✓` : pattern(100 + i, i)));
    for (const data of sent) {
      const publication = Publication.of('t', data);
      for (const s of subs) s.session.sendShared(publication);
    }
    for (const s of subs) {
      s.writer.flush();
      expect(s.socket.writes).toHaveLength(1);
      const frames = parseServerFrames(s.socket.writes[0]);
      expect(frames.map((f) => (f.opcode === Opcode.Text ? f.payload.toString('utf8') : f.payload))).toEqual(sent);
    }
  });

  it('what a subscriber is sent one publication per tick lies in about as many bytes of memory, not a slab per write', () => {
    const subs = subscribers(60);
    const ticks = 300;
    for (let tick = 0; tick < ticks; tick++) {
      const publication = Publication.of('t', pattern(1024, tick));
      for (const s of subs) s.session.sendShared(publication);
      for (const s of subs) s.writer.flush();
      // Every peer reads: its socket is handed views, never copies (see socket-writer.test.ts).
      for (const s of subs) s.socket.read();
    }
    // The memory behind one subscriber's writes: each distinct ArrayBuffer, whole.
    const held = new Set(subs[0].socket.writes.map((w) => w.buffer));
    let heldBytes = 0;
    for (const buffer of held) heldBytes += buffer.byteLength;
    const sentBytes = subs[0].socket.writes.reduce((n, w) => n + w.length, 0);
    expect(sentBytes).toBe(ticks * 1028);
    // Publications are cut from slabs of 4 × COPY_LIMIT: at most one slab beyond the bytes.
    expect(heldBytes).toBeLessThanOrEqual(sentBytes + 4 * COPY_LIMIT);
  });
});
