// RFC 6455 §5.5 control frames and §7 the closing handshake, driven through
// the pure WebSocketSession: bytes in, the bytes it writes decoded and checked,
// events recorded. No socket: this is a protocol test, not a mock of one.
import { describe, expect, it } from 'vitest';
import { CloseCode, Opcode } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { FrameCollector } from '../../../src/protocol/frame-sink.js';
import { SessionState, WebSocketSession, type SessionHost, type SessionOptions } from '../../../src/protocol/session.js';
import { hex, pattern } from '../helpers/bytes.js';
import { chunkings } from '../helpers/chunking.js';
import { clientFrame, text } from '../helpers/client-frame.js';
import { rng } from '../helpers/prng.js';
import { parseServerFrames, type WrittenFrame } from '../helpers/server-frames.js';

type Event =
  | { type: 'message'; data: string; binary: boolean }
  | { type: 'ping'; payload: string }
  | { type: 'pong'; payload: string }
  | { type: 'closeSent' }
  | { type: 'closed'; error: { code: string; closeCode: number } | undefined };

/** The session's host and its frame sink: every frame it writes is kept as a buffer of its own. */
class RecordingHost extends FrameCollector implements SessionHost {
  events: Event[] = [];
  onMessageHook: ((data: Buffer) => void) | undefined;
  onMessage(data: Buffer, binary: boolean): void {
    this.events.push({ type: 'message', data: binary ? data.toString('hex') : data.toString('utf8'), binary });
    this.onMessageHook?.(data);
  }
  onPing(payload: Buffer): void {
    this.events.push({ type: 'ping', payload: payload.toString('hex') });
  }
  onPong(payload: Buffer): void {
    this.events.push({ type: 'pong', payload: payload.toString('hex') });
  }
  onCloseSent(): void {
    this.events.push({ type: 'closeSent' });
  }
  onClosed(error: ProtocolError | undefined): void {
    if (error !== undefined) expect(error).toBeInstanceOf(ProtocolError);
    this.events.push({ type: 'closed', error: error && { code: error.code, closeCode: error.closeCode } });
  }
  /** Everything written so far, as frames. */
  frames(): WrittenFrame[] {
    return parseServerFrames(Buffer.concat(this.written));
  }
}

function open(options?: SessionOptions): { host: RecordingHost; session: WebSocketSession } {
  const host = new RecordingHost();
  return { host, session: new WebSocketSession(host, host, options) };
}

const frame = (opcode: number, payload: Uint8Array = new Uint8Array(0), fin = true): Buffer => clientFrame({ opcode, payload, fin });
const closeFrame = (code: number, reason = ''): Buffer => {
  const p = Buffer.alloc(2 + Buffer.byteLength(reason));
  p.writeUInt16BE(code);
  p.write(reason, 2);
  return frame(Opcode.Close, p);
};
const closePayload = (code: number, reason = ''): Buffer => {
  const p = Buffer.alloc(2 + Buffer.byteLength(reason));
  p.writeUInt16BE(code);
  p.write(reason, 2);
  return p;
};

describe('WebSocketSession: §5.6 data', () => {
  it('§5.6 text and binary messages reach the host', () => {
    const { host, session } = open();
    session.receive(Buffer.concat([frame(Opcode.Text, text('héllo')), frame(Opcode.Binary, hex('00 ff'))]));
    expect(host.events).toEqual([
      { type: 'message', data: 'héllo', binary: false },
      { type: 'message', data: '00ff', binary: true },
    ]);
    expect(host.written).toEqual([]);
  });

  it('§5.4/§5.5 a ping between fragments is answered at once and the message still assembles', () => {
    const { host, session } = open();
    session.receive(frame(Opcode.Text, text('Hel'), false));
    session.receive(frame(Opcode.Ping, text('mid')));
    expect(host.frames()).toEqual([{ fin: true, opcode: Opcode.Pong, payload: text('mid') }]);
    session.receive(frame(Opcode.Continuation, text('lo'), true));
    expect(host.events).toEqual([
      { type: 'ping', payload: text('mid').toString('hex') },
      { type: 'message', data: 'Hello', binary: false },
    ]);
  });

  it('a message handler that throws: the exception propagates out of receive()', () => {
    const { host, session } = open();
    host.onMessageHook = () => {
      throw new Error('handler bug');
    };
    expect(() => session.receive(frame(Opcode.Text, text('x')))).toThrow('handler bug');
  });
});

describe('WebSocketSession: §5.6 sending data, §5.5.1 nothing after a Close', () => {
  it('§5.6 sendText and sendBytes write one unfragmented frame each, text or binary as asked, in order', () => {
    const { host, session } = open();
    expect(session.canSend).toBe(true);
    expect(session.sendText('héllo', Buffer.byteLength('héllo'))).toBe(true);
    expect(session.sendBytes(hex('00 ff'), true)).toBe(true);
    expect(session.sendBytes(text('as text'), false)).toBe(true);
    expect(session.sendBytes(pattern(70_000), true)).toBe(true);
    expect(host.frames()).toEqual([
      { fin: true, opcode: Opcode.Text, payload: text('héllo') },
      { fin: true, opcode: Opcode.Binary, payload: hex('00 ff') },
      { fin: true, opcode: Opcode.Text, payload: text('as text') },
      { fin: true, opcode: Opcode.Binary, payload: pattern(70_000) },
    ]);
  });

  it('sendEncoded passes frames encoded elsewhere through unchanged, between the others', () => {
    const { host, session } = open();
    const shared = Buffer.from([0x82, 0x02, 0xaa, 0xbb]);
    session.sendText('a', 1);
    expect(session.sendEncoded(shared)).toBe(true);
    session.sendText('b', 1);
    expect(Buffer.concat(host.written)).toEqual(Buffer.from([0x81, 0x01, 0x61, 0x82, 0x02, 0xaa, 0xbb, 0x81, 0x01, 0x62]));
  });

  const ended: [string, (session: WebSocketSession) => void][] = [
    ['after our Close (Closing)', (session) => session.close(1000)],
    ['after the peer\'s Close (Closed)', (session) => session.receive(closeFrame(1000))],
    ['after a failure (§7.1.7)', (session) => session.receive(frame(0x3))],
    ['after the transport closed', (session) => session.transportClosed()],
  ];
  for (const [when, end] of ended) {
    it(`§5.5.1 ${when}: every send returns false and writes nothing, ping and pong too`, () => {
      const { host, session } = open();
      end(session);
      const before = host.written.length;
      expect(session.canSend).toBe(false);
      expect(session.sendText('late', 4)).toBe(false);
      expect(session.sendBytes(text('late'), true)).toBe(false);
      expect(session.sendEncoded(Buffer.from([0x81, 0x00]))).toBe(false);
      session.ping(text('p'));
      session.pong(text('q'));
      expect(host.written).toHaveLength(before);
    });
  }
});

describe('WebSocketSession: §5.5.2/§5.5.3 ping and pong', () => {
  it('§5.5.2 a Ping is answered with a Pong carrying the same payload (empty, 5 bytes, 125 bytes)', () => {
    for (const payload of [Buffer.alloc(0), text('Hello'), pattern(125)]) {
      const { host, session } = open();
      session.receive(frame(Opcode.Ping, payload));
      expect(host.frames()).toEqual([{ fin: true, opcode: Opcode.Pong, payload }]);
      expect(host.events).toEqual([{ type: 'ping', payload: payload.toString('hex') }]);
    }
  });

  it('§5.5.2 several pings in one chunk get one pong each, in order', () => {
    const { host, session } = open();
    session.receive(Buffer.concat([frame(Opcode.Ping, text('1')), frame(Opcode.Ping, text('2')), frame(Opcode.Ping, text('3'))]));
    expect(host.frames().map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [Opcode.Pong, '1'],
      [Opcode.Pong, '2'],
      [Opcode.Pong, '3'],
    ]);
  });

  it('§5.5.3 an unsolicited Pong is reported and not answered', () => {
    const { host, session } = open();
    session.receive(frame(Opcode.Pong, text('hb')));
    expect(host.written).toEqual([]);
    expect(host.events).toEqual([{ type: 'pong', payload: text('hb').toString('hex') }]);
  });

  it('§5.5.2 ping() and pong() write unmasked control frames while open', () => {
    const { host, session } = open();
    session.ping(text('p'));
    session.pong(text('q'));
    expect(host.frames()).toEqual([
      { fin: true, opcode: Opcode.Ping, payload: text('p') },
      { fin: true, opcode: Opcode.Pong, payload: text('q') },
    ]);
  });
});

describe('WebSocketSession: §7 closing handshake, peer first', () => {
  it('§5.5.1/§7.1.5 a peer Close is echoed with the same code; onClosed(undefined); closeInitiator "client"', () => {
    for (const code of [1000, 1001, 1003, 1011, 1014, 3000, 4999]) {
      const { host, session } = open();
      session.receive(closeFrame(code, 'bye'));
      const frames = host.frames();
      expect(frames).toHaveLength(1);
      expect(frames[0].opcode).toBe(Opcode.Close);
      expect(frames[0].fin).toBe(true);
      expect(frames[0].payload.readUInt16BE(0)).toBe(code);
      expect(host.events).toEqual([{ type: 'closed', error: undefined }]);
      expect(session.state).toBe(SessionState.Closed);
      expect(session.closeInitiator).toBe('client');
      expect(session.receivedCloseCode).toBe(code);
      expect(session.receivedCloseReason).toBe('bye');
      expect(session.sentCloseCode).toBe(code);
    }
  });

  it('§5.5.1 an empty Close is answered with an empty Close; the received code is 1005', () => {
    const { host, session } = open();
    session.receive(frame(Opcode.Close));
    expect(host.frames()).toEqual([{ fin: true, opcode: Opcode.Close, payload: Buffer.alloc(0) }]);
    expect(session.receivedCloseCode).toBe(CloseCode.NoStatus);
    expect(host.events).toEqual([{ type: 'closed', error: undefined }]);
  });

  it('§5.5.1 frames after the peer\'s Close are discarded, in the same chunk and later', () => {
    const { host, session } = open();
    session.receive(Buffer.concat([frame(Opcode.Text, text('before')), closeFrame(1000), frame(Opcode.Text, text('after')), frame(Opcode.Ping, text('x'))]));
    session.receive(frame(Opcode.Text, text('later')));
    session.receive(hex('ff ff ff'));
    expect(host.events).toEqual([
      { type: 'message', data: 'before', binary: false },
      { type: 'closed', error: undefined },
    ]);
    expect(host.frames().map((f) => f.opcode)).toEqual([Opcode.Close]);
  });

  it('§7.1.6 after Closed, close(), ping() and pong() send nothing', () => {
    const { host, session } = open();
    session.receive(closeFrame(1000));
    const before = host.written.length;
    expect(session.close()).toBe(false);
    session.ping(text('x'));
    session.pong(text('y'));
    expect(host.written).toHaveLength(before);
  });

  const badCloses: [string, Buffer, string, number][] = [
    ['1-byte payload', frame(Opcode.Close, hex('03')), 'WS_ERR_CLOSE_TOO_SHORT', 1002],
    ['code 1005 on the wire', frame(Opcode.Close, closePayload(1005)), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
    ['code 1006 on the wire', frame(Opcode.Close, closePayload(1006)), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
    ['code 999', frame(Opcode.Close, closePayload(999)), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
    ['code 5000', frame(Opcode.Close, closePayload(5000)), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
    ['reason not UTF-8', frame(Opcode.Close, Buffer.concat([closePayload(1000), hex('c0 80')])), 'WS_ERR_INVALID_CLOSE_REASON', 1007],
  ];
  for (const [name, wire, code, closeCode] of badCloses) {
    it(`§5.5.1/§7.4 a Close with a bad payload (${name}) is answered with Close ${closeCode} and fails the connection`, () => {
      const { host, session } = open();
      session.receive(Buffer.concat([wire, frame(Opcode.Ping)]));
      const frames = host.frames();
      expect(frames).toHaveLength(1);
      expect(frames[0].opcode).toBe(Opcode.Close);
      expect(frames[0].payload.readUInt16BE(0)).toBe(closeCode);
      expect(host.events).toEqual([{ type: 'closed', error: { code, closeCode } }]);
      expect(session.state).toBe(SessionState.Closed);
    });
  }
});

describe('WebSocketSession: §7 closing handshake, server first', () => {
  it('§7.1.2 close() sends Close, goes Closing; the peer\'s Close then completes it: Closed, closeInitiator "server", no second Close', () => {
    const { host, session } = open();
    expect(session.close(1001, 'restarting')).toBe(true);
    expect(session.state).toBe(SessionState.Closing);
    expect(session.closeInitiator).toBe('server');
    expect(session.sentCloseCode).toBe(1001);
    expect(host.frames()).toEqual([{ fin: true, opcode: Opcode.Close, payload: closePayload(1001, 'restarting') }]);
    expect(host.events).toEqual([{ type: 'closeSent' }]);

    session.receive(closeFrame(1001));
    expect(session.state).toBe(SessionState.Closed);
    expect(session.closeInitiator).toBe('server');
    expect(session.receivedCloseCode).toBe(1001);
    expect(host.frames()).toHaveLength(1);
    expect(host.events).toEqual([{ type: 'closeSent' }, { type: 'closed', error: undefined }]);
  });

  it('§7.1.2 close() defaults to 1000 and a second close() returns false and writes nothing', () => {
    const { host, session } = open();
    expect(session.close()).toBe(true);
    expect(session.close(1001)).toBe(false);
    expect(host.frames()).toEqual([{ fin: true, opcode: Opcode.Close, payload: hex('03 e8') }]);
  });

  it('§5.5.1 after we sent Close: a Ping gets no Pong, ping()/pong() write nothing', () => {
    const { host, session } = open();
    session.close();
    session.receive(frame(Opcode.Ping, text('late')));
    session.ping(text('a'));
    session.pong(text('b'));
    expect(host.frames().map((f) => f.opcode)).toEqual([Opcode.Close]);
    expect(session.state).toBe(SessionState.Closing);
  });

  it('§7.1.2 data the peer sent before seeing our Close is still delivered while Closing', () => {
    const { host, session } = open();
    session.close();
    session.receive(frame(Opcode.Text, text('in flight')));
    expect(host.events).toEqual([{ type: 'closeSent' }, { type: 'message', data: 'in flight', binary: false }]);
  });

  it('§7.1.7 a protocol error while Closing: no second Close, Closed with the error', () => {
    const { host, session } = open();
    session.close();
    session.receive(clientFrame({ opcode: Opcode.Text, payload: text('x'), rsv: 4 }));
    expect(host.frames().map((f) => f.opcode)).toEqual([Opcode.Close]);
    expect(host.events).toEqual([{ type: 'closeSent' }, { type: 'closed', error: { code: 'WS_ERR_UNEXPECTED_RSV', closeCode: 1002 } }]);
    expect(session.state).toBe(SessionState.Closed);
  });

  it('§7.4 close() with a code or reason that may not be sent throws RangeError, writes nothing and stays Open', () => {
    const { host, session } = open();
    expect(() => session.close(1006)).toThrow(RangeError);
    expect(() => session.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(host.written).toEqual([]);
    expect(session.state).toBe(SessionState.Open);
  });

  it('transportClosed() ends the session without writing', () => {
    const { host, session } = open();
    session.transportClosed();
    expect(session.state).toBe(SessionState.Closed);
    session.receive(frame(Opcode.Ping));
    session.ping(text('x'));
    expect(host.written).toEqual([]);
  });
});

describe('WebSocketSession: §7.1.7 failing the connection', () => {
  const violations: [string, Buffer, string, number, SessionOptions?][] = [
    ['§5.1 unmasked frame', clientFrame({ opcode: Opcode.Text, payload: text('x'), mask: null }), 'WS_ERR_EXPECTED_MASK', 1002],
    ['§5.2 RSV1 set', clientFrame({ opcode: Opcode.Text, payload: text('x'), rsv: 4 }), 'WS_ERR_UNEXPECTED_RSV', 1002],
    ['§5.2 reserved opcode 0xB', clientFrame({ opcode: 0xb }), 'WS_ERR_INVALID_OPCODE', 1002],
    ['§5.5 ping over 125 bytes', clientFrame({ opcode: Opcode.Ping, payload: pattern(126) }), 'WS_ERR_CONTROL_TOO_LONG', 1002],
    ['§5.4 continuation without a message', clientFrame({ opcode: Opcode.Continuation, payload: text('x') }), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002],
    [
      '§5.4 new message inside a fragmented one',
      Buffer.concat([clientFrame({ opcode: Opcode.Text, fin: false, payload: text('a') }), clientFrame({ opcode: Opcode.Text, payload: text('b') })]),
      'WS_ERR_EXPECTED_CONTINUATION',
      1002,
    ],
    ['§8.1 invalid UTF-8 text', clientFrame({ opcode: Opcode.Text, payload: hex('ed a0 80') }), 'WS_ERR_INVALID_UTF8', 1007],
    ['§8.1 invalid UTF-8 in a first fragment', clientFrame({ opcode: Opcode.Text, fin: false, payload: hex('41 f4 90') }), 'WS_ERR_INVALID_UTF8', 1007],
    ['§10.4 message over maxPayload', clientFrame({ opcode: Opcode.Binary, payload: pattern(101) }), 'WS_ERR_MESSAGE_TOO_BIG', 1009, { maxPayload: 100 }],
    [
      '§10.4 more fragments than maxFragments',
      Buffer.concat([0, 1, 2].map((i) => clientFrame({ opcode: i === 0 ? Opcode.Binary : Opcode.Continuation, fin: false, payload: text('a') }))),
      'WS_ERR_TOO_MANY_FRAGMENTS',
      1009,
      { maxFragments: 2 },
    ],
  ];
  for (const [name, wire, code, closeCode, options] of violations) {
    it(`${name} → writes Close ${closeCode}, onClosed(${code}), then discards all further input`, () => {
      const { host, session } = open(options);
      session.receive(Buffer.concat([wire, frame(Opcode.Ping, text('after')), frame(Opcode.Text, text('after'))]));
      session.receive(frame(Opcode.Ping, text('later')));
      session.receive(closeFrame(1000));
      const frames = host.frames();
      expect(frames).toHaveLength(1);
      expect(frames[0].opcode).toBe(Opcode.Close);
      expect(frames[0].payload.readUInt16BE(0)).toBe(closeCode);
      expect(host.events).toEqual([{ type: 'closed', error: { code, closeCode } }]);
      expect(session.state).toBe(SessionState.Closed);
      expect(session.closeInitiator).toBe('server');
      expect(session.sentCloseCode).toBe(closeCode);
    });
  }
});

describe('WebSocketSession: §7.1.7 fail() from the host', () => {
  it('§7.1.7/§7.4.1 fail() with a 1011 error (a handler threw) writes Close 1011 without details and discards further input', () => {
    const { host, session } = open();
    host.onMessageHook = () => {
      throw new Error('handler bug');
    };
    expect(() => session.receive(frame(Opcode.Text, text('x')))).toThrow('handler bug');
    session.fail(new ProtocolError('WS_ERR_HANDLER', CloseCode.InternalError, 'internal error'));
    session.receive(frame(Opcode.Ping, text('after')));
    const frames = host.frames();
    expect(frames).toEqual([{ fin: true, opcode: Opcode.Close, payload: hex('03 f3') }]);
    expect(host.events.at(-1)).toEqual({ type: 'closed', error: { code: 'WS_ERR_HANDLER', closeCode: 1011 } });
    expect(session.state).toBe(SessionState.Closed);
    // A second fail() does nothing.
    session.fail(new ProtocolError('WS_ERR_HANDLER', CloseCode.InternalError, 'again'));
    expect(host.frames()).toHaveLength(1);
    expect(host.events.filter((e) => e.type === 'closed')).toHaveLength(1);
  });
});

describe('WebSocketSession: a whole conversation in every chunking', () => {
  it('§5.2/§7 same writes and events whole, split at every offset, bytewise and in random chunks', () => {
    const wire = Buffer.concat([
      frame(Opcode.Text, text('Hello')),
      frame(Opcode.Binary, pattern(300), false),
      frame(Opcode.Ping, text('p1')),
      frame(Opcode.Continuation, pattern(10), true),
      frame(Opcode.Pong, text('unsolicited')),
      frame(Opcode.Text, text('é€'), false),
      frame(Opcode.Continuation, hex('f0 9f'), false),
      frame(Opcode.Continuation, hex('8e 89'), true),
      closeFrame(1000, 'done'),
      frame(Opcode.Text, text('ignored')),
    ]);
    let reference: { written: string; events: Event[] } | undefined;
    for (const { name, chunks } of chunkings(wire, rng(99), { stride: 7, edge: 80 })) {
      const { host, session } = open();
      for (const c of chunks) session.receive(c);
      const got = { written: Buffer.concat(host.written).toString('hex'), events: host.events };
      if (reference === undefined) {
        reference = got;
        expect(host.events.map((e) => e.type)).toEqual(['message', 'ping', 'message', 'pong', 'message', 'closed']);
        expect(host.events[4]).toEqual({ type: 'message', data: 'é€🎉', binary: false });
        expect(host.frames().map((f) => f.opcode)).toEqual([Opcode.Pong, Opcode.Close]);
      } else if (JSON.stringify(got) !== JSON.stringify(reference)) {
        expect(got, name).toEqual(reference);
      }
    }
  });
});
