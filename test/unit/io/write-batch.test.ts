// The write batch: frames appended back to back into a shared slab, handed
// on as one buffer. What must hold: the bytes handed on are exactly the
// frames, in order; bytes once handed on are never written again (the
// socket may still hold them); interleaved batches and a full slab still work;
// frames shared by many connections are handed on by reference, a run of
// them as one view, never copied into a slab.
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

/** What the batch holds, handed on: one buffer, which the test requires. */
function take(batch: WriteBatch): Buffer {
  const sink = new Sink();
  batch.writeTo(sink);
  expect(sink.writes).toHaveLength(1);
  return sink.writes[0];
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
    const out = take(batch);
    expect(batch.length).toBe(0);
    const want = Buffer.concat([...payloads.map((p) => encodeFrame(Opcode.Binary, true, p)), encodeTextFrame('héllo ✓', Buffer.byteLength('héllo ✓')), encodeFrame(Opcode.Ping, true, Buffer.from('p'))]);
    expect(out.equals(want)).toBe(true);
  });

  it('a header for a large payload ends the batch, in order after earlier frames', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    batch.appendFrame(frameHead(Opcode.Text, true), Buffer.from('a'), sink);
    batch.appendHeader(frameHead(Opcode.Binary, true), 70_000, sink);
    const out = take(batch);
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
    a.writeTo(sinkA);
    b.writeTo(sinkB);
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
      const frames = parseServerFrames(take(batches[i]));
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
      if (i % 3 === 2) batch.writeTo(sink);
    }
    batch.writeTo(sink);
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
    expect(parseServerFrames(take(batch)).map((f) => f.payload.toString())).toEqual(['kept']);
  });

  it('shared frames cut back to back leave as one view of the memory they were cut from, not a copy', () => {
    const slab = Buffer.alloc(8192);
    const frames = Array.from({ length: 10 }, (_, i) => {
      const frame = encodeFrame(Opcode.Binary, true, pattern(300, i));
      frame.copy(slab, i * frame.length);
      return slab.subarray(i * frame.length, (i + 1) * frame.length);
    });
    const batches = Array.from({ length: 50 }, () => new WriteBatch());
    const sinks = batches.map(() => new Sink());
    // A publish loop: each publication to every subscriber in turn.
    for (const frame of frames) batches.forEach((b, i) => b.appendShared(frame, sinks[i]));
    batches.forEach((b, i) => {
      // Nothing was copied into (or claimed from) the batches' slab.
      expect(b.buffer.length).toBe(0);
      expect(b.length).toBe(frames.length * frames[0].length);
      b.writeTo(sinks[i]);
      expect(b.length).toBe(0);
    });
    for (const sink of sinks) {
      expect(sink.writes).toHaveLength(1);
      const [out] = sink.writes;
      expect(out.buffer).toBe(slab.buffer);
      expect(out.byteOffset).toBe(slab.byteOffset);
      expect(out.length).toBe(frames.length * frames[0].length);
    }
  });

  it('shared frames keep their order with the batch\'s own frames, before and after them', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    const a = encodeFrame(Opcode.Binary, true, pattern(40, 1));
    const b = encodeFrame(Opcode.Binary, true, pattern(50, 2));
    batch.appendFrame(frameHead(Opcode.Text, true), Buffer.from('own 1'), sink);
    batch.appendShared(a, sink);
    // Not where `a` ends: a run of its own.
    batch.appendShared(b, sink);
    batch.appendFrame(frameHead(Opcode.Text, true), Buffer.from('own 2'), sink);
    batch.appendShared(a, sink);
    batch.writeTo(sink);
    const frames = parseServerFrames(Buffer.concat(sink.writes));
    expect(frames.map((f) => f.payload)).toEqual([Buffer.from('own 1'), pattern(40, 1), pattern(50, 2), Buffer.from('own 2'), pattern(40, 1)]);
    // Shared frames are handed on as they are, never copied.
    expect(sink.writes.filter((w) => w === a || w === b)).toHaveLength(3);
  });

  it('clear() forgets shared frames too', () => {
    const batch = new WriteBatch();
    const sink = new Sink();
    batch.appendShared(encodeFrame(Opcode.Binary, true, pattern(10, 1)), sink);
    batch.clear();
    expect(batch.length).toBe(0);
    batch.writeTo(sink);
    expect(sink.writes).toHaveLength(0);
  });
});
