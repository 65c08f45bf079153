// Failing the connection (RFC 6455 §7.1.7) over real sockets: each violation
// gets a Close frame with the exact status code (§7.4.1), then the server
// closes TCP (§7.1.1), then nothing more. A witness connection opened before
// the violations must keep working after each one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, Op, type RawClient } from '../helpers/raw-client.js';
import { expectServing, MODES, startServer, type TestServer } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

const MAX_PAYLOAD = 64 * 1024;

interface Violation {
  name: string;
  bytes: () => Buffer;
  code: number;
}

const frame = encodeFrame;
const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

const VIOLATIONS: Violation[] = [
  { name: '§5.1 unmasked client frame', bytes: () => frame({ opcode: Op.Text, payload: 'hi', mask: false }), code: 1002 },
  { name: '§5.2 RSV1 set without an extension', bytes: () => frame({ opcode: Op.Text, payload: 'hi', rsv: 4 }), code: 1002 },
  { name: '§5.2 RSV2 set', bytes: () => frame({ opcode: Op.Binary, payload: 'hi', rsv: 2 }), code: 1002 },
  { name: '§5.2 RSV3 set on a ping', bytes: () => frame({ opcode: Op.Ping, rsv: 1 }), code: 1002 },
  { name: '§5.2 reserved data opcode 3', bytes: () => frame({ opcode: 3, payload: 'x' }), code: 1002 },
  { name: '§5.2 reserved control opcode 0xB', bytes: () => frame({ opcode: 0xb }), code: 1002 },
  { name: '§5.5 fragmented ping (FIN=0)', bytes: () => frame({ opcode: Op.Ping, fin: false, payload: 'p' }), code: 1002 },
  { name: '§5.5 ping of 126 bytes', bytes: () => frame({ opcode: Op.Ping, payload: Buffer.alloc(126, 0x70) }), code: 1002 },
  { name: '§5.5 close of 126 bytes', bytes: () => frame({ opcode: Op.Close, payload: closePayload(1000, 'r'.repeat(124)) }), code: 1002 },
  { name: '§5.4 continuation without a message to continue', bytes: () => frame({ opcode: Op.Continuation, payload: 'x' }), code: 1002 },
  {
    name: '§5.4 new text frame inside a fragmented message',
    bytes: () => cat(frame({ opcode: Op.Text, fin: false, payload: 'a' }), frame({ opcode: Op.Text, payload: 'b' })),
    code: 1002,
  },
  {
    name: '§5.4 new binary frame inside a fragmented text message',
    bytes: () => cat(frame({ opcode: Op.Text, fin: false, payload: 'a' }), frame({ opcode: Op.Binary, fin: false, payload: 'b' })),
    code: 1002,
  },
  { name: '§5.2 64-bit length with the most significant bit set', bytes: () => frame({ opcode: Op.Binary, announcedLength: 2n ** 63n + 5n }), code: 1002 },
  { name: '§8.1 invalid UTF-8 text (0xFF)', bytes: () => frame({ opcode: Op.Text, payload: Buffer.from([0x61, 0xff, 0x62]) }), code: 1007 },
  { name: '§8.1 overlong encoding of "/" (C0 AF)', bytes: () => frame({ opcode: Op.Text, payload: Buffer.from([0xc0, 0xaf]) }), code: 1007 },
  { name: '§8.1 UTF-16 surrogate (ED A0 80)', bytes: () => frame({ opcode: Op.Text, payload: Buffer.from([0xed, 0xa0, 0x80]) }), code: 1007 },
  { name: '§8.1 code point above U+10FFFF (F4 90 80 80)', bytes: () => frame({ opcode: Op.Text, payload: Buffer.from([0xf4, 0x90, 0x80, 0x80]) }), code: 1007 },
  { name: '§8.1 text ending inside a code point', bytes: () => frame({ opcode: Op.Text, payload: Buffer.from([0x61, 0xe2, 0x82]) }), code: 1007 },
  {
    // The message is left open: the server must fail at the fragment that carries the bad byte.
    name: '§8.1 invalid UTF-8 in a later fragment, message still open',
    bytes: () =>
      cat(frame({ opcode: Op.Text, fin: false, payload: 'valid start ' }), frame({ opcode: Op.Continuation, fin: false, payload: Buffer.from([0xff]) })),
    code: 1007,
  },
  {
    name: '§8.1 fragmented text whose last fragment ends inside a code point',
    bytes: () =>
      cat(frame({ opcode: Op.Text, fin: false, payload: Buffer.from([0xe2]) }), frame({ opcode: Op.Continuation, fin: true, payload: Buffer.from([0x82]) })),
    code: 1007,
  },
  {
    // Header only: the server must answer before any payload byte is sent.
    name: 'message over maxPayload, announced by the header alone → 1009',
    bytes: () => frame({ opcode: Op.Binary, announcedLength: MAX_PAYLOAD + 1 }),
    code: 1009,
  },
  {
    name: 'a 1 GiB frame announced by the header alone → 1009',
    bytes: () => frame({ opcode: Op.Text, announcedLength: 2 ** 30 }),
    code: 1009,
  },
  {
    name: 'fragments that add up past maxPayload → 1009 at the header that crosses it',
    bytes: () =>
      cat(
        frame({ opcode: Op.Binary, fin: false, payload: Buffer.alloc(MAX_PAYLOAD - 10) }),
        frame({ opcode: Op.Continuation, fin: false, announcedLength: 11 }),
      ),
    code: 1009,
  },
  { name: '§5.5.1 close payload of 1 byte', bytes: () => frame({ opcode: Op.Close, payload: Buffer.from([0x03]) }), code: 1002 },
  ...[999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 0, 65535].map((code) => ({
    name: `§7.4 close code ${code} may not be sent → 1002`,
    bytes: () => frame({ opcode: Op.Close, payload: closePayload(code) }),
    code: 1002,
  })),
  {
    name: '§5.5.1 close reason that is not UTF-8 → 1007',
    bytes: () => frame({ opcode: Op.Close, payload: closePayload(1000, Buffer.from([0x6f, 0x6b, 0xff])) }),
    code: 1007,
  },
];

describe.each(MODES)('protocol violations over $name://', (mode) => {
  let ts: TestServer;
  let witness: RawClient;
  beforeAll(async () => {
    ts = await startServer(mode, { maxPayload: MAX_PAYLOAD, closeTimeout: 1000 });
    witness = await ts.open();
  });
  afterAll(async () => {
    witness.destroy();
    await ts.close();
  });

  async function expectWitnessAlive(): Promise<void> {
    witness.sendText('witness');
    const f = await witness.readFrame();
    expect(f.payload.toString()).toBe('witness');
  }

  it.each(VIOLATIONS)('$name → Close $code, then TCP closed', async (v) => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.write(v.bytes());
    const close = await client.readClose(2000);
    expect(close.before.map((f) => f.opcode)).toEqual([]);
    expect(close.code).toBe(v.code);
    // The server closes TCP first (§7.1.1); our client answers the FIN.
    await client.waitClosed(2000);
    // The application hears about it: an 'error' with the close code, then 'close'.
    expect(side.errors.length).toBeGreaterThan(0);
    expect(side.messages).toEqual([]);
    const closed = await side.closed;
    expect(closed.code).toBe(1006);
    await expectWitnessAlive();
  });

  it('a header announcing too much is refused without waiting for its payload', async () => {
    const client = await ts.open();
    const started = performance.now();
    client.write(frame({ opcode: Op.Binary, announcedLength: MAX_PAYLOAD * 4 }));
    const close = await client.readClose(1000);
    expect(close.code).toBe(1009);
    expect(performance.now() - started).toBeLessThan(scaled(1000));
    await client.waitClosed(2000);
  });

  it('after its Close, the server ignores further frames: no echo, no pong, only TCP close', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    client.write(
      cat(
        frame({ opcode: Op.Text, payload: 'x', mask: false }),
        frame({ opcode: Op.Text, payload: 'ignored' }),
        frame({ opcode: Op.Ping, payload: 'ignored' }),
        frame({ opcode: Op.Close, payload: closePayload(1000) }),
      ),
    );
    const frames = await client.framesUntilClosed(2000);
    expect(frames.map((f) => [f.opcode, f.opcode === Op.Close ? f.payload.readUInt16BE(0) : f.payload.toString()])).toEqual([[Op.Close, 1002]]);
    expect(side.messages).toEqual([]);
    await expectWitnessAlive();
  });

  it('frames that arrive after the Close in a later write are ignored too', async () => {
    const client = await ts.open();
    const side = await ts.serverSide(client);
    // Half-close our side later: keep the connection readable for the server.
    client.write(frame({ opcode: Op.Text, payload: Buffer.from([0xff]) }));
    const close = await client.readClose(2000);
    expect(close.code).toBe(1007);
    if (!client.closed) {
      client.write(cat(frame({ opcode: Op.Text, payload: 'late' }), frame({ opcode: Op.Ping, payload: 'late' })));
    }
    const rest = await client.framesUntilClosed(2000);
    expect(rest).toEqual([]);
    expect(side.messages).toEqual([]);
  });

  it('a rejected frame split over many writes is still caught at its header', async () => {
    const client = await ts.open();
    const bytes = frame({ opcode: Op.Text, payload: 'hi', mask: false });
    for (const b of bytes) client.write(Buffer.from([b]));
    expect((await client.readClose(2000)).code).toBe(1002);
    await client.waitClosed(2000);
    await expectServing(ts);
  });
});
