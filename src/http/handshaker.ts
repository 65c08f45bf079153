// The opening handshake of every socket, from accept to the 101 or the
// refusal: read the head under the deadline (head-reader.ts), answer a side
// route, apply the RFC's rules and the server's (upgrade.ts, admission.ts),
// wait for the application's verifyRequest, then hand the socket on with
// whatever bytes followed the head. Every refusal is a HandshakeError from
// the catalogue, answered with its status; anything else thrown here is our
// bug and answered 500.
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { normalizeAddress, type Arrival } from '../io/arrival.js';
import type { Clock } from '../io/clock.js';
import { negotiateDeflate, type DeflateParams, type PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import type { Logger } from '../telemetry/log.js';
import { HandshakeError, handshakeErrors } from '../protocol/errors.js';
import type { Admission } from './admission.js';
import { acceptResponse, errorResponse } from './handshake.js';
import { ignoreSocketErrors, readHead, type HeadHandler } from './head-reader.js';
import { headFromParsed, parseRequestHead, type HeadLimits, type RequestHead } from './request-head.js';
import { sideRouteResponse, type SideRoutes } from './side-routes.js';
import { chooseSubprotocol, refusalOf, upgradeRequest, type Peer, type RequestVerdict, type RequestVerifier, type UpgradePolicy, type UpgradeRequest } from './upgrade.js';

export interface HandshakerOptions {
  headLimits: HeadLimits;
  /** The id the next connection gets (allocated before verifyRequest, which may tell a backend). */
  clientId: () => string;
  /** From TCP accept to the end of the head, in ms. */
  handshakeTimeout: number;
  /** How long a refused client has to read its answer before the socket is destroyed, in ms. */
  closeTimeout: number;
  policy: UpgradePolicy;
  sideRoutes: SideRoutes;
  verifyRequest: RequestVerifier | undefined;
  admission: Admission;
  /** permessage-deflate's settings when it is on: an acceptable offer is then accepted (RFC 7692 §5). */
  deflate: Required<PerMessageDeflateOptions> | undefined;
  clock: Clock;
  log: Logger;
}

/** What the handshaker hands on to the server. */
export interface HandshakeHost {
  /** Open connections, for the server-wide limit. */
  readonly openConnections: number;
  /** The server is shutting down: new sockets are destroyed. */
  readonly closing: boolean;
  /** The 101 has been written: the socket is a WebSocket now; `rest` holds its first frames; `deflate` what was agreed for compression. */
  upgraded(socket: net.Socket, request: UpgradeRequest, protocol: string, rest: Buffer, deflate: DeflateParams | undefined): void;
  /** A handshake was refused (already answered). */
  refused(error: HandshakeError, remoteAddress: string): void;
  /** A connection closed without sending a byte (a health check). */
  probe(): void;
}

export class Handshaker {
  /** Sockets whose head is being read. */
  private readonly pending = new Set<net.Socket>();
  private readonly forget = (socket: net.Socket): void => {
    this.pending.delete(socket);
    // Closed without a byte: a TCP health check (over TLS the listener sees those first).
    if (socket.bytesRead === 0) this.host.probe();
  };

  constructor(
    private readonly options: HandshakerOptions,
    private readonly host: HandshakeHost,
  ) {}

  /** A new socket (its TLS handshake done, if any): reads its head within the deadline. */
  accept(socket: net.Socket, secure: boolean, arrived: Arrival): void {
    if (this.host.closing) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    const peer: Peer = { address: arrived.address, port: arrived.port, secure };
    readHead(socket, arrived.at + this.options.handshakeTimeout, this.options.headLimits, this.options.clock, {
      onHead: (s, head, rest) => this.onHead(s, head, rest, peer),
      onRefuse: (s, error) => this.refuse(s, error, peer.address),
      onDone: this.forget,
    } satisfies HeadHandler);
  }

  /** Sockets still in their handshake are destroyed (shutdown). */
  destroyPending(): void {
    for (const socket of this.pending) socket.destroy();
  }

  /**
   * Takes over an upgrade request that node:http already parsed (its
   * 'upgrade' event): the same rules and limits as a socket of our own.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const tcp = socket as net.Socket;
    const address = normalizeAddress(tcp.remoteAddress);
    // node:http hands upgraded sockets over half-open-capable; a WebSocket has no use for that.
    tcp.allowHalfOpen = false;
    tcp.on('error', ignoreSocketErrors);
    if (tcp.setNoDelay !== undefined) tcp.setNoDelay(true);
    try {
      if (req.rawHeaders.length / 2 > this.options.headLimits.maxHeaderCount) throw handshakeErrors.headTooLarge('header count');
      const parsed = headFromParsed(req.method ?? '', req.url ?? '', req.httpVersion, req.rawHeaders);
      this.upgrade(tcp, parsed, head, { address, port: tcp.remotePort ?? 0, secure: (tcp as tls.TLSSocket).encrypted === true });
    } catch (error) {
      this.fail(tcp, error, address);
    }
  }

  private onHead(socket: net.Socket, head: Buffer, rest: Buffer, peer: Peer): void {
    try {
      this.upgrade(socket, parseRequestHead(head), rest, peer);
    } catch (error) {
      this.fail(socket, error, peer.address);
    }
  }

  /** Answers a side route, or applies the upgrade rules; throws a HandshakeError to refuse. */
  private upgrade(socket: net.Socket, head: RequestHead, rest: Buffer, peer: Peer): void {
    const page = sideRouteResponse(head, this.options.sideRoutes);
    if (page !== undefined) {
      if (typeof page === 'string') socket.end(page);
      else page.then((response) => socket.end(response), () => socket.destroy());
      return;
    }
    const { request, accept } = upgradeRequest(head, peer, this.options.policy, this.options.clientId());
    const verify = this.options.verifyRequest;
    const verdict = verify === undefined ? undefined : verify(request);
    if (verdict instanceof Promise) {
      // Hold incoming bytes in the socket while the application decides.
      socket.pause();
      verdict
        .then((v) => this.decide(socket, request, accept, rest, v))
        .catch((error: unknown) => this.fail(socket, error, peer.address));
      return;
    }
    this.decide(socket, request, accept, rest, verdict);
  }

  private decide(socket: net.Socket, request: UpgradeRequest, accept: string, rest: Buffer, verdict: RequestVerdict): void {
    if (socket.destroyed) return;
    const refusal = refusalOf(verdict);
    if (refusal !== undefined) return this.refuse(socket, refusal, request.remoteAddress);
    const protocol = chooseSubprotocol(request, this.options.policy);
    const full = this.options.admission.check(request.remoteAddress, this.host.openConnections);
    if (full !== undefined) return this.refuse(socket, full, request.remoteAddress);
    // A bad or unknown extension offer is declined, never refused (RFC 7692 §5: the next offer, or none).
    const deflate = this.options.deflate === undefined ? undefined : negotiateDeflate(request.headers['sec-websocket-extensions'], this.options.deflate);
    socket.write(acceptResponse(accept, protocol, deflate?.response));
    // The handshake's error listener goes before the Connection adds its own
    // (nothing is emitted in between: this is synchronous). The other order
    // grows a TLS socket's listener array (node:tls keeps one there) to room
    // for 40, which every idle connection would keep: ~150 bytes.
    socket.off('error', ignoreSocketErrors);
    this.host.upgraded(socket, request, protocol ?? '', rest, deflate?.params);
  }

  private refuse(socket: net.Socket, error: HandshakeError, remoteAddress: string): void {
    this.host.refused(error, remoteAddress);
    if (socket.destroyed) return;
    socket.end(errorResponse(error.status, error.message, error.headers));
    // A client that never reads the answer must not hold the socket.
    this.options.clock.setTimeout(() => socket.destroy(), this.options.closeTimeout).unref();
  }

  /** A HandshakeError is refused as it says; anything else is our bug: 500, logged. */
  private fail(socket: net.Socket, error: unknown, remoteAddress: string): void {
    if (error instanceof HandshakeError) return this.refuse(socket, error, remoteAddress);
    this.options.log.error(`handshake from ${remoteAddress} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    this.refuse(socket, handshakeErrors.internal(), remoteAddress);
  }
}
