// Frame and message limits against hostile input over real TLS: a message
// cut into the most fragments the limit allows (and one more), and frame
// headers announcing absurd lengths. Each answer is checked exactly, and
// afterwards a connection opened before the attack still echoes (the server
// neither crashed nor stalled).
import { afterEach, describe, expect, it } from 'vitest';
import { bystanderScene } from '../helpers/bystander.js';
import { encodeFrame, Op } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';

const scene = bystanderScene();
const { serverWithBystander, expectBystanderEchoes } = scene;
afterEach(() => scene.close());

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/**
 * One binary message as `n` masked one-byte frames (§5.4): Binary FIN=0,
 * then continuations, the last with FIN=1. Built in one buffer so it goes
 * out in large writes. Fragment i carries the byte i & 0xff.
 */
function oneByteFragments(n: number): { wire: Buffer; message: Buffer } {
  const wire = Buffer.allocUnsafe(7 * n);
  const message = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const at = 7 * i;
    wire[at] = (i === n - 1 ? 0x80 : 0) | (i === 0 ? Op.Binary : Op.Continuation);
    wire[at + 1] = 0x80 | 1;
    MASK.copy(wire, at + 2);
    message[i] = i & 0xff;
    wire[at + 6] = message[i] ^ MASK[0];
  }
  return { wire, message };
}

describe('many fragments in one message (maxFragments)', () => {
  it('default maxFragments: exactly 100,000 one-byte fragments make one message, echoed intact', async () => {
    const server = await serverWithBystander();
    const { wire, message } = oneByteFragments(100_000);
    const client = await server.open();
    client.write(wire);
    const frame = await client.readFrame(5000);
    expect(frame.opcode).toBe(Op.Binary);
    expect(frame.fin).toBe(true);
    expect(frame.payload.length).toBe(100_000);
    expect(frame.payload.equals(message)).toBe(true);
    const side = await server.serverSide(client);
    expect(side.messages).toHaveLength(1);
    await expectBystanderEchoes();
  });

  it('default maxFragments: 100,001 fragments → Close 1009, nothing delivered', async () => {
    const server = await serverWithBystander();
    const { wire } = oneByteFragments(100_001);
    const client = await server.open();
    const side = await server.serverSide(client);
    client.write(wire);
    const close = await client.readClose(5000);
    expect(close.code).toBe(1009);
    expect(close.before).toEqual([]);
    await client.waitClosed(2000);
    expect(side.messages).toEqual([]);
    expect(side.errors.map((e) => (e as Error & { code?: string }).code)).toContain('WS_ERR_TOO_MANY_FRAGMENTS');
    await expectBystanderEchoes();
  });

  it('maxFragments 1000: 1000 fragments pass, 1001 → Close 1009', async () => {
    const server = await serverWithBystander({ maxFragments: 1000 });
    const ok = await server.open();
    const thousand = oneByteFragments(1000);
    ok.write(thousand.wire);
    expect((await ok.readFrame(2000)).payload.equals(thousand.message)).toBe(true);
    const over = await server.open();
    over.write(oneByteFragments(1001).wire);
    const close = await over.readClose(2000);
    expect(close.code).toBe(1009);
    expect(close.before).toEqual([]);
    await over.waitClosed(2000);
    // The connection that stayed within the limit goes on.
    ok.sendText('next');
    expect((await ok.readFrame()).payload.toString('utf8')).toBe('next');
    await expectBystanderEchoes();
  });
});

describe('frame headers announcing impossible lengths (§5.2)', () => {
  it('2^63−1 bytes (MSB clear): Close 1009 at once, from the header alone', async () => {
    const server = await serverWithBystander();
    const client = await server.open();
    const started = performance.now();
    client.write(encodeFrame({ opcode: Op.Binary, announcedLength: 2n ** 63n - 1n, lengthForm: '64' }));
    const close = await client.readClose(1000);
    expect(close.code).toBe(1009);
    expect(close.before).toEqual([]);
    expect(performance.now() - started).toBeLessThan(scaled(1000));
    await client.waitClosed(2000);
    await expectBystanderEchoes();
  });

  it('2^63 bytes (MSB set): Close 1002', async () => {
    const server = await serverWithBystander();
    const client = await server.open();
    client.write(encodeFrame({ opcode: Op.Binary, announcedLength: 2n ** 63n, lengthForm: '64' }));
    const close = await client.readClose(1000);
    expect(close.code).toBe(1002);
    expect(close.before).toEqual([]);
    await client.waitClosed(2000);
    await expectBystanderEchoes();
  });
});
