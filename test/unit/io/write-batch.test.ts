// The write batch: frames appended back to back into a shared slab, handed
// on as one buffer. What must hold: the bytes handed on are exactly the
// frames, in order; bytes once handed on are never written again (the
// socket may still hold them); interleaved batches and a full slab still work.
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/protocol/constants.js';
import { COPY_LIMIT, encodeFrame, encodeTextFrame, frameHead } from '../../../src/protocol/frame-encoder.js';
import { WriteBatch } from '../../../src/io/write-batch.js';
import { pattern } from '../helpers/bytes.js';
import { parseServerFrames } from '../helpers/server-frames.js';

class Sink {
  readonly writes: Buffer[] = [];
  write(bytes: Buffer): void {
    this.writes.push(bytes);
  }
  /** Copies, so later slab writes would show up as a difference. */
  snapshot(): Buffer[] {
    return this.writes.map((b) => Buffer.from(b));
  }
}

describe('WriteBatch', () => {
  it('§5.2 appended frames come out as one buffer, byte for byte the encoder\'s frames', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    const payloads = [0, 1, 125, 126, 1000].map((n, i) => pattern(n, i));
    for (const p of payloads) batch.appendFrame(frameHead(Opcode.Binary, true), p, sink);
    batch.appendText(frameHead(Opcode.Text, true), 'héllo ✓', Buffer.byteLength('héllo ✓'), sink);
    batch.appendFrame(frameHead(Opcode.Ping, true), Buffer.from('p'), sink);
    expect(sink.writes).toHaveLength(0);
    const out = batch.take();
    expect(batch.length).toBe(0);
    const want = Buffer.concat([...payloads.map((p) => encodeFrame(Opcode.Binary, true, p)), encodeTextFrame('héllo ✓', Buffer.byteLength('héllo ✓')), encodeFrame(Opcode.Ping, true, Buffer.from('p'))]);
    expect(out.equals(want)).toBe(true);
  });

  it('a header for a large payload ends the batch, in order after earlier frames', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    batch.appendFrame(frameHead(Opcode.Text, true), Buffer.from('a'), sink);
    batch.appendHeader(frameHead(Opcode.Binary, true), 70_000, sink);
    const out = batch.take();
    const big = pattern(70_000, 3);
    const frames = parseServerFrames(Buffer.concat([out, big]));
    expect(frames.map((f) => [f.opcode, f.payload.length])).toEqual([
      [Opcode.Text, 1],
      [Opcode.Binary, 70_000],
    ]);
    expect(frames[1].payload.equals(big)).toBe(true);
  });

  it('interleaved batches (a broadcast loop) never overwrite each other; each connection\'s bytes stay in order', () => {
    const a = new WriteBatch();
    const b = new WriteBatch();
    const sinkA = new Sink();
    const sinkB = new Sink();
    const sentA: Buffer[] = [];
    const sentB: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const pa = pattern(1 + ((i * 37) % 900), i);
      const pb = pattern(1 + ((i * 53) % 900), i + 1000);
      a.appendFrame(frameHead(Opcode.Binary, true), pa, sinkA);
      b.appendFrame(frameHead(Opcode.Binary, true), pb, sinkB);
      sentA.push(pa);
      sentB.push(pb);
    }
    sinkA.write(a.take());
    sinkB.write(b.take());
    // Alternating appends move each batch to the slab's edge with room to
    // spare: a few writes per connection (one per half slab at most), none corrupted.
    const total = (sent: Buffer[]): number => sent.reduce((n, p) => n + p.length + 4, 0);
    expect(sinkA.writes.length).toBeLessThanOrEqual(Math.ceil(total(sentA) / (32 * 1024)) + 1);
    expect(sinkB.writes.length).toBeLessThanOrEqual(Math.ceil(total(sentB) / (32 * 1024)) + 1);
    const check = (sink: Sink, sent: Buffer[]): void => {
      const frames = parseServerFrames(Buffer.concat(sink.writes));
      expect(frames.length).toBe(sent.length);
      expect(frames.every((f, i) => f.payload.equals(sent[i]))).toBe(true);
    };
    check(sinkA, sentA);
    check(sinkB, sentB);
  });

  it('a publish loop: 1,000 batches taking turns, 20 small frames each, leave as one write each, in order', () => {
    const batches = Array.from({ length: 1000 }, () => new WriteBatch());
    const sink = new Sink();
    for (let frame = 0; frame < 20; frame++) {
      for (let i = 0; i < batches.length; i++) batches[i].appendFrame(frameHead(Opcode.Binary, true), pattern(32, i * 20 + frame), sink);
    }
    expect(sink.writes).toHaveLength(0);
    for (let i = 0; i < batches.length; i++) {
      const frames = parseServerFrames(batches[i].take());
      expect(frames.map((f) => f.payload)).toEqual(Array.from({ length: 20 }, (_, frame) => pattern(32, i * 20 + frame)));
    }
  });

  it('bytes handed on are never written again, across a slab rollover (many max-size frames)', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    const sent: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const p = pattern(i % 2 === 0 ? COPY_LIMIT : 7, i);
      batch.appendFrame(frameHead(Opcode.Binary, true), p, sink);
      sent.push(p);
      if (i % 3 === 2) sink.write(batch.take());
    }
    sink.write(batch.take());
    const before = sink.snapshot();
    // Keep appending elsewhere: the slab moves on, what was handed on must not change.
    const other = new WriteBatch();
    for (let i = 0; i < 40; i++) other.appendFrame(frameHead(Opcode.Binary, true), pattern(COPY_LIMIT, 99), sink);
    expect(before.every((bytes, i) => bytes.equals(sink.writes[i]))).toBe(true);
    const frames = parseServerFrames(Buffer.concat(before));
    expect(frames.length).toBe(sent.length);
    expect(frames.every((f, i) => f.payload.equals(sent[i]))).toBe(true);
  });

  it('clear() drops the batch; the next append starts a fresh one', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    batch.appendFrame(frameHead(Opcode.Binary, true), Buffer.from('gone'), sink);
    batch.clear();
    expect(batch.length).toBe(0);
    batch.appendFrame(frameHead(Opcode.Binary, true), Buffer.from('kept'), sink);
    expect(parseServerFrames(batch.take()).map((f) => f.payload.toString())).toEqual(['kept']);
  });
});
