// RFC 6455 §5.3 masking, 16 bytes at a time: a WebAssembly SIMD kernel,
// assembled by hand below (no toolchain, no dependency: the module is 120-odd
// bytes).
//
// WebAssembly cannot address a Buffer's memory, so payloads pass through a
// 64 KiB scratch area in the module's own memory: copy in, XOR, copy out. The
// copies run at memcpy speed in cache, so the round trip still beats the
// JavaScript word loop by 2.4–2.7× at 4–64 KiB, 2.2× at 1 MiB and 1.3× over
// 64 MiB, where memory bandwidth bounds both (x86-64, Node 20). mask.ts uses
// it from 2 KiB. Where WebAssembly or SIMD is not available (node --jitless,
// an engine without SIMD) `simd` is undefined and the JavaScript path does all.

// The global WebAssembly object, typed for the little used here (this
// project's lib settings have no WebAssembly declarations).
interface KernelExports {
  xor(ptr: number, len: number, mask: number): void;
  mem: { buffer: ArrayBuffer };
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: KernelExports };
};

/** Bytes per pass through the scratch area: one 64 KiB WebAssembly page. */
const BLOCK = 64 * 1024;

export interface SimdMasker {
  /**
   * XORs buf[start..end) in place with the 4-byte mask `word` (little-endian:
   * its low byte applies at `start`). Only whole 64-byte runs go through
   * SIMD; returns how many bytes were done (the caller finishes the < 64-byte
   * tail, whose mask phase is that of `start` again, as 64 ≡ 0 mod 4).
   */
  xor(buf: Uint8Array, start: number, end: number, word: number): number;
  /**
   * Copies `pieces` back to back into `out` (their lengths add up to
   * out.length), XORing them with the mask `word` on the way (its low byte
   * applies at out[0]).
   */
  joinXor(pieces: readonly Uint8Array[], out: Uint8Array, word: number): void;
}

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb128(body.length), ...body];
}

function name(text: string): number[] {
  return [...leb128(text.length), ...Buffer.from(text, 'latin1')];
}

/**
 * (func $xor (param $ptr i32) (param $len i32) (param $mask i32)): XORs
 * memory[ptr, ptr + len) with i32x4.splat($mask); len a multiple of 64.
 */
function moduleBytes(): Uint8Array {
  const I32 = 0x7f;
  const V128 = 0x7b;
  const SIMD = 0xfd;
  const body: number[] = [
    0x02, 0x01, V128, 0x01, I32, // locals: $m (v128) = 3, $end (i32) = 4
    0x20, 0x02, SIMD, 0x11, 0x21, 0x03, // $m = i32x4.splat($mask)
    0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x04, // $end = $ptr + $len
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x01, // br_if 1 ($ptr >= $end)
  ];
  // Four 16-byte lanes per iteration: v128.store offset=k ($ptr, v128.xor(v128.load offset=k ($ptr), $m)).
  for (const offset of [0, 16, 32, 48]) {
    body.push(0x20, 0x00, 0x20, 0x00, SIMD, 0x00, 0x04, offset, 0x20, 0x03, SIMD, 0x51, SIMD, 0x0b, 0x04, offset);
  }
  body.push(
    0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, // $ptr += 64
    0x0c, 0x00, // br 0 (loop)
    0x0b, 0x0b, 0x0b, // end loop, end block, end func
  );
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    ...section(1, [0x01, 0x60, 0x03, I32, I32, I32, 0x00]), // type 0: (i32 i32 i32) -> ()
    ...section(3, [0x01, 0x00]), // func 0: type 0
    ...section(5, [0x01, 0x00, 0x01]), // memory 0: 1 page, no maximum
    ...section(7, [0x02, ...name('mem'), 0x02, 0x00, ...name('xor'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb128(body.length), ...body]),
  ]);
}

function load(): SimdMasker | undefined {
  let kernel: KernelExports;
  try {
    kernel = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), {}).exports;
  } catch {
    // No WebAssembly (node --jitless) or no SIMD: the JavaScript path does all.
    return undefined;
  }
  const xor = kernel.xor;
  // The memory never grows, so this view never detaches.
  const scratch = new Uint8Array(kernel.mem.buffer, 0, BLOCK);
  return {
    xor(buf, start, end, word) {
      const total = (end - start) & ~63;
      for (let done = 0; done < total; ) {
        const n = Math.min(BLOCK, total - done);
        const at = start + done;
        scratch.set(buf.subarray(at, at + n));
        xor(0, n, word | 0);
        buf.set(scratch.subarray(0, n), at);
        done += n;
      }
      return total;
    },
    // The pieces are gathered in the scratch area itself, so each byte is
    // copied twice (piece → scratch, scratch → out) instead of three times
    // (joined first, then in and out of the scratch area). A block starts at
    // a multiple of 64 KiB of `out`, so always at mask byte 0.
    joinXor(pieces, out, word) {
      let fill = 0;
      let at = 0;
      for (let p = 0; p < pieces.length; p++) {
        const piece = pieces[p];
        const length = piece.length;
        if (fill + length < BLOCK) {
          scratch.set(piece, fill);
          fill += length;
        } else {
          for (let from = 0; from < length; ) {
            const n = Math.min(BLOCK - fill, length - from);
            scratch.set(piece.subarray(from, from + n), fill);
            fill += n;
            from += n;
            if (fill === BLOCK) {
              xor(0, BLOCK, word | 0);
              out.set(scratch, at);
              at += BLOCK;
              fill = 0;
            }
          }
        }
      }
      if (fill > 0) {
        // The kernel works in 64-byte runs: bytes past `fill` are stale scratch, XORed and not copied out.
        xor(0, (fill + 63) & ~63, word | 0);
        out.set(scratch.subarray(0, fill), at);
      }
    },
  };
}

/** The SIMD masker, or undefined where this engine cannot run it. */
export const simd: SimdMasker | undefined = load();
