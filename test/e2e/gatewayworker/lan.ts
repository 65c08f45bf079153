// GatewayProtocol on a Gateway's LAN port, written by the tests themselves
// (spec §2, §3) rather than taken from src/: a packet built byte by byte, a
// bare TCP socket (a hostile or broken peer), a GatewayClient-style query
// read back byte for byte. Kept apart from support.ts (the processes and the
// Gateways), which re-exports it: what these check is the wire.
import net from 'node:net';
import { describeMs, scaled } from '../../helpers/timeouts.js';
import { later } from '../php-support.js';

/** GatewayProtocol command numbers the tests write themselves (spec §3). */
export const CMD = { SEND_TO_ONE: 5, SEND_TO_ALL: 6, WORKER_CONNECT: 200, GATEWAY_CLIENT_CONNECT: 202, GET_SESSION_BY_CLIENT_ID: 203 } as const;

/**
 * One GatewayProtocol packet (spec §2.1), written out here rather than taken
 * from src/: the 28-byte header (every address field 0, as BusinessWorkers
 * and GatewayClient send them), ext_data, the body (raw: flag 1 by default).
 */
export function gatewayPacket(cmd: number, body: Buffer | string, options: { connectionId?: number; flag?: number; extData?: Buffer | string; announce?: number } = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const ext = typeof options.extData === 'string' ? Buffer.from(options.extData, 'utf8') : (options.extData ?? Buffer.alloc(0));
  const header = Buffer.alloc(28);
  header.writeUInt32BE(options.announce ?? 28 + ext.length + bytes.length, 0);
  header.writeUInt8(cmd, 4);
  header.writeUInt32BE(options.connectionId ?? 0, 17);
  header.writeUInt8(options.flag ?? 1, 21);
  header.writeUInt32BE(ext.length, 24);
  return Buffer.concat([header, ext, bytes]);
}

/** A connected-only TCP socket to a LAN port (a hostile or broken peer); destroyed in stopAll(). */
export function lanSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    later(() => void socket.destroy());
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to 127.0.0.1:${port} timed out`));
    }, scaled(5000));
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * One query on a LAN port, as GatewayClient makes it (its own connection,
 * the key first when there is one): the reply's payload, after its 4-byte
 * length (spec §2.7). Shows what a Gateway holds byte for byte, where the
 * PHP side would unserialize it.
 */
export async function lanQuery(port: number, packet: Buffer, secret = ''): Promise<Buffer> {
  const socket = await lanSocket(port);
  if (secret !== '') socket.write(gatewayPacket(CMD.GATEWAY_CLIENT_CONNECT, JSON.stringify({ secret_key: secret })));
  socket.write(packet);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to a query on 127.0.0.1:${port} within ${describeMs(5000)} (${received.length} bytes)`));
    }, scaled(5000));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4 && received.length >= 4 + received.readUInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.subarray(4, 4 + received.readUInt32BE(0)));
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`the query's connection to 127.0.0.1:${port} closed after ${received.length} bytes`));
    });
  });
}

/** Resolves once `socket` is closed (by the peer); rejects after timeoutMs. */
export function socketClosed(socket: net.Socket, timeoutMs = 5000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the LAN connection is still open after ${describeMs(timeoutMs)}`)), scaled(timeoutMs));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}
