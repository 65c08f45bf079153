// RFC 6455 §5.1 masking, §5.2 base framing, §5.5 control frames, §10.4 size
// limits, §7.1.7 failing the connection: what the frame decoder refuses, each
// with its error and close code, in every chunking; the size limit checked at
// the header (a frame announcing 2^63 bytes costs nothing); nothing delivered
// after an error or after stop() from inside the handler. Well-formed frames
// in every chunking and as views are in frame-decoder-delivery.test.ts.
import { describe, expect, it } from 'vitest';
import { CloseCode, Opcode } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { FrameDecoder, type FrameDecoderOptions } from '../../../src/protocol/frame-decoder.js';
import { hex, pattern } from '../helpers/bytes.js';
import { bytewise, chunkings } from '../helpers/chunking.js';
import { clientFrame, clientHeader, text } from '../helpers/client-frame.js';
import { expectAllChunkings, expected, feed, Recorder, summarize } from '../helpers/frame-recorder.js';
import { rng } from '../helpers/prng.js';

/** A frame whose header alone breaks a rule, with the error it must raise. */
const HEADER_VIOLATIONS: { name: string; frame: Buffer; code: string; closeCode: number; options?: FrameDecoderOptions }[] = [
  { name: '§5.1 unmasked client frame', frame: clientFrame({ opcode: Opcode.Text, payload: text('Hi'), mask: null }), code: 'WS_ERR_EXPECTED_MASK', closeCode: 1002 },
  { name: '§5.1 unmasked client ping', frame: clientFrame({ opcode: Opcode.Ping, mask: null }), code: 'WS_ERR_EXPECTED_MASK', closeCode: 1002 },
  ...[4, 2, 1, 7].map((rsv) => ({
    name: `§5.2 RSV bits ${rsv.toString(2).padStart(3, '0')} without an extension`,
    frame: clientFrame({ opcode: Opcode.Text, payload: text('Hi'), rsv }),
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  })),
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => ({
    name: `§5.2 reserved opcode 0x${opcode.toString(16)}`,
    frame: clientFrame({ opcode, payload: text('Hi') }),
    code: 'WS_ERR_INVALID_OPCODE',
    closeCode: 1002,
  })),
  ...[Opcode.Close, Opcode.Ping, Opcode.Pong].map((opcode) => ({
    name: `§5.5 control frame 0x${opcode.toString(16)} with FIN=0`,
    frame: clientFrame({ opcode, fin: false, payload: text('Hi') }),
    code: 'WS_ERR_FRAGMENTED_CONTROL',
    closeCode: 1002,
  })),
  ...[Opcode.Close, Opcode.Ping, Opcode.Pong].map((opcode) => ({
    name: `§5.5 control frame 0x${opcode.toString(16)} with a 126-byte payload`,
    frame: clientFrame({ opcode, payload: pattern(126) }),
    code: 'WS_ERR_CONTROL_TOO_LONG',
    closeCode: 1002,
  })),
  {
    name: '§5.2 64-bit length with the most significant bit set (2^63)',
    frame: clientHeader({ opcode: Opcode.Binary, announcedLength: 1n << 63n, lengthForm: 64 }),
    code: 'WS_ERR_LENGTH_MSB',
    closeCode: 1002,
  },
  {
    name: '§5.2 64-bit length ff ff ff ff ff ff ff ff',
    frame: clientHeader({ opcode: Opcode.Binary, announcedLength: (1n << 64n) - 1n, lengthForm: 64 }),
    code: 'WS_ERR_LENGTH_MSB',
    closeCode: 1002,
  },
  ...[0, 5, 125].map((n) => ({
    name: `§5.2 non-minimal length: ${n} in the 16-bit form`,
    frame: clientFrame({ opcode: Opcode.Binary, payload: pattern(n), lengthForm: 16 }),
    code: 'WS_ERR_NON_MINIMAL_LENGTH',
    closeCode: 1002,
  })),
  ...[0, 125, 126, 65535].map((n) => ({
    name: `§5.2 non-minimal length: ${n} in the 64-bit form`,
    frame: clientFrame({ opcode: Opcode.Binary, payload: pattern(n), lengthForm: 64 }),
    code: 'WS_ERR_NON_MINIMAL_LENGTH',
    closeCode: 1002,
  })),
  {
    name: '§5.2/§10.4 a frame over maxPayload (1001 > 1000)',
    frame: clientFrame({ opcode: Opcode.Binary, payload: pattern(1001) }),
    code: 'WS_ERR_MESSAGE_TOO_BIG',
    closeCode: CloseCode.MessageTooBig,
    options: { maxPayload: 1000 },
  },
  {
    name: '§10.4 a 64-bit length past 2^53 with the default limit',
    frame: clientHeader({ opcode: Opcode.Binary, announcedLength: (1n << 62n) + 1n, lengthForm: 64 }),
    code: 'WS_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
  },
];

describe('FrameDecoder: violations fail with their close code', () => {
  const good = clientFrame({ opcode: Opcode.Text, payload: text('ok') });
  const after = clientFrame({ opcode: Opcode.Text, payload: text('after') });

  for (const [i, v] of HEADER_VIOLATIONS.entries()) {
    it(`${v.name} → ${v.closeCode} ${v.code}, in every chunking; frames before it delivered, nothing after`, () => {
      const wire = Buffer.concat([good, v.frame, after]);
      const want = expected([[Opcode.Text, true, text('ok')]], [[v.code, v.closeCode]]);
      expectAllChunkings(wire, want, v.options, 2000 + i, { stride: 97, edge: 40, randomRuns: 10 });
    });
  }

  it('§5.5 a control frame over 125 bytes is refused at its header, before any payload arrives', () => {
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      const { recorder, decoder } = feed([clientHeader({ opcode, announcedLength: 126 })]);
      expect(summarize(recorder)).toEqual(expected([], [['WS_ERR_CONTROL_TOO_LONG', 1002]]));
      expect(decoder.failed).toBe(true);
    }
    // Also with a 64-bit length: a huge "ping" must not be buffered.
    const { recorder } = feed([clientHeader({ opcode: Opcode.Ping, announcedLength: 1n << 40n })]);
    expect(recorder.errors.map((e) => e.closeCode)).toEqual([1002]);
  });

  it('§10.4 a frame announcing more than maxPayload is refused at its header with 1009', () => {
    for (const chunks of [[clientHeader({ opcode: Opcode.Binary, announcedLength: 1001 })], bytewise(clientHeader({ opcode: Opcode.Text, announcedLength: 70000 }))]) {
      const { recorder } = feed(chunks, { maxPayload: 1000 });
      expect(summarize(recorder)).toEqual(expected([], [['WS_ERR_MESSAGE_TOO_BIG', 1009]]));
    }
    // Exactly the limit is fine.
    const { recorder } = feed([clientFrame({ opcode: Opcode.Binary, payload: pattern(1000) })], { maxPayload: 1000 });
    expect(recorder.errors).toEqual([]);
    expect(recorder.frames[0].payload.equals(pattern(1000))).toBe(true);
  });

  it('§10.4 a frame longer than a Buffer can hold (2^32+1 bytes) under maxPayload 2^48 (the ceiling the options admit) fails with 1009, push does not throw', () => {
    // Peer-controlled input must end as a ProtocolError through onError, never
    // as an exception out of push (STYLE.md principle 3).
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, { maxPayload: 2 ** 48 });
    expect(() => decoder.push(clientHeader({ opcode: Opcode.Binary, announcedLength: 2 ** 32 + 1 }))).not.toThrow();
    expect(summarize(recorder)).toEqual(expected([], [['WS_ERR_MESSAGE_TOO_BIG', 1009]]));
  });

  it('§5.4/§10.4 a fragmented message is refused with 1009 at the header of the fragment that crosses maxPayload', () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, { maxPayload: 10 });
    decoder.push(clientFrame({ opcode: Opcode.Text, fin: false, payload: text('abcdef') }));
    // A control frame between fragments does not count towards the message.
    decoder.push(clientFrame({ opcode: Opcode.Ping, payload: text('0123456789ab') }));
    decoder.push(clientFrame({ opcode: Opcode.Continuation, fin: false, payload: text('ghij') }));
    expect(recorder.frames).toHaveLength(3);
    expect(recorder.errors).toEqual([]);
    // 10 bytes so far; one more announced byte crosses the limit: refused on the header alone.
    decoder.push(clientHeader({ opcode: Opcode.Continuation, fin: true, announcedLength: 1 }));
    expect(summarize(recorder).errors).toEqual([{ code: 'WS_ERR_MESSAGE_TOO_BIG', closeCode: 1009 }]);
    expect(recorder.frames).toHaveLength(3);
  });

  it('§5.4 the message budget restarts after a final fragment', () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder, { maxPayload: 10 });
    for (let round = 0; round < 3; round++) {
      decoder.push(clientFrame({ opcode: Opcode.Binary, fin: false, payload: pattern(5) }));
      decoder.push(clientFrame({ opcode: Opcode.Continuation, fin: true, payload: pattern(5) }));
      decoder.push(clientFrame({ opcode: Opcode.Text, payload: pattern(10) }));
    }
    expect(recorder.errors).toEqual([]);
    expect(recorder.frames).toHaveLength(9);
  });

  it('§7.1.7 after an error, further pushes deliver nothing and report no second error', () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder);
    decoder.push(clientFrame({ opcode: Opcode.Text, payload: text('x'), rsv: 4 }));
    expect(decoder.failed).toBe(true);
    for (let i = 0; i < 5; i++) {
      decoder.push(clientFrame({ opcode: Opcode.Text, payload: text('y') }));
      decoder.push(clientFrame({ opcode: 0x3 }));
    }
    expect(recorder.frames).toEqual([]);
    expect(recorder.errors).toHaveLength(1);
    expect(recorder.errors[0]).toBeInstanceOf(ProtocolError);
  });

  it('§7.1.7 an error in a header that straddles chunks: the rest of that chunk is discarded', () => {
    const bad = clientFrame({ opcode: Opcode.Binary, payload: pattern(3), rsv: 2 });
    const wire = Buffer.concat([bad, good]);
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder);
    decoder.push(Buffer.from(wire.subarray(0, 1)));
    decoder.push(Buffer.from(wire.subarray(1)));
    expect(summarize(recorder)).toEqual(expected([], [['WS_ERR_UNEXPECTED_RSV', 1002]]));
  });
});

describe('FrameDecoder: stop() from inside the handler', () => {
  const three = Buffer.concat([
    clientFrame({ opcode: Opcode.Text, payload: text('one') }),
    clientFrame({ opcode: Opcode.Close, payload: hex('03 e8') }),
    clientFrame({ opcode: Opcode.Text, payload: text('three') }),
  ]);

  it('§5.5.1 a handler that calls stop() on a Close stops delivery of the rest of the chunk and of later chunks', () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder);
    recorder.after = (f) => {
      if (f.opcode === Opcode.Close) decoder.stop();
    };
    decoder.push(Buffer.from(three));
    expect(recorder.frames.map((f) => f.opcode)).toEqual([Opcode.Text, Opcode.Close]);
    decoder.push(clientFrame({ opcode: Opcode.Text, payload: text('four') }));
    expect(recorder.frames).toHaveLength(2);
    expect(recorder.errors).toEqual([]);
    expect(decoder.failed).toBe(true);
  });

  it('§5.5.1 stop() in every chunking: never a frame after the one that stopped', () => {
    for (const { name, chunks } of chunkings(three, rng(31))) {
      const recorder = new Recorder();
      const decoder = new FrameDecoder(recorder);
      recorder.after = (f) => {
        if (f.opcode === Opcode.Close) decoder.stop();
      };
      for (const c of chunks) decoder.push(c);
      expect(recorder.frames.map((f) => f.opcode), name).toEqual([Opcode.Text, Opcode.Close]);
    }
  });

  it('§5.2 stop() on the very first frame of a chunk', () => {
    const recorder = new Recorder();
    const decoder = new FrameDecoder(recorder);
    recorder.after = () => decoder.stop();
    decoder.push(Buffer.from(three));
    expect(recorder.frames).toHaveLength(1);
  });
});
