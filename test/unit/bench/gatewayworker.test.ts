// Case 12's chat clients check every message they count
// (bench/gatewayworker/chat-messages.ts): a bench that counted lost,
// repeated or misrouted deliveries would measure nothing. The frames they
// send, as a server decodes them, and the check each receiver runs.
import { describe, expect, it } from 'vitest';
import { CHAT_HEAD, chatFrame, chatSender, chatSeq, chatTemplate, chatTimeMs, checkDelivery, controlFrame, groupName, isChat } from '../../../bench/gatewayworker/chat-messages.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';

/** The payloads a server decodes from `bytes` (text frames, masked, as a server requires). */
function serverReads(bytes: Buffer): Buffer[] {
  const payloads: Buffer[] = [];
  const decoder = new FrameDecoder({
    onFrame: (opcode, fin, data, start, end) => {
      expect(opcode).toBe(Opcode.Text);
      expect(fin).toBe(true);
      payloads.push(Buffer.from(data.subarray(start, end)));
    },
    onError: (error) => {
      throw error;
    },
  });
  decoder.push(bytes);
  return payloads;
}

describe('bench case 12: the chat messages and the receivers\' check', () => {
  for (const size of [CHAT_HEAD, 64, 125]) {
    it(`a ${size} B chat message is one masked text frame a server decodes, ASCII, its fields read back`, () => {
      const template = chatTemplate(size);
      const frames = [chatFrame(template, 0, 0, 0), chatFrame(template, 99_999, 999_999_999, 1234.567), chatFrame(template, 42, 7, 98_765_432.1)];
      const payloads = serverReads(Buffer.concat(frames));
      expect(payloads.map((p) => p.length)).toEqual([size, size, size]);
      for (const p of payloads) {
        expect(isChat(p, 0, p.length, size)).toBe(true);
        expect(p.every((b) => b >= 0x20 && b < 0x7f)).toBe(true);
      }
      expect(payloads.map((p) => [chatSender(p, 0), chatSeq(p, 0), chatTimeMs(p, 0)])).toEqual([
        [0, 0, 0],
        [99_999, 999_999_999, 1234.567],
        [42, 7, 98_765_432.1],
      ]);
      // Read in place, inside a larger chunk.
      const chunk = Buffer.concat([Buffer.from('xyz'), payloads[2], Buffer.from('!')]);
      expect([chatSender(chunk, 3), chatSeq(chunk, 3), isChat(chunk, 3, 3 + size, size)]).toEqual([42, 7, true]);
    });
  }

  it('a control message is no chat message, and the template refuses sizes a 7-bit length cannot carry', () => {
    const [join] = serverReads(controlFrame(`join:${groupName(7)}`));
    expect(join.toString()).toBe('join:g007');
    expect(isChat(Buffer.from('joined:g007'), 0, 11, 64)).toBe(false);
    expect(() => chatTemplate(CHAT_HEAD - 1)).toThrow();
    expect(() => chatTemplate(126)).toThrow();
  });

  const groupOf = (i: number): number => Math.floor(i / 4);

  it('messages of each member of the group, each sender in order, pass and advance', () => {
    const expected = new Int32Array(12);
    for (let seq = 0; seq < 3; seq++) for (const sender of [4, 5, 6, 7]) expect(checkDelivery(expected, 1, groupOf, sender, seq)).toBeUndefined();
    expect([...expected]).toEqual([0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0]);
  });

  it('a gap, a repeat, a stranger or an unknown sender fails', () => {
    const expected = new Int32Array(12);
    expect(checkDelivery(expected, 1, groupOf, 4, 0)).toBeUndefined();
    expect(checkDelivery(expected, 1, groupOf, 4, 2)).toMatch(/message 2 of client 4 where 1 was next/);
    expect(checkDelivery(expected, 1, groupOf, 4, 0)).toMatch(/where 1 was next/);
    expect(checkDelivery(expected, 1, groupOf, 3, 0)).toMatch(/not of its group/);
    expect(checkDelivery(expected, 1, groupOf, 12, 0)).toMatch(/not of its group/);
    // A failed check leaves what is expected as it was.
    expect(expected[4]).toBe(1);
  });
});
