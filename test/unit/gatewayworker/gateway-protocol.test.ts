// GatewayProtocol (GatewayWorker spec §2, §3, §6) without sockets: the §2.8
// vectors byte for byte, the Appendix A headers, every packet and a stream of
// them fed whole, split at every byte offset, byte by byte and in seeded random
// chunks; the refusals, decided on the header before any body is buffered;
// client ids, addresses and the query reply framing.
import { describe, expect, it } from 'vitest';
import {
  clientId,
  CMD_GET_CLIENT_COUNT_BY_GROUP,
  CMD_KICK,
  CMD_ON_CONNECT,
  CMD_ON_MESSAGE,
  CMD_ON_WEBSOCKET_CONNECT,
  CMD_SELECT,
  CMD_SEND_TO_ONE,
  CMD_SEND_TO_UID,
  CMD_SET_SESSION,
  CMD_WORKER_CONNECT,
  commandName,
  DEFAULT_MAX_PACKET_BYTES,
  encodeClientEvent,
  encodePacket,
  encodeQueryReply,
  FLAG_BODY_IS_SCALAR,
  FLAG_NOT_CALL_ENCODE,
  type GatewayPacket,
  GatewayProtocolError,
  HEAD_LEN,
  ipv4ToLong,
  isQueryCommand,
  isRawSend,
  isScalarBody,
  longToIpv4,
  PacketReader,
  type PacketReaderOptions,
  parseClientId,
  PING_PACKET,
} from '../../../src/gatewayworker/gateway-protocol.js';
import { serialize } from '../../../src/gatewayworker/php-serialize.js';
import { phpArray, phpString } from '../../../src/gatewayworker/php-value.js';
import { hex } from '../helpers/bytes.js';
import { chunkings } from '../helpers/chunking.js';
import { thrownBy } from '../helpers/errors.js';
import { rng } from '../helpers/prng.js';
import { bin, fixture, unhex } from './fixtures.js';

/** The ON_* vectors' client: lan 127.0.0.1:25282, client 127.0.0.1:40000, connection 1, client port 24282. */
const client = { localIp: 0x7f000001, localPort: 25282, clientIp: ipv4ToLong('127.0.0.1'), clientPort: 40000, connectionId: 1, gatewayPort: 24282 };
const session = bin('a:1:{s:3:"uid";s:2:"42";}');

function readAll(chunks: Buffer[], options?: PacketReaderOptions): GatewayPacket[] {
  const out: GatewayPacket[] = [];
  const reader = new PacketReader((p) => out.push({ ...p, extData: Buffer.from(p.extData), body: Buffer.from(p.body) }), options);
  for (const chunk of chunks) reader.push(chunk);
  expect(reader.buffered).toBe(0);
  return out;
}

/** The packets' bytes, re-encoded: a cheap exact comparison. */
function signature(packets: GatewayPacket[]): string {
  return packets.map((p) => encodePacket(p).toString('hex')).join('|');
}

/** Every chunking of `wire` gives the same packets as the whole. */
function expectPackets(wire: Buffer, seed: number): GatewayPacket[] {
  const want = readAll([wire]);
  const expected = signature(want);
  for (const { name, chunks } of chunkings(wire, rng(seed), { randomRuns: 10 })) {
    const got = signature(readAll(chunks));
    if (got !== expected) expect(got, name).toBe(expected);
  }
  return want;
}

function expectRefusal(fn: () => unknown, code: string, offset = 0): GatewayProtocolError {
  const error = thrownBy(fn);
  expect(error).toBeInstanceOf(GatewayProtocolError);
  expect({ code: (error as GatewayProtocolError).code, offset: (error as GatewayProtocolError).offset }).toEqual({ code, offset });
  expect((error as GatewayProtocolError).answer).toBe('destroy-connection');
  return error as GatewayProtocolError;
}

/** A header with any pack_len and ext_len, the rest zero. */
function header(packLen: number, extLen = 0): Buffer {
  const h = Buffer.alloc(HEAD_LEN);
  h.writeUInt32BE(packLen, 0);
  h.writeUInt32BE(extLen, 24);
  return h;
}

// Spec §2.8, generated with the vendored GatewayProtocol::encode (PHP 8.2).
const wsConnectBody = serialize(
  phpArray([
    ['get', phpArray([['a', phpString('1')]])],
    ['server', phpArray([['X', null], ['P', 5n]])],
    ['cookie', new Map()],
  ]),
);
const vectors: Array<{ name: string; wire: Buffer; built: Buffer }> = [
  { name: 'ON_CONNECT', wire: hex('0000001c 01 7f000001 62c2 7f000001 9c40 00000001 01 5eda 00000000'), built: encodeClientEvent(CMD_ON_CONNECT, client, Buffer.alloc(0)) },
  {
    name: 'ON_MESSAGE',
    wire: Buffer.concat([hex('0000003d 03 7f000001 62c2 7f000001 9c40 00000001 01 5eda 00000019'), session, bin('login:42')]),
    built: encodeClientEvent(CMD_ON_MESSAGE, client, session, bin('login:42')),
  },
  {
    name: 'ON_WS_CONNECT',
    wire: Buffer.concat([hex('0000007e cd 7f000001 62c2 7f000001 9c40 00000001 00 5eda 00000000'), wsConnectBody]),
    built: encodeClientEvent(CMD_ON_WEBSOCKET_CONNECT, client, Buffer.alloc(0), wsConnectBody),
  },
  { name: 'PING', wire: hex('0000001c c9 00000000 0000 00000000 0000 00000000 01 0000 00000000'), built: PING_PACKET },
  {
    name: 'WORKER_CONNECT',
    wire: Buffer.concat([hex('00000047 c8 00000000 0000 00000000 0000 00000000 01 0000 00000000'), bin('{"worker_key":"business:0","secret_key":""}')]),
    built: encodePacket({ cmd: CMD_WORKER_CONNECT, flag: FLAG_BODY_IS_SCALAR, body: bin('{"worker_key":"business:0","secret_key":""}') }),
  },
  { name: 'KICK (null)', wire: hex('0000001e 07 00000000 0000 00000000 0000 00000003 00 0000 00000000 4e3b'), built: encodePacket({ cmd: CMD_KICK, connectionId: 3, body: serialize(null) }) },
  {
    name: 'SEND_TO_ONE raw + array',
    wire: Buffer.concat([hex('0000002e 05 00000000 0000 00000000 0000 00000003 02 0000 00000000'), bin('a:1:{s:1:"x";i:1;}')]),
    built: encodePacket({ cmd: CMD_SEND_TO_ONE, connectionId: 3, flag: FLAG_NOT_CALL_ENCODE, body: serialize(phpArray([['x', 1n]])) }),
  },
  {
    name: 'SEND_TO_ONE 123',
    wire: hex('0000001f 05 00000000 0000 00000000 0000 00000003 01 0000 00000000 313233'),
    built: encodePacket({ cmd: CMD_SEND_TO_ONE, connectionId: 3, flag: FLAG_BODY_IS_SCALAR, body: bin('123') }),
  },
  {
    name: 'SEND_TO_ONE true',
    wire: hex('0000001d 05 00000000 0000 00000000 0000 00000003 01 0000 00000000 31'),
    built: encodePacket({ cmd: CMD_SEND_TO_ONE, connectionId: 3, flag: FLAG_BODY_IS_SCALAR, body: bin('1') }),
  },
  // Appendix A: what the real BusinessWorker and push.php sent.
  {
    name: 'A: SEND_TO_ONE hello',
    wire: Buffer.concat([hex('00000036050000000000000000000000000000000101000000000000'), bin('hello:7f00000162c200000001')]),
    built: encodePacket({ cmd: CMD_SEND_TO_ONE, connectionId: 1, flag: 1, body: bin(`hello:${clientId('127.0.0.1', 25282, 1)}`) }),
  },
  {
    name: 'A: SET_SESSION',
    wire: Buffer.concat([hex('00000035cc0000000000000000000000000000000101000000000019'), session]),
    built: encodePacket({ cmd: CMD_SET_SESSION, connectionId: 1, flag: 1, extData: session }),
  },
  {
    name: 'A: GET_CLIENT_COUNT_BY_GROUP',
    wire: Buffer.concat([hex('00000020180000000000000000000000000000000001000000000004'), bin('room')]),
    built: encodePacket({ cmd: CMD_GET_CLIENT_COUNT_BY_GROUP, flag: 1, extData: bin('room') }),
  },
  {
    name: 'A: SEND_TO_UID',
    wire: Buffer.concat([hex('0000002c0e0000000000000000000000000000000001000000000006'), bin('["42"]push:hello')]),
    built: encodePacket({ cmd: CMD_SEND_TO_UID, flag: 1, extData: bin('["42"]'), body: bin('push:hello') }),
  },
];

describe('GatewayProtocol packets (§2.1–§2.4, §2.8)', () => {
  for (const [i, v] of vectors.entries()) {
    it(`${v.name}: encoded byte for byte, read back in every chunking`, () => {
      expect(v.built.toString('hex')).toBe(v.wire.toString('hex'));
      const [packet] = expectPackets(v.wire, 0x2800 + i);
      expect(encodePacket(packet).equals(v.wire)).toBe(true);
    });
  }

  it('the ON_* header fields as §2.1 names them', () => {
    const [p] = readAll([vectors[1].wire]);
    expect(p).toEqual({ cmd: CMD_ON_MESSAGE, ...client, flag: FLAG_BODY_IS_SCALAR, extData: session, body: bin('login:42') });
    expect(isScalarBody(p)).toBe(true);
    expect(isRawSend(p)).toBe(false);
    const [raw] = readAll([vectors[6].wire]);
    expect([isScalarBody(raw), isRawSend(raw)]).toEqual([false, true]);
  });

  it('a stream of every vector, in any chunking, gives every packet in order', () => {
    const stream = Buffer.concat(vectors.map((v) => v.wire));
    const packets = expectPackets(stream, 0x57e4);
    expect(packets.map((p) => commandName(p.cmd))).toEqual(vectors.map((v) => commandName(readAll([v.wire])[0].cmd)));
  });

  it('serialized bodies (websocket connect, PHP values) survive every split', () => {
    const bodies = fixture<Array<{ body: string }>>('websocket-connect.json').map((c) => unhex(c.body));
    const values = fixture<Array<{ serialized: string }>>('serialize.json').slice(0, 12).map((c) => unhex(c.serialized));
    for (const [i, body] of [...bodies.slice(0, 3), ...values].entries()) {
      const wire = encodeClientEvent(CMD_ON_WEBSOCKET_CONNECT, client, session, body);
      const [packet] = expectPackets(wire, 0xb0d + i);
      expect(packet.body.equals(body)).toBe(true);
    }
  });

  it('a packet within one chunk is handed out as views, one across chunks as a copy', () => {
    const wire = vectors[1].wire;
    const seen: GatewayPacket[] = [];
    const reader = new PacketReader((p) => seen.push(p));
    reader.push(wire);
    expect(seen[0].body.buffer).toBe(wire.buffer);
    reader.push(wire.subarray(0, 40));
    expect(reader.buffered).toBe(40);
    reader.push(wire.subarray(40));
    expect(seen[1].body.buffer).not.toBe(wire.buffer);
    expect(seen[1].body.equals(bin('login:42'))).toBe(true);
  });

  it('a header-only packet is its own 28 bytes, also when split', () => {
    for (const { name, chunks } of chunkings(PING_PACKET, rng(28))) expect(readAll(chunks).length, name).toBe(1);
  });
});

describe('PacketReader refusals (§2.4): decided on the header', () => {
  it('pack_len over the limit: refused at its header, nothing of the body buffered', () => {
    const reader = new PacketReader(() => undefined);
    expectRefusal(() => reader.push(header(DEFAULT_MAX_PACKET_BYTES + 1)), 'GW_ERR_PACKET_TOO_BIG');
    expect(reader.buffered).toBe(0);
    expectRefusal(() => new PacketReader(() => undefined).push(header(0xffffffff, 0)), 'GW_ERR_PACKET_TOO_BIG');
    expectRefusal(() => new PacketReader(() => undefined, { maxPacketBytes: 100 }).push(header(101)), 'GW_ERR_PACKET_TOO_BIG');
  });

  it('a packet of exactly the limit passes (PHP accepts 10485760 bytes)', () => {
    const body = Buffer.alloc(DEFAULT_MAX_PACKET_BYTES - HEAD_LEN, 0x61);
    const wire = encodePacket({ cmd: CMD_SEND_TO_ONE, flag: 1, body });
    expect(readAll([wire])[0].body.length).toBe(body.length);
    expect(readAll([wire.subarray(0, 1000), wire.subarray(1000)])[0].body.equals(body)).toBe(true);
    const small = encodePacket({ cmd: CMD_SEND_TO_ONE, body: Buffer.alloc(72) });
    expect(readAll([small], { maxPacketBytes: 100 }).length).toBe(1);
  });

  it('pack_len 0 (PHP stalls forever), below 28 (PHP mis-decodes), ext_len past the packet', () => {
    expectRefusal(() => new PacketReader(() => undefined).push(header(0)), 'GW_ERR_LENGTH_ZERO');
    for (const n of [1, 4, 27]) expectRefusal(() => new PacketReader(() => undefined).push(header(n)), 'GW_ERR_PACKET_TOO_SHORT');
    expectRefusal(() => new PacketReader(() => undefined).push(header(28, 1)), 'GW_ERR_EXT_TOO_LONG');
    expectRefusal(() => new PacketReader(() => undefined).push(header(40, 13)), 'GW_ERR_EXT_TOO_LONG');
    expectRefusal(() => new PacketReader(() => undefined).push(header(40, 0xffffffff)), 'GW_ERR_EXT_TOO_LONG');
    expect(readAll([Buffer.concat([header(40, 12), Buffer.alloc(12)])])[0].extData.length).toBe(12);
  });

  it('the same refusal in every chunking, at the stream offset of the bad packet, after the good ones', () => {
    const bad = Buffer.concat([vectors[0].wire, vectors[1].wire, header(27)]);
    for (const { name, chunks } of chunkings(bad, rng(0xbad))) {
      const got: GatewayPacket[] = [];
      const reader = new PacketReader((p) => got.push(p));
      const error = thrownBy(() => chunks.forEach((c) => reader.push(c)));
      expect((error as GatewayProtocolError).code, name).toBe('GW_ERR_PACKET_TOO_SHORT');
      expect((error as GatewayProtocolError).offset, name).toBe(vectors[0].wire.length + vectors[1].wire.length);
      expect(got.length, name).toBe(2);
    }
  });

  it('after a refusal every push is refused with the same error', () => {
    const reader = new PacketReader(() => undefined);
    const first = expectRefusal(() => reader.push(header(0)), 'GW_ERR_LENGTH_ZERO');
    expect(thrownBy(() => reader.push(PING_PACKET))).toBe(first);
  });

  it('truncated packets wait, holding only what arrived', () => {
    for (const v of vectors) {
      for (let n = 0; n < v.wire.length; n++) {
        let count = 0;
        const reader = new PacketReader(() => count++);
        reader.push(v.wire.subarray(0, n));
        expect(count).toBe(0);
        expect(reader.buffered).toBe(n);
      }
    }
  });

  it('stop() from the handler drops the rest (an unauthorized connection); a throwing handler stops the reader', () => {
    const stream = Buffer.concat([vectors[0].wire, vectors[1].wire, vectors[3].wire]);
    const got: number[] = [];
    const reader: PacketReader = new PacketReader((p) => {
      got.push(p.cmd);
      reader.stop();
    });
    reader.push(stream);
    reader.push(stream);
    expect(got).toEqual([CMD_ON_CONNECT]);
    let calls = 0;
    const throwing = new PacketReader(() => {
      calls++;
      throw new Error('handler');
    });
    expect(() => throwing.push(stream)).toThrow('handler');
    throwing.push(stream);
    expect(calls).toBe(1);
  });

  it('random bytes: packets or a GatewayProtocolError, nothing else', () => {
    const r = rng(0xf22);
    for (let run = 0; run < 300; run++) {
      const bytes = r.bytes(r.int(4, 120));
      if (run % 3 === 0) bytes.writeUInt32BE(r.int(0, 120), 0);
      const error = thrownBy(() => new PacketReader(() => undefined, { maxPacketBytes: 1 << 20 }).push(bytes));
      if (error !== undefined) expect(error).toBeInstanceOf(GatewayProtocolError);
    }
  });
});

describe('commands (§3) and query replies (§2.7)', () => {
  it('names and which ones are answered', () => {
    expect([commandName(CMD_SELECT), commandName(205), commandName(2), commandName(29)]).toEqual(['SELECT', 'ON_WEBSOCKET_CONNECT', undefined, undefined]);
    const queries = [10, 11, 15, 16, 23, 24, 25, 26, 28, 203];
    for (let cmd = 0; cmd < 256; cmd++) expect(isQueryCommand(cmd), String(cmd)).toBe(queries.includes(cmd));
  });

  it('a reply is uint32_be(length of the payload) then the payload', () => {
    expect(encodeQueryReply(bin('i:1;')).toString('hex')).toBe('00000004693a313b');
    expect(encodeQueryReply(Buffer.alloc(0)).toString('hex')).toBe('00000000');
  });
});

describe('client ids and addresses (§6)', () => {
  it('20 lowercase hex digits: lan IPv4, lan port, connection id', () => {
    expect(clientId('127.0.0.1', 25282, 1)).toBe('7f00000162c200000001');
    expect(clientId(0x7f000001, 0x89d2, 1)).toBe('7f00000189d200000001');
    expect(clientId('255.255.255.255', 65535, 0xffffffff)).toBe('ffffffffffffffffffff');
    expect(parseClientId('7f00000162c200000001')).toEqual({ localIp: 0x7f000001, localPort: 25282, connectionId: 1 });
    expect(parseClientId('7F00000162C200000001')).toEqual({ localIp: 0x7f000001, localPort: 25282, connectionId: 1 });
    for (const bad of ['', '7f00000162c20000000', '7f00000162c2000000011', '7f00000162c20000000g', ' 7f00000162c20000001']) expect(parseClientId(bad), bad).toBeUndefined();
    expect(() => clientId('example.com', 1, 1)).toThrow(RangeError);
    expect(() => clientId('127.0.0.1', 65536, 1)).toThrow(RangeError);
    expect(() => clientId('127.0.0.1', 1, 2 ** 32)).toThrow(RangeError);
  });

  it('ip2long: IPv4 and IPv4-mapped addresses; 0 for IPv6 and anything else, as pack("N", false)', () => {
    expect(ipv4ToLong('127.0.0.1')).toBe(0x7f000001);
    expect(ipv4ToLong('::ffff:10.1.2.3')).toBe(0x0a010203);
    expect(ipv4ToLong('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['::1', '[::1]', '1.2.3.256', '01.2.3.4', '1.2.3', '1.2.3.4.5', 'localhost', '']) expect(ipv4ToLong(bad), bad).toBe(0);
    expect(longToIpv4(0x7f000001)).toBe('127.0.0.1');
    expect(longToIpv4(0xffffffff)).toBe('255.255.255.255');
  });
});
