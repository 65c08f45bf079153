// Case 1: the frame decoder alone, over 64 MiB of masked client frames, fed
// in 16 KiB chunks (a TLS record) and 1,337-byte chunks (headers and payloads
// split at every position), beside its floors over the same bytes: one
// Buffer.copy pass (memcpy), the project's fastest unmask alone (WebAssembly
// SIMD from 2 KiB where available) and the JavaScript 32-bit XOR loop alone.
//
// A payload that straddles chunks must end up in a Buffer of its own, so for
// those rows (64 KiB and 1 MiB in both chunk sizes, 1 KiB in 1,337-byte
// chunks) a fourth floor: a fresh Buffer per payload and one copy into it, no
// XOR. Fresh memory costs page faults wherever the allocator handed the last
// GC's memory back to the kernel, and faults are what separates these rows
// from the in-place floors on a virtual machine; so the page faults the
// decoder takes per MiB of payload are printed too (256 = every 4 KiB page of
// every payload faulted in).
//
// The ratio to the JS XOR loop is printed twice: from the wall-time medians
// above (each measured for its own second or so), and from CPU time with
// decoder and XOR passes interleaved, which is the one to read on a loaded
// machine.
import { FrameDecoder, type FrameHandler } from '../../src/protocol/frame-decoder.js';
import { unmask, unmaskWords } from '../../src/protocol/mask.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { buildClientFrames, chunk, payloadPattern, type FrameBatch } from '../harness/client-frames.js';
import { cpuRatioInterleaved, round, timePasses } from '../harness/measure.js';

export interface DecoderResult {
  payload: number;
  chunk: number;
  frames: number;
  nsPerFrame: number;
  framesPerSec: number;
  payloadGBps: number;
  unmaskNsPerFrame: number;
  unmaskGBps: number;
  /** The JavaScript 32-bit XOR loop alone over the same payloads. */
  jsXorGBps: number;
  memcpyGBps: number;
  /** A fresh Buffer per payload and one copy into it, no XOR (payloads from 1 KiB; 0 below). */
  freshCopyGBps: number;
  /** Minor page faults during the decoder's passes, per MiB of payload decoded. */
  faultsPerMiB: number;
  /** Decoder time per frame ÷ the fastest unmask's. */
  vsUnmask: number;
  /** Decoder payload GB/s ÷ the JS XOR loop's. */
  vsJsXor: number;
  /** The same ratio from CPU time, decoder and JS XOR passes interleaved (median of the pairs). */
  vsJsXorCpu: number;
  /** Decoder payload GB/s ÷ the fresh-Buffer copy's (0 where that floor is not measured). */
  vsFreshCopy: number;
}

class CountingHandler implements FrameHandler {
  frames = 0;
  bytes = 0;
  error: ProtocolError | undefined;
  onFrame(_opcode: number, _fin: boolean, _data: Buffer, start: number, end: number): void {
    this.frames++;
    this.bytes += end - start;
  }
  onError(error: ProtocolError): void {
    this.error = error;
  }
}

/** Decodes the batch once and checks every payload; the bench's correctness check. */
export function verifyDecode(batch: FrameBatch, chunkSize: number): void {
  const copy = Buffer.from(batch.bytes);
  const expected = payloadPattern(1, batch.payloadSize);
  let seen = 0;
  const decoder = new FrameDecoder(
    {
      onFrame(opcode, fin, data, start, end) {
        if (opcode !== batch.opcode || !fin || data.compare(expected, 0, expected.length, start, end) !== 0) throw new Error(`frame ${seen} decoded wrong`);
        seen++;
      },
      onError(error) {
        throw error;
      },
    },
    { maxPayload: 64 * 1024 * 1024 },
  );
  for (const c of chunk(copy, chunkSize)) decoder.push(c);
  if (seen !== batch.count) throw new Error(`decoded ${seen} of ${batch.count} frames`);
}

export function benchDecoder(payloadSizes: number[], chunkSizes: number[], totalBytes: number, minMs: number): DecoderResult[] {
  const results: DecoderResult[] = [];
  for (const size of payloadSizes) {
    const batch = buildClientFrames(size, totalBytes);
    const bytes = batch.bytes;
    // Check first: the timed passes below unmask in place and leave the payloads toggled.
    for (const chunkSize of chunkSizes) verifyDecode(batch, chunkSize);
    // Payload ranges, for the unmask-alone floor.
    const starts: number[] = [];
    {
      const hl = (size < 126 ? 2 : size < 0x10000 ? 4 : 10) + 4;
      for (let i = 0, at = 0; i < batch.count; i++, at += hl + size) starts.push(at + hl);
    }
    const target = Buffer.allocUnsafe(bytes.length);
    const memcpy = timePasses(() => bytes.copy(target), minMs);
    // Unmasking twice restores the bytes, and each pass is the same work, so
    // the batch can be reused by every pass (the decoder unmasks in place too).
    const unmaskPass = timePasses(() => {
      for (let i = 0; i < starts.length; i++) unmask(bytes, 0x37, 0xfa, 0x21, 0x3d, starts[i], starts[i] + size);
    }, minMs);
    const jsXor = (): void => {
      for (let i = 0; i < starts.length; i++) unmaskWords(bytes, 0x37, 0xfa, 0x21, 0x3d, starts[i], starts[i] + size);
    };
    const jsXorPass = timePasses(jsXor, minMs);
    const freshCopy =
      size >= 1024
        ? timePasses(() => {
            for (let i = 0; i < starts.length; i++) bytes.copy(Buffer.allocUnsafe(size), 0, starts[i], starts[i] + size);
          }, minMs)
        : undefined;
    const payloadBytes = batch.count * size;
    for (const chunkSize of chunkSizes) {
      const chunks = chunk(bytes, chunkSize);
      const handler = new CountingHandler();
      const decode = (): void => {
        const decoder = new FrameDecoder(handler, { maxPayload: 64 * 1024 * 1024 });
        for (let i = 0; i < chunks.length; i++) decoder.push(chunks[i]);
      };
      let passes = 0;
      const faultsBefore = process.resourceUsage().minorPageFault;
      const t = timePasses(() => {
        passes++;
        decode();
      }, minMs);
      const faults = process.resourceUsage().minorPageFault - faultsBefore;
      const vsJsXorCpu = size === 0 ? 0 : cpuRatioInterleaved(jsXor, decode, minMs);
      if (handler.error !== undefined) throw handler.error;
      const nsPerFrame = t.nsPerPass / batch.count;
      const unmaskNsPerFrame = unmaskPass.nsPerPass / batch.count;
      results.push({
        payload: size,
        chunk: chunkSize,
        frames: batch.count,
        nsPerFrame: round(nsPerFrame, 1),
        framesPerSec: Math.round(1e9 / nsPerFrame),
        payloadGBps: round(payloadBytes / t.nsPerPass),
        unmaskNsPerFrame: round(unmaskNsPerFrame, 1),
        unmaskGBps: round(payloadBytes / unmaskPass.nsPerPass),
        jsXorGBps: round(payloadBytes / jsXorPass.nsPerPass),
        memcpyGBps: round(bytes.length / memcpy.nsPerPass),
        freshCopyGBps: freshCopy === undefined ? 0 : round(payloadBytes / freshCopy.nsPerPass),
        faultsPerMiB: size === 0 ? 0 : round(faults / ((passes * payloadBytes) / (1024 * 1024)), 1),
        vsUnmask: round(nsPerFrame / Math.max(unmaskNsPerFrame, 1e-9)),
        vsJsXor: size === 0 ? 0 : round(jsXorPass.nsPerPass / t.nsPerPass),
        vsJsXorCpu: round(vsJsXorCpu),
        vsFreshCopy: freshCopy === undefined ? 0 : round(freshCopy.nsPerPass / t.nsPerPass),
      });
    }
  }
  return results;
}
