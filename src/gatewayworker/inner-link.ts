// One TCP connection on the LAN port: a BusinessWorker's long-lived link or
// a GatewayClient's (or a Lib query socket's). It reads GatewayProtocol
// packets (PacketReader, bounded), holds the connection's authorization
// (spec §3.0), writes query replies in the order the queries came, and
// corks what it writes within one tick so a burst of events leaves in one
// write. What a packet means is the role's (gateway-role.ts, commands.ts).
import type { Socket } from 'node:net';
import { encodeQueryReply, GatewayProtocolError, PacketReader, type GatewayPacket } from './gateway-protocol.js';

export interface InnerLinkHost {
  packet(link: InnerLink, packet: GatewayPacket): void;
  /** The connection is gone (either side closed it, or it failed). */
  closed(link: InnerLink): void;
  /** Its bytes were not GatewayProtocol: it is being destroyed. */
  malformed(link: InnerLink, error: GatewayProtocolError): void;
}

export class InnerLink {
  /** Authorized to send commands: at once without a secret, else after a WORKER_CONNECT or GATEWAY_CLIENT_CONNECT with it. */
  authorized: boolean;
  /** Set once it is a BusinessWorker's link: `remoteIp:worker_key` (what GatewayWorker keys workers by). */
  workerKey: string | undefined;
  readonly remoteIp: string;
  private readonly reader: PacketReader;
  private corked = false;
  private gone = false;

  constructor(
    readonly socket: Socket,
    private readonly host: InnerLinkHost,
    options: { authorized: boolean; maxPacket: number },
  ) {
    this.authorized = options.authorized;
    this.remoteIp = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.reader = new PacketReader((packet) => host.packet(this, packet), { maxPacketBytes: options.maxPacket });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // Workerman does not time links out either; TCP keepalive finds a peer that vanished.
    socket.setKeepAlive(true, 55_000);
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.gone) return;
      this.gone = true;
      this.reader.stop();
      host.closed(this);
    });
  }

  private receive(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof GatewayProtocolError)) throw error;
      this.host.malformed(this, error);
      this.destroy();
    }
  }

  /** A BusinessWorker's link may carry larger packets than a link not yet authorized. */
  setMaxPacket(bytes: number): void {
    this.reader.maxPacketBytes = bytes;
  }

  /** Bytes waiting to be written to it. */
  get buffered(): number {
    return this.socket.writableLength;
  }

  get closed(): boolean {
    return this.gone || this.socket.destroyed;
  }

  write(bytes: Buffer): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  /** A query's answer: its length, then the serialized value (§2.7). */
  reply(payload: Buffer): void {
    this.write(encodeQueryReply(payload));
  }

  /** Closes after what is written is flushed; what it sends from now on is ignored (PHP's close()). */
  close(): void {
    this.reader.stop();
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.reader.stop();
    this.socket.destroy();
  }
}
