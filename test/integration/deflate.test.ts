// permessage-deflate over real TLS sockets, against hostile input: bombs
// (one frame, and the same in 1,000 fragments) refused with 1009 after
// inflating at most maxPayload bytes, with this process's memory bounded;
// exactly maxPayload inflated passes, one byte more fails; corrupt data →
// 1007; RSV1 on a continuation → 1002. After each, a connection opened before
// the attack still echoes. And what a well-behaved client sees: the agreed
// response, compressed echoes both ways, the /stats counters.
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { bystanderScene } from '../helpers/bystander.js';
import { encodeFrame, Op, type Frame, type RawClient } from '../helpers/raw-client.js';
import { withTimeout } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

const withTimeoutOf = <T>(promise: Promise<T>, ms: number): Promise<T> => withTimeout(promise, ms, 'every message delivered');

const scene = bystanderScene();
const { serverWithBystander, expectBystanderEchoes } = scene;
afterEach(() => scene.close());

const MASK = Buffer.from([0x5a, 0x01, 0xc3, 0x7e]);
const OFFER = { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' };
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** What a client sends: `body` (deflated, tail stripped) as a message in `fragments` frames, RSV1 on the first. */
function compressedMessage(body: Buffer, opcode: number, fragments = 1): Buffer {
  const step = Math.ceil(body.length / fragments);
  const frames: Buffer[] = [];
  for (let i = 0; i < fragments; i++) {
    frames.push(encodeFrame({ opcode: i === 0 ? opcode : Op.Continuation, rsv: i === 0 ? 4 : 0, fin: i === fragments - 1, payload: body.subarray(i * step, (i + 1) * step), mask: MASK }));
  }
  return Buffer.concat(frames);
}

function deflate(data: Buffer): Buffer {
  const c = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return c.subarray(0, c.length - 4);
}

/** `mib` MiB of zeros in ≈ mib KiB: 1 MiB deflated at level 9, repeated (each piece ends on a sync flush, so they concatenate). */
function bomb(mib: number): Buffer {
  const piece = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
  return Buffer.concat(Array.from({ length: mib }, () => piece));
}

async function openCompressed(server: { open(request?: { headers?: Record<string, string> }): Promise<RawClient> }): Promise<RawClient> {
  return server.open({ headers: OFFER });
}

function inflate(frame: Frame): Buffer {
  return frame.rsv === 4 ? zlib.inflateRawSync(Buffer.concat([frame.payload, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : frame.payload;
}

describe('permessage-deflate against hostile input, over TLS', () => {
  it('a message inflating to 1 GiB (≈ 1 MiB on the wire): 1009 quickly, memory bounded; the same in 1,000 fragments; then still serving', async () => {
    const maxPayload = 2 << 20;
    const server = await serverWithBystander({ perMessageDeflate: true, maxPayload });
    // ≈ 1 MiB of compressed bytes: under maxPayload on the wire, so only inflating can catch it.
    const wire = bomb(1024);
    expect(wire.length).toBeLessThan(maxPayload);
    const rssBefore = process.memoryUsage().rss;
    for (const fragments of [1, 1000]) {
      const client = await openCompressed(server);
      const side = await server.serverSide(client);
      const started = performance.now();
      client.write(compressedMessage(wire, Op.Binary, fragments));
      const close = await client.readClose(5000);
      expect(close.code).toBe(1009);
      expect(close.before).toEqual([]);
      expect(side.messages).toEqual([]);
      expect(performance.now() - started).toBeLessThan(scaled(2000));
    }
    // At most 2 MiB inflated per attempt, nowhere near the 1 GiB announced (the server runs in this process).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 << 20);
    await expectBystanderEchoes();
  });

  it('a 64 KiB frame inflating to 64 MiB against maxPayload 1 MiB → 1009', async () => {
    const server = await serverWithBystander({ perMessageDeflate: true, maxPayload: 1 << 20 });
    const wire = bomb(64);
    expect(wire.length).toBeLessThanOrEqual(64 * 1024 + 1024);
    const client = await openCompressed(server);
    client.write(compressedMessage(wire, Op.Binary));
    expect((await client.readClose()).code).toBe(1009);
    await expectBystanderEchoes();
  });

  it('exactly maxPayload inflated bytes pass (echoed intact); one byte more → 1009', async () => {
    const maxPayload = 256 * 1024;
    const server = await serverWithBystander({ perMessageDeflate: true, maxPayload });
    const exact = Buffer.alloc(maxPayload, 0x61);
    const ok = await openCompressed(server);
    ok.write(compressedMessage(deflate(exact), Op.Binary, 3));
    const echo = await ok.readFrame(5000);
    expect(echo.opcode).toBe(Op.Binary);
    expect(inflate(echo).equals(exact)).toBe(true);
    const over = await openCompressed(server);
    over.write(compressedMessage(deflate(Buffer.alloc(maxPayload + 1, 0x61)), Op.Binary, 3));
    expect((await over.readClose()).code).toBe(1009);
    await expectBystanderEchoes();
  });

  it('corrupt deflate data → 1007; RSV1 on a continuation → 1002; RSV1 without deflate negotiated → 1002', async () => {
    const server = await serverWithBystander({ perMessageDeflate: true });
    const corrupt = await openCompressed(server);
    corrupt.write(compressedMessage(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), Op.Binary));
    expect((await corrupt.readClose()).code).toBe(1007);

    const continuation = await openCompressed(server);
    const body = deflate(Buffer.from('hello hello hello'));
    continuation.write(encodeFrame({ opcode: Op.Text, rsv: 4, fin: false, payload: body.subarray(0, 3), mask: MASK }));
    continuation.write(encodeFrame({ opcode: Op.Continuation, rsv: 4, fin: true, payload: body.subarray(3), mask: MASK }));
    expect((await continuation.readClose()).code).toBe(1002);

    const plain = await server.open();
    plain.write(compressedMessage(body, Op.Text));
    expect((await plain.readClose()).code).toBe(1002);
    await expectBystanderEchoes();
  });
});

describe('permessage-deflate under a fast sender', () => {
  it('128 messages of 1 MiB each (≈ 1 KiB on the wire) written at once: all delivered in order, memory bounded (nothing is read while a message inflates)', async () => {
    const server = await serverWithBystander({ perMessageDeflate: true, maxPayload: 2 << 20 });
    const client = await openCompressed(server);
    const side = await server.serverSide(client);
    let count = 0;
    let peakRss = process.memoryUsage().rss;
    const rssBefore = peakRss;
    const done = new Promise<void>((resolve) => {
      side.connection.on('message', (data: Buffer | string) => {
        // Each message is 1 MiB of one byte, its index: order and content in one check.
        expect(Buffer.isBuffer(data) && data.length === 1 << 20 && data[0] === (count & 0xff) && data[(1 << 20) - 1] === (count & 0xff)).toBe(true);
        count++;
        // The helper records every message; this test must not keep 256 MiB alive itself.
        side.messages.length = 0;
        if ((count & 15) === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
        if (count === 128) resolve();
      });
    });
    const frames = Array.from({ length: 128 }, (_, i) => compressedMessage(deflate(Buffer.alloc(1 << 20, i & 0xff)), Op.Binary));
    client.write(Buffer.concat(frames));
    await withTimeoutOf(done, 20_000);
    expect(count).toBe(128);
    // 128 MiB inflated in all; only what the garbage collector has not reclaimed yet is held.
    expect(peakRss - rssBefore).toBeLessThan(96 << 20);
    await expectBystanderEchoes();
  });
});

describe('permessage-deflate with a well-behaved client', () => {
  it('agreed in the 101; text and binary echoed compressed (RSV1), small ones plain; counted in /stats', async () => {
    const server = await serverWithBystander({ perMessageDeflate: true });
    const client = await server.connect();
    const response = await client.upgrade({ headers: OFFER });
    expect(response.status).toBe(101);
    // Our 12-bit window needs no parameter (any client window decodes it); the client is asked to keep none.
    expect(response.headers['sec-websocket-extensions']).toBe('permessage-deflate; client_no_context_takeover');
    const text = Buffer.from('{"user":"ada","text":"hello, hello, hello again"} '.repeat(40));
    const binary = Buffer.alloc(100_000, 0x42);
    client.write(compressedMessage(deflate(text), Op.Text));
    client.write(compressedMessage(deflate(binary), Op.Binary, 7));
    client.write(encodeFrame({ opcode: Op.Text, payload: Buffer.from('tiny'), mask: MASK }));
    const [a, b, c] = [await client.readFrame(), await client.readFrame(), await client.readFrame()];
    expect([a.rsv, b.rsv, c.rsv]).toEqual([4, 4, 0]);
    expect(inflate(a).equals(text)).toBe(true);
    expect(a.payload.length).toBeLessThan(text.length / 5);
    expect(inflate(b).equals(binary)).toBe(true);
    expect(c.payload.toString()).toBe('tiny');
    const stats = JSON.parse(server.server.statsJson()) as { deflate: Record<string, number> };
    expect(stats.deflate.inflated).toBe(2);
    expect(stats.deflate.inflatedOut).toBe(text.length + binary.length);
    expect(stats.deflate.compressed).toBe(2);
    expect(stats.deflate.compressedIn).toBe(text.length + binary.length);
    expect(stats.deflate.compressedOut).toBe(a.payload.length + b.payload.length);
    // Our compressor keeps its window (context takeover): one context held until the idle release.
    expect(stats.deflate.contexts).toBe(1);
  });
});
