// GatewayWorker's GatewayProtocol (spec §2, §3, §6): the binary packets
// between the Gateway and BusinessWorkers or GatewayClients on the inner port,
// as a pure codec. Bytes in any split go into a PacketReader, whole packets
// come out; encodePacket writes one. Nothing here touches a socket or a timer.
//
// A packet is a 28-byte header, pack("NCNnNnNCnN"), then ext_data, then body:
//
//   0 pack_len u32 (all of it, header included)   17 connection_id u32
//   4 cmd u8                                      21 flag u8
//   5 local_ip u32, 9 local_port u16              22 gateway_port u16
//   11 client_ip u32, 15 client_port u16          24 ext_len u32
//
// Flag bit 0 (FLAG_BODY_IS_SCALAR) says the body is the raw string; clear, the
// body is PHP serialize() output (php-serialize.ts reads it). Bit 1
// (FLAG_NOT_CALL_ENCODE) asks the Gateway to write the body to the client
// socket as it is. The reader leaves bodies as bytes: isScalarBody/isRawSend.
//
// The reader refuses, with a GatewayProtocolError whose answer is always to
// destroy the inner connection (PHP destroys it for the first, and stalls or
// mis-decodes on the others, which it never sends: a documented deviation):
//   GW_ERR_PACKET_TOO_BIG   pack_len over maxPacketBytes (10 MiB as PHP; exactly 10 MiB passes)
//   GW_ERR_LENGTH_ZERO      pack_len 0
//   GW_ERR_PACKET_TOO_SHORT pack_len below 28
//   GW_ERR_EXT_TOO_LONG     ext_len over pack_len − 28
// All are decided on the header, before any of the packet's body is buffered.
//
// Query replies are not packets: uint32_be(length) then the payload (§2.7).
// Client ids are 20 lowercase hex digits: lan IPv4, lan port, connection id (§6).

export const HEAD_LEN = 28;
/** Workerman's TcpConnection::$defaultMaxPackageSize. */
export const DEFAULT_MAX_PACKET_BYTES = 10 * 1024 * 1024;

export const FLAG_BODY_IS_SCALAR = 0x01;
export const FLAG_NOT_CALL_ENCODE = 0x02;

// Gateway → BusinessWorker
export const CMD_ON_CONNECT = 1;
export const CMD_ON_MESSAGE = 3;
export const CMD_ON_CLOSE = 4;
export const CMD_PING = 201;
export const CMD_ON_WEBSOCKET_CONNECT = 205;
// BusinessWorker or GatewayClient → Gateway
export const CMD_SEND_TO_ONE = 5;
export const CMD_SEND_TO_ALL = 6;
export const CMD_KICK = 7;
export const CMD_DESTROY = 8;
export const CMD_UPDATE_SESSION = 9;
export const CMD_GET_ALL_CLIENT_SESSIONS = 10;
export const CMD_IS_ONLINE = 11;
export const CMD_BIND_UID = 12;
export const CMD_UNBIND_UID = 13;
export const CMD_SEND_TO_UID = 14;
export const CMD_GET_CLIENT_ID_BY_UID = 15;
export const CMD_BATCH_GET_CLIENT_ID_BY_UID = 16;
export const CMD_JOIN_GROUP = 20;
export const CMD_LEAVE_GROUP = 21;
export const CMD_SEND_TO_GROUP = 22;
export const CMD_GET_CLIENT_SESSIONS_BY_GROUP = 23;
export const CMD_GET_CLIENT_COUNT_BY_GROUP = 24;
export const CMD_SELECT = 25;
export const CMD_GET_GROUP_ID_LIST = 26;
export const CMD_UNGROUP = 27;
export const CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP = 28;
export const CMD_WORKER_CONNECT = 200;
export const CMD_GATEWAY_CLIENT_CONNECT = 202;
export const CMD_GET_SESSION_BY_CLIENT_ID = 203;
export const CMD_SET_SESSION = 204;

const COMMAND_NAMES: ReadonlyMap<number, string> = new Map([
  [CMD_ON_CONNECT, 'ON_CONNECT'],
  [CMD_ON_MESSAGE, 'ON_MESSAGE'],
  [CMD_ON_CLOSE, 'ON_CLOSE'],
  [CMD_SEND_TO_ONE, 'SEND_TO_ONE'],
  [CMD_SEND_TO_ALL, 'SEND_TO_ALL'],
  [CMD_KICK, 'KICK'],
  [CMD_DESTROY, 'DESTROY'],
  [CMD_UPDATE_SESSION, 'UPDATE_SESSION'],
  [CMD_GET_ALL_CLIENT_SESSIONS, 'GET_ALL_CLIENT_SESSIONS'],
  [CMD_IS_ONLINE, 'IS_ONLINE'],
  [CMD_BIND_UID, 'BIND_UID'],
  [CMD_UNBIND_UID, 'UNBIND_UID'],
  [CMD_SEND_TO_UID, 'SEND_TO_UID'],
  [CMD_GET_CLIENT_ID_BY_UID, 'GET_CLIENT_ID_BY_UID'],
  [CMD_BATCH_GET_CLIENT_ID_BY_UID, 'BATCH_GET_CLIENT_ID_BY_UID'],
  [CMD_JOIN_GROUP, 'JOIN_GROUP'],
  [CMD_LEAVE_GROUP, 'LEAVE_GROUP'],
  [CMD_SEND_TO_GROUP, 'SEND_TO_GROUP'],
  [CMD_GET_CLIENT_SESSIONS_BY_GROUP, 'GET_CLIENT_SESSIONS_BY_GROUP'],
  [CMD_GET_CLIENT_COUNT_BY_GROUP, 'GET_CLIENT_COUNT_BY_GROUP'],
  [CMD_SELECT, 'SELECT'],
  [CMD_GET_GROUP_ID_LIST, 'GET_GROUP_ID_LIST'],
  [CMD_UNGROUP, 'UNGROUP'],
  [CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP, 'BATCH_GET_CLIENT_COUNT_BY_GROUP'],
  [CMD_WORKER_CONNECT, 'WORKER_CONNECT'],
  [CMD_PING, 'PING'],
  [CMD_GATEWAY_CLIENT_CONNECT, 'GATEWAY_CLIENT_CONNECT'],
  [CMD_GET_SESSION_BY_CLIENT_ID, 'GET_SESSION_BY_CLIENT_ID'],
  [CMD_SET_SESSION, 'SET_SESSION'],
  [CMD_ON_WEBSOCKET_CONNECT, 'ON_WEBSOCKET_CONNECT'],
]);

/** The commands the Gateway answers with a query reply (§3). */
const QUERIES: ReadonlySet<number> = new Set([
  CMD_GET_ALL_CLIENT_SESSIONS,
  CMD_IS_ONLINE,
  CMD_GET_CLIENT_ID_BY_UID,
  CMD_BATCH_GET_CLIENT_ID_BY_UID,
  CMD_GET_CLIENT_SESSIONS_BY_GROUP,
  CMD_GET_CLIENT_COUNT_BY_GROUP,
  CMD_SELECT,
  CMD_GET_GROUP_ID_LIST,
  CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP,
  CMD_GET_SESSION_BY_CLIENT_ID,
]);

/** 'SEND_TO_ONE' for 5; undefined for a number no command has (2, 17–19, 29–199, 206–255). */
export function commandName(cmd: number): string | undefined {
  return COMMAND_NAMES.get(cmd);
}

/** Whether the Gateway writes a query reply for this command. */
export function isQueryCommand(cmd: number): boolean {
  return QUERIES.has(cmd);
}

export interface GatewayPacket {
  cmd: number;
  localIp: number;
  localPort: number;
  clientIp: number;
  clientPort: number;
  connectionId: number;
  flag: number;
  gatewayPort: number;
  /** A view into the pushed bytes (a copy when the packet spanned chunks): copy what outlives the call. */
  extData: Buffer;
  /** Raw bytes, or PHP serialize() output when flag bit 0 is clear. Same lifetime as extData. */
  body: Buffer;
}

/** A packet to encode: cmd, and any other field (0 or empty when left out). The flag is written as given. */
export type PacketInit = Partial<Omit<GatewayPacket, 'extData' | 'body'>> & { cmd: number; extData?: Uint8Array; body?: Uint8Array };

/** The body is the raw string (flag bit 0), not serialize() output. */
export function isScalarBody(packet: { flag: number }): boolean {
  return (packet.flag & FLAG_BODY_IS_SCALAR) !== 0;
}

/** The sender asks for the body to be written to the client socket unframed (flag bit 1; cmds 5, 6, 14, 22). */
export function isRawSend(packet: { flag: number }): boolean {
  return (packet.flag & FLAG_NOT_CALL_ENCODE) !== 0;
}

/** GatewayProtocol::encode. Throws RangeError for a field out of its range (a bug, not input). */
export function encodePacket(init: PacketInit): Buffer {
  const extData = init.extData ?? EMPTY;
  const body = init.body ?? EMPTY;
  const length = HEAD_LEN + extData.length + body.length;
  if (length > 0xffffffff) throw new RangeError(`a packet of ${length} bytes does not fit pack_len`);
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(length, 0);
  out.writeUInt8(init.cmd, 4);
  out.writeUInt32BE(init.localIp ?? 0, 5);
  out.writeUInt16BE(init.localPort ?? 0, 9);
  out.writeUInt32BE(init.clientIp ?? 0, 11);
  out.writeUInt16BE(init.clientPort ?? 0, 15);
  out.writeUInt32BE(init.connectionId ?? 0, 17);
  out.writeUInt8(init.flag ?? 0, 21);
  out.writeUInt16BE(init.gatewayPort ?? 0, 22);
  out.writeUInt32BE(extData.length, 24);
  out.set(extData, HEAD_LEN);
  out.set(body, HEAD_LEN + extData.length);
  return out;
}

const EMPTY = Buffer.alloc(0);

/** The header fields a Gateway stamps on every event of one client (spec §5.5). */
export interface ClientAddress {
  /** ip2long(lanIp) and the lan port: where BusinessWorkers reach this Gateway. */
  localIp: number;
  localPort: number;
  /** ipv4ToLong of the client's address (0 for IPv6) and its port. */
  clientIp: number;
  clientPort: number;
  connectionId: number;
  /** The port clients connect to. */
  gatewayPort: number;
}

export type ClientEventCommand = typeof CMD_ON_CONNECT | typeof CMD_ON_MESSAGE | typeof CMD_ON_CLOSE | typeof CMD_ON_WEBSOCKET_CONNECT;

/**
 * An event for a client's BusinessWorker, its session bytes as ext_data
 * (§2.5): ON_CONNECT and ON_CLOSE with an empty body, ON_MESSAGE with the
 * message, all three flagged scalar; ON_WEBSOCKET_CONNECT with its serialized
 * body (websocketConnectBody) and flag 0.
 */
export function encodeClientEvent(cmd: ClientEventCommand, client: ClientAddress, session: Uint8Array, body: Uint8Array = EMPTY): Buffer {
  const flag = cmd === CMD_ON_WEBSOCKET_CONNECT ? 0 : FLAG_BODY_IS_SCALAR;
  return encodePacket({ cmd, ...client, flag, extData: session, body });
}

/** CMD_PING as the Gateway sends it every 25 s: every header field 0, flag 1 (§2.8). */
export const PING_PACKET: Buffer = encodePacket({ cmd: CMD_PING, flag: FLAG_BODY_IS_SCALAR });

/** A query reply on the inner connection: uint32_be(payload length), then the payload (§2.7). */
export function encodeQueryReply(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

export type GatewayProtocolErrorCode = 'GW_ERR_PACKET_TOO_BIG' | 'GW_ERR_LENGTH_ZERO' | 'GW_ERR_PACKET_TOO_SHORT' | 'GW_ERR_EXT_TOO_LONG';

/** A packet the reader refuses. Its answer: destroy the inner connection. */
export class GatewayProtocolError extends Error {
  readonly code: GatewayProtocolErrorCode;
  /** Offset of the packet in the connection's byte stream. */
  readonly offset: number;
  readonly answer = 'destroy-connection' as const;
  constructor(code: GatewayProtocolErrorCode, offset: number, message: string) {
    super(`${message} (packet at byte ${offset})`);
    this.name = 'GatewayProtocolError';
    this.code = code;
    this.offset = offset;
  }
}

export interface PacketReaderOptions {
  /** Largest pack_len accepted. Default 10 MiB (DEFAULT_MAX_PACKET_BYTES). */
  maxPacketBytes?: number;
}

/**
 * One inner connection's packets, from bytes in any split. A packet within a
 * chunk is handed out as views; one spanning chunks is gathered into a buffer
 * of its announced size, allocated once its header passed the checks.
 */
export class PacketReader {
  /** Largest pack_len accepted from the next header on (a link may be trusted with more once authorized). */
  maxPacketBytes: number;
  private readonly header = Buffer.alloc(HEAD_LEN);
  private headerFilled = 0;
  /** The packet being gathered across chunks, once its header is known. */
  private packet: Buffer | undefined;
  private packetFilled = 0;
  /** Stream offset of the packet being read. */
  private offset = 0;
  private stopped = false;
  private failed: GatewayProtocolError | undefined;

  constructor(
    private readonly onPacket: (packet: GatewayPacket) => void,
    options: PacketReaderOptions = {},
  ) {
    this.maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  }

  /**
   * Feeds bytes; calls onPacket for each whole packet in order. Throws the
   * GatewayProtocolError of a refused packet, and again on every later push.
   * An exception from onPacket propagates and stops the reader.
   */
  push(chunk: Buffer): void {
    if (this.failed !== undefined) throw this.failed;
    let pos = 0;
    while (pos < chunk.length && !this.stopped) {
      if (this.packet !== undefined) {
        const n = Math.min(chunk.length - pos, this.packet.length - this.packetFilled);
        chunk.copy(this.packet, this.packetFilled, pos, pos + n);
        this.packetFilled += n;
        pos += n;
        if (this.packetFilled === this.packet.length) {
          const whole = this.packet;
          this.packet = undefined;
          this.deliver(whole, 0);
        }
        continue;
      }
      if (this.headerFilled === 0 && chunk.length - pos >= HEAD_LEN) {
        // The common case: a header within the chunk, read in place.
        const length = this.check(chunk, pos);
        if (chunk.length - pos >= length) {
          this.deliver(chunk, pos);
          pos += length;
        } else {
          this.startPacket(chunk.subarray(pos, pos + HEAD_LEN), length);
          pos += HEAD_LEN;
        }
        continue;
      }
      const n = Math.min(chunk.length - pos, HEAD_LEN - this.headerFilled);
      chunk.copy(this.header, this.headerFilled, pos, pos + n);
      this.headerFilled += n;
      pos += n;
      if (this.headerFilled === HEAD_LEN) {
        this.headerFilled = 0;
        const length = this.check(this.header, 0);
        if (length === HEAD_LEN) this.deliver(Buffer.from(this.header), 0);
        else this.startPacket(this.header, length);
      }
    }
  }

  /** Drops what is buffered and ignores every later push (e.g. after closing an unauthorized connection). */
  stop(): void {
    this.stopped = true;
    this.packet = undefined;
    this.headerFilled = 0;
  }

  /** Bytes held for a packet not yet whole. */
  get buffered(): number {
    return this.packet !== undefined ? this.packetFilled : this.headerFilled;
  }

  private startPacket(header: Buffer, length: number): void {
    this.packet = Buffer.allocUnsafe(length);
    header.copy(this.packet, 0, 0, HEAD_LEN);
    this.packetFilled = HEAD_LEN;
  }

  /** The checks on a header at bytes[at]; returns pack_len. */
  private check(bytes: Buffer, at: number): number {
    const length = bytes.readUInt32BE(at);
    const fail = (code: GatewayProtocolErrorCode, message: string): GatewayProtocolError => {
      this.failed = new GatewayProtocolError(code, this.offset, message);
      this.stop();
      return this.failed;
    };
    if (length > this.maxPacketBytes) throw fail('GW_ERR_PACKET_TOO_BIG', `pack_len ${length} over the ${this.maxPacketBytes}-byte limit`);
    if (length === 0) throw fail('GW_ERR_LENGTH_ZERO', 'pack_len 0');
    if (length < HEAD_LEN) throw fail('GW_ERR_PACKET_TOO_SHORT', `pack_len ${length} shorter than the ${HEAD_LEN}-byte header`);
    const extLength = bytes.readUInt32BE(at + 24);
    if (extLength > length - HEAD_LEN) throw fail('GW_ERR_EXT_TOO_LONG', `ext_len ${extLength} over the ${length - HEAD_LEN} bytes after the header`);
    return length;
  }

  /** Hands out the packet at bytes[at] (checked; whole). */
  private deliver(bytes: Buffer, at: number): void {
    const length = bytes.readUInt32BE(at);
    const extLength = bytes.readUInt32BE(at + 24);
    this.offset += length;
    const packet: GatewayPacket = {
      cmd: bytes[at + 4],
      localIp: bytes.readUInt32BE(at + 5),
      localPort: bytes.readUInt16BE(at + 9),
      clientIp: bytes.readUInt32BE(at + 11),
      clientPort: bytes.readUInt16BE(at + 15),
      connectionId: bytes.readUInt32BE(at + 17),
      flag: bytes[at + 21],
      gatewayPort: bytes.readUInt16BE(at + 22),
      extData: bytes.subarray(at + HEAD_LEN, at + HEAD_LEN + extLength),
      body: bytes.subarray(at + HEAD_LEN + extLength, at + length),
    };
    try {
      this.onPacket(packet);
    } catch (error) {
      // The rest of the chunk is lost with the handler's state: nothing more is read.
      this.stop();
      throw error;
    }
  }
}

/**
 * ip2long of an IPv4 address as GatewayWorker packs it; an IPv4-mapped IPv6
 * address ('::ffff:1.2.3.4', as node reports IPv4 peers on a dual-stack
 * socket) counts as its IPv4, anything else (IPv6, a name) is 0, as
 * `pack('N', false)` is in PHP (§6).
 */
export function ipv4ToLong(address: string): number {
  const m = /^(?:::ffff:)?((?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2}))$/i.exec(address);
  if (m === null) return 0;
  const parts = m[1].split('.').map(Number);
  if (parts.some((p) => p > 255)) return 0;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** long2ip. */
export function longToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/**
 * Context::addressToClientId: bin2hex(pack('NnN', lanIp, lanPort, connectionId)).
 * lanIp as a dotted quad or as its uint32. Throws RangeError for a field out of range.
 */
export function clientId(lanIp: string | number, lanPort: number, connectionId: number): string {
  const ip = typeof lanIp === 'number' ? lanIp : ipv4ToLong(lanIp);
  if (typeof lanIp === 'string' && ip === 0 && lanIp !== '0.0.0.0') throw new RangeError(`not an IPv4 address: ${lanIp}`);
  const out = Buffer.allocUnsafe(10);
  out.writeUInt32BE(ip, 0);
  out.writeUInt16BE(lanPort, 4);
  out.writeUInt32BE(connectionId, 6);
  return out.toString('hex');
}

export interface ClientAddressOfId {
  localIp: number;
  localPort: number;
  connectionId: number;
}

/** Context::clientIdToAddress: 20 hex digits (any case, as pack('H*') reads them); undefined for anything else. */
export function parseClientId(id: string): ClientAddressOfId | undefined {
  if (!/^[0-9a-fA-F]{20}$/.test(id)) return undefined;
  const bytes = Buffer.from(id, 'hex');
  return { localIp: bytes.readUInt32BE(0), localPort: bytes.readUInt16BE(4), connectionId: bytes.readUInt32BE(6) };
}
