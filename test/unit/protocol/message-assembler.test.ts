// RFC 6455 §5.4 fragmentation, §5.6 data frames, §8.1 UTF-8 and the size
// limits (§10.4): data frames in, whole messages out, violations thrown with
// their close code.
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/protocol/constants.js';
import { MessageAssembler } from '../../../src/protocol/message-assembler.js';
import { hex, pattern } from '../helpers/bytes.js';
import { expectProtocolError } from '../helpers/errors.js';
import { utf8Scan } from '../helpers/utf8-reference.js';

const { Text, Binary, Continuation } = Opcode;
const t = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Pushes [opcode, fin, payload] frames; returns every completed message as [binary, data]. */
function run(a: MessageAssembler, frames: [number, boolean, Buffer][]): [boolean, Buffer][] {
  const out: [boolean, Buffer][] = [];
  for (const [op, fin, p] of frames) {
    const m = a.push(op, fin, p);
    if (m !== undefined) out.push([a.binary, m]);
  }
  return out;
}

/** A text's bytes as fragments cut at `at`: first frame Text (or Binary), the rest Continuation. */
function fragmented(bytes: Buffer, at: number[], opcode: number = Text): [number, boolean, Buffer][] {
  const points = [0, ...at, bytes.length];
  const frames: [number, boolean, Buffer][] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    frames.push([i === 0 ? opcode : Continuation, i + 2 === points.length, Buffer.from(bytes.subarray(points[i], points[i + 1]))]);
  }
  return frames;
}

describe('MessageAssembler: §5.6 single-frame messages', () => {
  it('§5.6 a single text frame is a message, returned as the frame\'s own buffer (no copy)', () => {
    const a = new MessageAssembler();
    const payload = t('Hello');
    expect(a.push(Text, true, payload)).toBe(payload);
    expect(a.binary).toBe(false);
    expect(a.inMessage).toBe(false);
  });

  it('§5.6 a single binary frame is a message, not UTF-8 checked', () => {
    const a = new MessageAssembler();
    const payload = hex('ff fe c0 80');
    expect(a.push(Binary, true, payload)).toBe(payload);
    expect(a.binary).toBe(true);
  });

  it('§5.6 zero-length text and binary messages', () => {
    const a = new MessageAssembler();
    expect(run(a, [[Text, true, Buffer.alloc(0)], [Binary, true, Buffer.alloc(0)]])).toEqual([
      [false, Buffer.alloc(0)],
      [true, Buffer.alloc(0)],
    ]);
  });

  it('§8.1 invalid UTF-8 in a single text frame → 1007', () => {
    for (const bad of [hex('c0 80'), hex('ed a0 80'), hex('f4 90 80 80'), hex('41 e2 82')]) {
      expectProtocolError(() => new MessageAssembler().push(Text, true, bad), 'WS_ERR_INVALID_UTF8', 1007, bad.toString('hex'));
    }
  });

  it('§10.4 a single frame over maxPayload → 1009; exactly the limit passes', () => {
    expectProtocolError(() => new MessageAssembler({ maxPayload: 4 }).push(Binary, true, pattern(5)), 'WS_ERR_MESSAGE_TOO_BIG', 1009);
    expect(new MessageAssembler({ maxPayload: 4 }).push(Binary, true, pattern(4))).toEqual(pattern(4));
  });
});

describe('MessageAssembler: §5.4 fragmented messages', () => {
  it('§5.4 "Hel" + "lo" (the §5.7 fragments) is one text message "Hello"', () => {
    const a = new MessageAssembler();
    expect(a.push(Text, false, t('Hel'))).toBeUndefined();
    expect(a.inMessage).toBe(true);
    const m = a.push(Continuation, true, t('lo'));
    expect(m?.toString()).toBe('Hello');
    expect(a.binary).toBe(false);
    expect(a.inMessage).toBe(false);
  });

  it('§5.4 a binary message in many fragments, then a text message: types and contents kept apart', () => {
    const a = new MessageAssembler();
    const data = pattern(1000);
    const frames = fragmented(data, [1, 2, 10, 500, 999], Binary);
    expect(run(a, [...frames, [Text, true, t('next')]])).toEqual([
      [true, data],
      [false, t('next')],
    ]);
  });

  it('§5.4 a text split at EVERY byte offset (and every pair) reassembles to the same message', () => {
    const text = t('aé€𝄞z — κόσμε');
    for (let x = 0; x <= text.length; x++) {
      const [msg] = run(new MessageAssembler(), fragmented(text, [x]));
      expect(msg, `split at ${x}`).toEqual([false, text]);
      for (let y = x; y <= text.length; y++) {
        const [m2] = run(new MessageAssembler(), fragmented(text, [x, y]));
        expect(m2[1].equals(text), `split at ${x},${y}`).toBe(true);
      }
    }
  });

  it('§5.4 empty fragments (first, middle, last, all) are allowed', () => {
    const a = new MessageAssembler();
    expect(
      run(a, [
        [Text, false, Buffer.alloc(0)],
        [Continuation, false, t('ab')],
        [Continuation, false, Buffer.alloc(0)],
        [Continuation, false, t('c')],
        [Continuation, true, Buffer.alloc(0)],
      ]),
    ).toEqual([[false, t('abc')]]);
    expect(
      run(a, [
        [Binary, false, Buffer.alloc(0)],
        [Continuation, false, Buffer.alloc(0)],
        [Continuation, true, Buffer.alloc(0)],
      ]),
    ).toEqual([[true, Buffer.alloc(0)]]);
    expect(
      run(a, [
        [Text, false, Buffer.alloc(0)],
        [Continuation, true, Buffer.alloc(0)],
      ]),
    ).toEqual([[false, Buffer.alloc(0)]]);
  });

  it('§5.4 a continuation frame without a message to continue → 1002 WS_ERR_UNEXPECTED_CONTINUATION', () => {
    expectProtocolError(() => new MessageAssembler().push(Continuation, true, t('x')), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
    expectProtocolError(() => new MessageAssembler().push(Continuation, false, t('x')), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
    // Also right after a completed message.
    const a = new MessageAssembler();
    run(a, [[Text, false, t('a')], [Continuation, true, t('b')]]);
    expectProtocolError(() => a.push(Continuation, true, t('c')), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
  });

  it('§5.4 a new data frame (text or binary, FIN or not) inside a fragmented message → 1002 WS_ERR_EXPECTED_CONTINUATION', () => {
    for (const [op, fin] of [[Text, true], [Text, false], [Binary, true], [Binary, false]] as const) {
      const a = new MessageAssembler();
      a.push(Binary, false, t('a'));
      expectProtocolError(() => a.push(op, fin, t('b')), 'WS_ERR_EXPECTED_CONTINUATION', 1002, `opcode ${op} fin ${fin}`);
    }
  });

  it('§10.4 a fragmented message whose total crosses maxPayload → 1009 at the crossing fragment', () => {
    const a = new MessageAssembler({ maxPayload: 10 });
    expect(a.push(Binary, false, pattern(6))).toBeUndefined();
    expect(a.push(Continuation, false, pattern(4))).toBeUndefined();
    expectProtocolError(() => a.push(Continuation, false, pattern(1)), 'WS_ERR_MESSAGE_TOO_BIG', 1009);
    // Exactly the limit in fragments passes.
    const b = new MessageAssembler({ maxPayload: 10 });
    expect(run(b, fragmented(pattern(10), [3, 7], Binary))).toEqual([[true, pattern(10)]]);
  });

  it('§10.4 more than maxFragments fragments → 1009 WS_ERR_TOO_MANY_FRAGMENTS; exactly maxFragments passes', () => {
    const ok = new MessageAssembler({ maxFragments: 3 });
    expect(run(ok, fragmented(t('abc'), [1, 2]))).toEqual([[false, t('abc')]]);
    const a = new MessageAssembler({ maxFragments: 3 });
    a.push(Text, false, t('a'));
    a.push(Continuation, false, t('b'));
    a.push(Continuation, false, t('c'));
    expectProtocolError(() => a.push(Continuation, true, t('d')), 'WS_ERR_TOO_MANY_FRAGMENTS', 1009);
    // Empty fragments count too: they cost a frame each.
    const e = new MessageAssembler({ maxFragments: 3 });
    e.push(Binary, false, Buffer.alloc(0));
    e.push(Continuation, false, Buffer.alloc(0));
    e.push(Continuation, false, Buffer.alloc(0));
    expectProtocolError(() => e.push(Continuation, false, Buffer.alloc(0)), 'WS_ERR_TOO_MANY_FRAGMENTS', 1009);
  });

  it('§8.1 invalid UTF-8 fails with 1007 at the fragment that carries it, not at the end of the message', () => {
    const a = new MessageAssembler();
    expect(a.push(Text, false, t('fine so far '))).toBeUndefined();
    expect(a.push(Continuation, false, t('é'))).toBeUndefined();
    expectProtocolError(() => a.push(Continuation, false, hex('41 f4 90')), 'WS_ERR_INVALID_UTF8', 1007);
    // Already in the first fragment.
    expectProtocolError(() => new MessageAssembler().push(Text, false, hex('ed a0')), 'WS_ERR_INVALID_UTF8', 1007);
  });

  it('§8.1 every 2-way split of texts with a bad sequence: 1007 is thrown at the fragment holding the first bad byte', () => {
    for (const bad of [hex('c0 80'), hex('e0 80 80'), hex('ed a0 80'), hex('f4 90 80 80'), hex('f5'), hex('80'), hex('e2 28 a1')]) {
      const text = Buffer.concat([t('aé'), bad, t('€b')]);
      const firstBad = utf8Scan(text).firstBad;
      expect(firstBad).toBeGreaterThanOrEqual(0);
      for (let at = 0; at <= text.length; at++) {
        const a = new MessageAssembler();
        const [first, second] = fragmented(text, [at]);
        if (firstBad < at) {
          expectProtocolError(() => a.push(...first), 'WS_ERR_INVALID_UTF8', 1007, `${bad.toString('hex')} at ${at}: first fragment`);
        } else {
          expect(a.push(...first)).toBeUndefined();
          expectProtocolError(() => a.push(...second), 'WS_ERR_INVALID_UTF8', 1007, `${bad.toString('hex')} at ${at}: second fragment`);
        }
      }
    }
  });

  it('§8.1 a message that ends inside a code point → 1007 at the final fragment', () => {
    const a = new MessageAssembler();
    expect(a.push(Text, false, t('ab'))).toBeUndefined();
    expect(a.push(Continuation, false, hex('e2 82'))).toBeUndefined();
    expectProtocolError(() => a.push(Continuation, true, Buffer.alloc(0)), 'WS_ERR_INVALID_UTF8', 1007);
    const b = new MessageAssembler();
    b.push(Text, false, hex('f0 9f'));
    expectProtocolError(() => b.push(Continuation, true, hex('98')), 'WS_ERR_INVALID_UTF8', 1007);
  });

  it('§5.4 a binary message is not UTF-8 checked, even fragmented', () => {
    const data = hex('c0 80 ed a0 80 f4 90 80 80 ff e2');
    expect(run(new MessageAssembler(), fragmented(data, [1, 5, 10], Binary))).toEqual([[true, data]]);
  });

  it('reset() abandons an open message (and its cut code point) so the next one starts clean', () => {
    const a = new MessageAssembler();
    a.push(Text, false, hex('61 e2 82'));
    a.reset();
    expect(a.inMessage).toBe(false);
    expectProtocolError(() => a.push(Continuation, true, t('x')), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
    a.reset();
    expect(run(a, [[Text, false, t('new ')], [Continuation, true, t('message')]])).toEqual([[false, t('new message')]]);
  });

  it('§5.4 completed messages do not share memory with later fragments', () => {
    const a = new MessageAssembler();
    const [[, first]] = run(a, fragmented(t('first message'), [5]));
    run(a, fragmented(t('second message'), [3]));
    expect(first.toString()).toBe('first message');
  });
});
