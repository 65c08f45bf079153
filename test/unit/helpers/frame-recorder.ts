// A FrameHandler that records what the frame decoder delivers and reports,
// and the ways the frame decoder tests feed it: one input in every chunking
// (helpers/chunking.ts), each of which must give the same frames and errors.
// Shared by protocol/frame-decoder.test.ts (what it refuses, where delivery
// ends) and protocol/frame-decoder-delivery.test.ts (well-formed frames).
import { expect } from 'vitest';
import type { ProtocolError } from '../../../src/protocol/errors.js';
import { FrameDecoder, type FrameDecoderOptions, type FrameHandler } from '../../../src/protocol/frame-decoder.js';
import { chunkings } from './chunking.js';
import { rng } from './prng.js';

export interface Frame {
  opcode: number;
  fin: boolean;
  payload: Buffer;
}

export class Recorder implements FrameHandler {
  frames: Frame[] = [];
  errors: ProtocolError[] = [];
  /** Called after each recorded frame; lets a test act from inside onFrame. */
  after: ((frame: Frame) => void) | undefined;
  onFrame(opcode: number, fin: boolean, data: Buffer, start: number, end: number): void {
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeLessThanOrEqual(data.length);
    const frame = { opcode, fin, payload: data.subarray(start, end) };
    this.frames.push(frame);
    this.after?.(frame);
  }
  onError(error: ProtocolError): void {
    this.errors.push(error);
  }
}

export interface Summary {
  frames: { opcode: number; fin: boolean; payload: string }[];
  errors: { code: string; closeCode: number }[];
}

export function summarize(r: Recorder): Summary {
  return {
    frames: r.frames.map((f) => ({ opcode: f.opcode, fin: f.fin, payload: f.payload.toString('hex') })),
    errors: r.errors.map((e) => ({ code: e.code, closeCode: e.closeCode })),
  };
}

export function feed(chunks: Buffer[], options?: FrameDecoderOptions): { recorder: Recorder; decoder: FrameDecoder } {
  const recorder = new Recorder();
  const decoder = new FrameDecoder(recorder, options);
  for (const chunk of chunks) decoder.push(chunk);
  return { recorder, decoder };
}

export function expected(frames: [number, boolean, Uint8Array][], errors: [string, number][] = []): Summary {
  return {
    frames: frames.map(([opcode, fin, p]) => ({ opcode, fin, payload: Buffer.from(p).toString('hex') })),
    errors: errors.map(([code, closeCode]) => ({ code, closeCode })),
  };
}

/** Feeds `wire` in every chunking and checks each gives `want`. */
export function expectAllChunkings(
  wire: Buffer,
  want: Summary,
  options: FrameDecoderOptions | undefined,
  seed: number,
  chunkOpts: Parameters<typeof chunkings>[2] = {},
): number {
  let runs = 0;
  for (const { name, chunks } of chunkings(wire, rng(seed), chunkOpts)) {
    const got = summarize(feed(chunks, options).recorder);
    if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, `chunking: ${name}`).toEqual(want);
    runs++;
  }
  return runs;
}
