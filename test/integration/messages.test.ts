// Data frames end to end (RFC 6455 §5.2, §5.4, §5.6): echo at every length
// boundary, fragmented messages with control frames in between, UTF-8 split
// across fragments, and pings (§5.5.2).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, Op, type RawClient } from '../helpers/raw-client.js';
import { MODES, sleep, startServer, withTimeout, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

const SIZES = [0, 125, 126, 65535, 65536, 1024 * 1024];

/** Text of exactly `n` bytes, with some multibyte characters when it has room. */
function textOf(n: number): string {
  const unit = 'aé€𝄞'; // 1 + 2 + 3 + 4 = 10 bytes
  if (n < 10) return 'x'.repeat(n);
  return unit.repeat(Math.floor(n / 10)) + 'y'.repeat(n % 10);
}

/** The wire length form a server frame must use for a payload (§5.2: minimal). */
const lengthByte = (n: number): number => (n < 126 ? n : n < 65536 ? 126 : 127);

describe.each(MODES)('messages over $name://', (mode) => {
  let ts: TestServer;
  let client: RawClient;
  beforeAll(async () => {
    ts = await startServer(mode, { maxPayload: 2 * 1024 * 1024 });
    client = await ts.open();
  });
  afterAll(async () => {
    client.destroy();
    await ts.close();
  });

  it.each(SIZES)('echoes a %i-byte text message, unfragmented and minimally framed', async (n) => {
    const text = textOf(n);
    expect(Buffer.byteLength(text)).toBe(n);
    client.sendText(text);
    const frame = await client.readFrame(5000);
    expect(frame).toMatchObject({ fin: true, rsv: 0, opcode: Op.Text, masked: false });
    expect(frame.payload.length).toBe(n);
    expect(frame.payload.toString('utf8') === text).toBe(true);
  });

  it.each(SIZES)('echoes a %i-byte binary message byte for byte', async (n) => {
    const bytes = randomBytes(n);
    client.sendBinary(bytes);
    const frame = await client.readFrame(5000);
    expect(frame).toMatchObject({ fin: true, rsv: 0, opcode: Op.Binary, masked: false });
    expect(frame.payload.length).toBe(n);
    expect(frame.payload.equals(bytes)).toBe(true);
  });

  it('server frames use the minimal length encoding (§5.2)', async () => {
    // Read the raw header bytes through a fresh connection so nothing is consumed by the parser.
    const raw = await ts.open();
    const chunks: Buffer[] = [];
    raw.socket.on('data', (c: Buffer) => chunks.push(c));
    for (const n of [125, 126, 65535, 65536]) {
      chunks.length = 0;
      raw.sendBinary(Buffer.alloc(n, 1));
      const frame = await raw.readFrame(5000);
      expect(frame.payload.length).toBe(n);
      expect(Buffer.concat(chunks)[1] & 0x7f).toBe(lengthByte(n));
    }
    raw.destroy();
  });

  it('a 5-byte payload announced in 16- or 64-bit form is refused (§5.2 minimal length)', async () => {
    for (const lengthForm of ['16', '64'] as const) {
      const c = await ts.open();
      c.send({ opcode: Op.Text, payload: 'hello', lengthForm });
      expect((await c.readClose()).code).toBe(1002);
      await c.waitClosed(2000);
    }
  });

  it('many messages in one write come back in order', async () => {
    const frames = Array.from({ length: 200 }, (_, i) => encodeFrame({ opcode: Op.Text, payload: `m${i}` }));
    client.write(Buffer.concat(frames));
    for (let i = 0; i < 200; i++) expect((await client.readFrame()).payload.toString()).toBe(`m${i}`);
  });

  it('a message whose frames arrive one byte per write is assembled', async () => {
    const bytes = encodeFrame({ opcode: Op.Binary, payload: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) });
    for (const b of bytes) client.write(Buffer.from([b]));
    const frame = await client.readFrame();
    expect([...frame.payload]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('§5.4: text in 3 fragments with a ping between comes back as one message, after the pong', async () => {
    client.write(
      Buffer.concat([
        encodeFrame({ opcode: Op.Text, fin: false, payload: 'one ' }),
        encodeFrame({ opcode: Op.Ping, payload: 'between' }),
        encodeFrame({ opcode: Op.Continuation, fin: false, payload: 'two ' }),
        encodeFrame({ opcode: Op.Continuation, fin: true, payload: 'three' }),
      ]),
    );
    const pong = await client.readFrame();
    expect(pong.opcode).toBe(Op.Pong);
    expect(pong.payload.toString()).toBe('between');
    const message = await client.readFrame();
    expect(message).toMatchObject({ fin: true, opcode: Op.Text });
    expect(message.payload.toString()).toBe('one two three');
  });

  it('§5.4: fragments sent in separate writes with pauses are one message', async () => {
    // The pauses are pacing: each piece reaches the server in its own read.
    client.send({ opcode: Op.Binary, fin: false, payload: Buffer.from([1]) });
    await sleep(20);
    client.send({ opcode: Op.Continuation, fin: false, payload: Buffer.alloc(0) });
    client.send({ opcode: Op.Pong, payload: 'unsolicited' });
    await sleep(20);
    client.send({ opcode: Op.Continuation, fin: true, payload: Buffer.from([2, 3]) });
    const frame = await client.readFrame();
    expect(frame.opcode).toBe(Op.Binary);
    expect([...frame.payload]).toEqual([1, 2, 3]);
  });

  it('§8.1: multibyte UTF-8 split inside code points across fragments is valid text', async () => {
    const text = '€ and 𝄞 and é';
    const bytes = Buffer.from(text, 'utf8');
    // Cut inside "€" (3 bytes) and twice inside "𝄞" (4 bytes).
    const cuts = [1, 9, 11, bytes.length];
    const parts: Buffer[] = [];
    let at = 0;
    cuts.forEach((cut, i) => {
      parts.push(
        encodeFrame({ opcode: i === 0 ? Op.Text : Op.Continuation, fin: i === cuts.length - 1, payload: bytes.subarray(at, cut) }),
      );
      at = cut;
    });
    client.write(Buffer.concat(parts));
    const frame = await client.readFrame();
    expect(frame.opcode).toBe(Op.Text);
    expect(frame.payload.toString('utf8')).toBe(text);
  });

  it('a fragmented 1 MiB binary message (16 fragments) is echoed whole', async () => {
    const bytes = randomBytes(1024 * 1024);
    const frames: Buffer[] = [];
    for (let i = 0; i < 16; i++) {
      frames.push(
        encodeFrame({ opcode: i === 0 ? Op.Binary : Op.Continuation, fin: i === 15, payload: bytes.subarray(i * 65536, (i + 1) * 65536) }),
      );
    }
    client.write(Buffer.concat(frames));
    const frame = await client.readFrame(5000);
    expect(frame.opcode).toBe(Op.Binary);
    expect(frame.payload.equals(bytes)).toBe(true);
  });

  it('§5.5.2: a ping with a payload gets a pong with the same payload', async () => {
    const payload = randomBytes(125);
    client.send({ opcode: Op.Ping, payload });
    const pong = await client.readFrame();
    expect(pong).toMatchObject({ fin: true, opcode: Op.Pong, masked: false });
    expect(pong.payload.equals(payload)).toBe(true);
    client.send({ opcode: Op.Ping });
    const empty = await client.readFrame();
    expect(empty.opcode).toBe(Op.Pong);
    expect(empty.payload.length).toBe(0);
  });

  it('an unsolicited pong gets no answer and the connection stays usable', async () => {
    client.send({ opcode: Op.Pong, payload: 'heartbeat' });
    client.sendText('after pong');
    const frame = await client.readFrame();
    expect(frame.opcode).toBe(Op.Text);
    expect(frame.payload.toString()).toBe('after pong');
  });

  it('10,000 pings in one write are all answered, in order', async () => {
    const count = 10_000;
    const pings: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(i);
      pings.push(encodeFrame({ opcode: Op.Ping, payload }));
    }
    client.write(Buffer.concat(pings));
    let i = 0;
    await client.readFramesUntil(
      (pong) => {
        if (pong.opcode !== Op.Pong || pong.payload.length !== 4 || pong.payload.readUInt32BE(0) !== i) {
          throw new Error(`pong ${i}: opcode ${pong.opcode}, payload ${pong.payload.toString('hex')}`);
        }
        return ++i === count;
      },
      10_000,
      `${count} pongs`,
    );
    // And nothing else is pending.
    client.sendText('done');
    expect((await client.readFrame()).payload.toString()).toBe('done');
  }, scaled(15_000));

  it("send() reports backpressure: false past the high-water mark, bufferedAmount counts it, 'drain' follows", async () => {
    const c = await ts.open();
    const side = await ts.serverSide(c);
    const big = randomBytes(1024 * 1024);
    const drained = new Promise<void>((resolve) => side.connection.once('drain', () => resolve()));
    // The socket hands what it can to the kernel at once, so send until the
    // loopback buffers are full (a few MiB; bounded at 64) and send() says so.
    let sent = 0;
    while (side.connection.send(big)) {
      sent++;
      expect(sent).toBeLessThan(64);
    }
    sent++;
    expect(side.connection.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    for (let i = 0; i < sent; i++) {
      const frame = await c.readFrame(5000);
      expect(frame.payload.equals(big)).toBe(true);
    }
    await withTimeout(drained, 2000, "'drain'");
    expect(side.connection.bufferedAmount).toBe(0);
    expect(side.connection.send('small')).toBe(true);
    expect((await c.readFrame()).payload.toString()).toBe('small');
    c.destroy();
  });

  it('the server delivers what it received: message count and types on the server side', async () => {
    const c = await ts.open();
    c.sendText('t');
    c.sendBinary(Buffer.from([0]));
    await c.readFrame();
    await c.readFrame();
    const side = await ts.serverSide(c);
    expect(side.messages.map((m) => [typeof m.data, m.isBinary])).toEqual([
      ['string', false],
      ['object', true],
    ]);
    c.destroy();
  });
});
