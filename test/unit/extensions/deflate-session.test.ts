// permessage-deflate through the pure session (RFC 7692 §6): frame rules for
// RSV1, inflating under maxPayload (bombs whole and in 1,000 fragments),
// corrupt data, what the session sends, publications compressed once, and
// the idle release of zlib contexts on a manual clock. No sockets.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DeflateContexts } from '../../../src/extensions/deflate-contexts.js';
import { deflateDefaults, negotiateDeflate, type PerMessageDeflateOptions } from '../../../src/extensions/permessage-deflate.js';
import { useEngine, nativeEngineAvailable } from '../../../src/extensions/zlib-engine.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { FrameCollector } from '../../../src/protocol/frame-sink.js';
import { WebSocketSession, type SessionHost } from '../../../src/protocol/session.js';
import { chunkings } from '../helpers/chunking.js';
import { clientFrame } from '../helpers/client-frame.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { rng } from '../helpers/prng.js';

class Host extends FrameCollector implements SessionHost {
  messages: { data: Buffer; binary: boolean }[] = [];
  error: ProtocolError | undefined;
  closed = false;
  onMessage(data: Buffer, binary: boolean): void {
    this.messages.push({ data: Buffer.from(data), binary });
  }
  onPing(): void {}
  onPong(): void {}
  onCloseSent(): void {}
  onClosed(error: ProtocolError | undefined): void {
    this.closed = true;
    this.error = error;
  }
}

/** Server frames, RSV1 included (the shared helper refuses RSV bits). */
function serverFrames(bytes: Buffer): { rsv1: boolean; opcode: number; fin: boolean; payload: Buffer }[] {
  const out = [];
  let pos = 0;
  while (pos < bytes.length) {
    const b0 = bytes[pos];
    let len = bytes[pos + 1] & 0x7f;
    pos += 2;
    if (len === 126) {
      len = bytes.readUInt16BE(pos);
      pos += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(pos));
      pos += 8;
    }
    out.push({ rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload: bytes.subarray(pos, pos + len) });
    pos += len;
  }
  return out;
}

function setup(offer = 'permessage-deflate', o: PerMessageDeflateOptions = {}, maxPayload = 1 << 20) {
  const clock = new ManualClock();
  const options = { ...deflateDefaults, ...o };
  const contexts = new DeflateContexts(options, clock);
  const negotiated = negotiateDeflate(offer, options)!;
  const codec = contexts.codec(negotiated.params);
  const host = new Host();
  const session = new WebSocketSession(host, host, { maxPayload, compression: codec });
  return { clock, contexts, codec, host, session };
}

/** What a client sends: the message deflated (fresh window), tail stripped, RSV1 on the first frame. */
function compressedFrames(message: Buffer, opcode: number, fragments = 1): Buffer {
  const c = zlib.deflateRawSync(message, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const body = c.subarray(0, c.length - 4);
  const step = Math.ceil(body.length / fragments);
  const frames: Buffer[] = [];
  for (let i = 0; i < fragments; i++) {
    frames.push(clientFrame({ opcode: i === 0 ? opcode : Opcode.Continuation, rsv: i === 0 ? 4 : 0, fin: i === fragments - 1, payload: body.subarray(i * step, (i + 1) * step) }));
  }
  return Buffer.concat(frames);
}

describe.each(nativeEngineAvailable ? (['native', 'fallback'] as const) : (['fallback'] as const))('%s engine', (engine) => {
  it('RFC 7692 §6.2: a compressed text message, split at every offset, inflates', () => {
    useEngine(engine);
    const text = Buffer.from('héllo wörld '.repeat(20));
    const input = Buffer.concat([compressedFrames(text, Opcode.Text, 3), clientFrame({ opcode: Opcode.Ping, payload: Buffer.from('p') })]);
    for (const { name, chunks } of chunkings(input, rng(7), { randomRuns: 5, stride: 7 })) {
      const { host, session } = setup();
      for (const c of chunks) session.receive(c);
      expect(host.messages.map((m) => m.data.toString()), name).toEqual([text.toString()]);
      expect(host.error, name).toBeUndefined();
    }
    useEngine(nativeEngineAvailable ? 'native' : 'fallback');
  });

  it('a client with context takeover: messages refer back into earlier ones, also after an idle release', () => {
    useEngine(engine);
    const { host, session, contexts, clock, codec } = setup('permessage-deflate', { clientNoContextTakeover: false });
    const client = zlib.createDeflateRaw();
    const messages = ['{"type":"chat","text":"hello there"}', '{"type":"chat","text":"hello there again"}', '{"type":"chat","text":"hello"}'];
    const send = (m: string): Promise<void> =>
      new Promise((resolve) => {
        client.write(m);
        client.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const out = client.read() as Buffer;
          session.receive(clientFrame({ opcode: Opcode.Text, rsv: 4, payload: out.subarray(0, out.length - 4) }));
          resolve();
        });
      });
    return (async () => {
      await send(messages[0]);
      await send(messages[1]);
      if (engine === 'native') expect(codec.holdsContext).toBe(true);
      clock.advance(deflateDefaults.idleRelease * 2 + 1);
      expect(codec.holdsContext).toBe(false);
      expect(contexts.holders).toBe(0);
      await send(messages[2]);
      expect(host.messages.map((m) => m.data.toString())).toEqual(messages);
      useEngine(nativeEngineAvailable ? 'native' : 'fallback');
    })();
  });
});

describe('RFC 7692 §6.1: RSV1 rules', () => {
  it('RSV1 without deflate negotiated → 1002', () => {
    const host = new Host();
    const session = new WebSocketSession(host, host);
    session.receive(compressedFrames(Buffer.from('x'), Opcode.Text));
    expect(host.error?.closeCode).toBe(1002);
    expect(host.error?.code).toBe('WS_ERR_UNEXPECTED_RSV');
  });

  it('RSV1 on a continuation frame → 1002', () => {
    const { host, session } = setup();
    session.receive(clientFrame({ opcode: Opcode.Text, fin: false, payload: Buffer.from('a') }));
    session.receive(clientFrame({ opcode: Opcode.Continuation, rsv: 4, payload: Buffer.from('b') }));
    expect(host.error?.closeCode).toBe(1002);
    expect(host.error?.code).toBe('WS_ERR_UNEXPECTED_RSV_1');
  });

  it.each([Opcode.Ping, Opcode.Pong, Opcode.Close])('RSV1 on a control frame (opcode %i) → 1002', (opcode) => {
    const { host, session } = setup();
    session.receive(clientFrame({ opcode, rsv: 4 }));
    expect(host.error?.closeCode).toBe(1002);
  });

  it('RSV2 and RSV3 stay violations with deflate negotiated', () => {
    for (const rsv of [1, 2, 6]) {
      const { host, session } = setup();
      session.receive(clientFrame({ opcode: Opcode.Text, rsv, payload: Buffer.from('a') }));
      expect(host.error?.code).toBe('WS_ERR_UNEXPECTED_RSV');
    }
  });

  it('uncompressed messages still pass with deflate negotiated, UTF-8 checked as before', () => {
    const { host, session } = setup();
    session.receive(clientFrame({ opcode: Opcode.Text, payload: Buffer.from('plain') }));
    expect(host.messages[0].data.toString()).toBe('plain');
    session.receive(clientFrame({ opcode: Opcode.Text, payload: Buffer.from([0xff]) }));
    expect(host.error?.closeCode).toBe(1007);
  });
});

describe('limits and bombs', () => {
  const maxPayload = 64 * 1024;

  it('exactly maxPayload inflated bytes pass; one more → 1009', () => {
    const ok = setup('permessage-deflate', {}, maxPayload);
    ok.session.receive(compressedFrames(Buffer.alloc(maxPayload, 0x61), Opcode.Binary));
    expect(ok.host.messages[0].data.length).toBe(maxPayload);
    const over = setup('permessage-deflate', {}, maxPayload);
    over.session.receive(compressedFrames(Buffer.alloc(maxPayload + 1, 0x61), Opcode.Binary));
    expect(over.host.error?.closeCode).toBe(1009);
  });

  it('a frame inflating to 1 GiB is refused with 1009 quickly; the same bomb in 1,000 fragments too', () => {
    const piece = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 1024 }, () => piece));
    const rssBefore = process.memoryUsage().rss;
    for (const fragments of [1, 1000]) {
      const { host, session } = setup('permessage-deflate', {}, 16 << 20);
      const frames: Buffer[] = [];
      const step = Math.ceil(bomb.length / fragments);
      for (let i = 0; i < fragments; i++) {
        frames.push(clientFrame({ opcode: i === 0 ? Opcode.Binary : Opcode.Continuation, rsv: i === 0 ? 4 : 0, fin: i === fragments - 1, payload: bomb.subarray(i * step, (i + 1) * step) }));
      }
      const t = performance.now();
      session.receive(Buffer.concat(frames));
      expect(performance.now() - t).toBeLessThan(1000);
      expect(host.error?.closeCode).toBe(1009);
      expect(host.messages).toEqual([]);
    }
    // 16 MiB inflated at most, twice; nowhere near the 1 GiB announced.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
  });

  it('corrupt deflate data → 1007', () => {
    const { host, session } = setup();
    session.receive(clientFrame({ opcode: Opcode.Binary, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]) }));
    expect(host.error?.closeCode).toBe(1007);
    expect(host.error?.code).toBe('WS_ERR_INVALID_COMPRESSED_DATA');
  });

  it('compressed text that inflates to bad UTF-8 → 1007', () => {
    const { host, session } = setup();
    session.receive(compressedFrames(Buffer.from([0x61, 0xc3, 0x28]), Opcode.Text));
    expect(host.error?.closeCode).toBe(1007);
    expect(host.error?.code).toBe('WS_ERR_INVALID_UTF8');
  });

  it('an empty compressed message', () => {
    const { host, session } = setup();
    session.receive(clientFrame({ opcode: Opcode.Text, rsv: 4, payload: Buffer.from([0x00]) }));
    session.receive(clientFrame({ opcode: Opcode.Binary, rsv: 4 }));
    expect(host.messages.map((m) => m.data.length)).toEqual([0, 0]);
  });
});

describe('what the session sends', () => {
  it('at or above the threshold: RSV1 and deflate; below it, or compress=false, or control frames: plain', () => {
    const { host, session } = setup();
    const long = 'x'.repeat(deflateDefaults.threshold);
    session.sendText(long, long.length);
    session.sendText('short', 5);
    session.sendText(long, long.length, false);
    session.sendBytes(Buffer.alloc(1000), true);
    session.ping(Buffer.from('p'));
    const frames = serverFrames(host.take());
    expect(frames.map((f) => [f.opcode, f.rsv1])).toEqual([
      [Opcode.Text, true],
      [Opcode.Text, false],
      [Opcode.Text, false],
      [Opcode.Binary, true],
      [Opcode.Ping, false],
    ]);
    const inflate = (p: Buffer): Buffer => zlib.inflateRawSync(Buffer.concat([p, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(inflate(frames[0].payload).toString()).toBe(long);
    expect(frames[0].payload.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff]))).toBe(false);
  });

  it('with context takeover our messages refer back; after a shared message the window starts afresh', () => {
    const { session, host, codec } = setup();
    const message = '{"user":"ada","text":"the same words again and again, and again and again, twice"}';
    session.sendText(message, message.length);
    session.sendText(message, message.length);
    const shared = codec.compressFresh(Buffer.from('a publication for everyone'));
    session.sendCompressed(shared, false);
    session.sendText(message, message.length);
    const frames = serverFrames(host.take());
    expect(frames[1].payload.length).toBeLessThan(frames[0].payload.length / 3);
    // One client inflater with context takeover reads them all.
    const client = zlib.createInflateRaw();
    const tail = Buffer.from([0, 0, 0xff, 0xff]);
    const texts = frames.map((f) => {
      client.write(Buffer.concat([f.payload, tail]));
      return f;
    });
    expect(texts.length).toBe(4);
    return new Promise<void>((resolve) => {
      client.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const all = (client.read() as Buffer).toString();
        expect(all).toBe(message + message + 'a publication for everyone' + message);
        resolve();
      });
    });
  });

  it('server_no_context_takeover: every message compressed alone, no context held', () => {
    const { session, host, codec } = setup('permessage-deflate; server_no_context_takeover');
    const message = 'the same words again and again, and again and again, and again and again';
    session.sendText(message, message.length);
    session.sendText(message, message.length);
    const frames = serverFrames(host.take());
    expect(frames[0].payload.equals(frames[1].payload)).toBe(true);
    expect(codec.holdsContext).toBe(false);
  });

  it('contexts are lazy, and released after idleRelease without use', () => {
    const { session, codec, clock, contexts } = setup('permessage-deflate', { idleRelease: 1000 });
    expect(codec.holdsContext).toBe(false);
    session.sendText('x'.repeat(100), 100);
    expect(codec.holdsContext).toBe(true);
    clock.advance(1000);
    // Used since the last sweep: kept one more period.
    expect(codec.holdsContext).toBe(true);
    session.sendText('x'.repeat(100), 100);
    clock.advance(1000);
    expect(codec.holdsContext).toBe(true);
    clock.advance(1000);
    expect(codec.holdsContext).toBe(false);
    expect(contexts.holders).toBe(0);
    // And comes back on demand.
    session.sendText('x'.repeat(100), 100);
    expect(codec.holdsContext).toBe(true);
    session.transportClosed();
    expect(codec.holdsContext).toBe(false);
    expect(contexts.holders).toBe(0);
  });

  it('maxContexts: past it connections use fresh windows and one-off inflaters, every message still decodes, and a released context goes to the next', () => {
    const clock = new ManualClock();
    const options = { ...deflateDefaults, clientNoContextTakeover: false, idleRelease: 1000, maxContexts: 2 };
    const contexts = new DeflateContexts(options, clock);
    const peers = Array.from({ length: 3 }, () => {
      const codec = contexts.codec(negotiateDeflate('permessage-deflate', options)!.params);
      const host = new Host();
      return { codec, host, session: new WebSocketSession(host, host, { maxPayload: 1 << 20, compression: codec }) };
    });
    const message = '{"user":"ada","text":"the same words again and again, and again and again, twice"}';
    // A client with context takeover: each message deflated with the ones before as its window.
    const fromClient = (text: string, before: string): Buffer => {
      const c = zlib.deflateRawSync(Buffer.from(text), before === '' ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : { finishFlush: zlib.constants.Z_SYNC_FLUSH, dictionary: Buffer.from(before) });
      return clientFrame({ opcode: Opcode.Text, rsv: 4, fin: true, payload: c.subarray(0, c.length - 4) });
    };
    for (const p of peers) {
      p.session.sendText(message, message.length);
      p.session.receive(fromClient(message, ''));
    }
    // Two connections hold a compressor and an inflater: the cap counts contexts, so only the first has both.
    expect(contexts.contexts).toBe(2);
    expect(peers[0].codec.holdsContext).toBe(true);
    expect(peers[2].codec.holdsContext).toBe(false);
    expect(contexts.counts.overMaxContexts).toBeGreaterThan(0);
    for (const p of peers) {
      p.session.sendText(message, message.length);
      p.session.receive(fromClient(message, message));
    }
    for (const [i, p] of peers.entries()) {
      expect(p.host.messages.map((m) => m.data.toString())).toEqual([message, message]);
      const frames = serverFrames(p.host.take());
      // One client inflater with context takeover reads what each connection sent.
      const tail = Buffer.from([0, 0, 0xff, 0xff]);
      const client = zlib.inflateRawSync(Buffer.concat([frames[0].payload, tail, frames[1].payload, tail]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      expect(client.toString()).toBe(message + message);
      // The holder refers back into the first message; the one past the cap sends it whole again.
      if (i === 0) expect(frames[1].payload.length).toBeLessThan(frames[0].payload.length / 3);
      if (i === 2) expect(frames[1].payload.length).toBe(frames[0].payload.length);
    }
    expect(contexts.contexts).toBe(2);
    // Idle: the contexts go back, and the third connection now gets one.
    clock.advance(2000);
    expect(contexts.contexts).toBe(0);
    peers[2].session.sendText(message, message.length);
    expect(peers[2].codec.holdsContext).toBe(true);
    expect(contexts.contexts).toBe(1);
    for (const p of peers) p.session.transportClosed();
    expect(contexts.contexts).toBe(0);
  });

  it('idleRelease 0: nothing is held between messages', () => {
    const { session, codec } = setup('permessage-deflate', { idleRelease: 0, clientNoContextTakeover: false });
    session.sendText('x'.repeat(100), 100);
    session.receive(compressedFrames(Buffer.from('y'.repeat(100)), Opcode.Text));
    expect(codec.holdsContext).toBe(false);
  });
});
