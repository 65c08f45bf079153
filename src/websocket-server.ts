// The listeners and the per-socket wiring: accept (TLS or plain), read the
// HTTP head under its limits and deadline, answer it, and hand the socket to
// a Connection. Also the TLS client-error log and graceful shutdown.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { Connection, type ConnectionOptions, type UpgradeRequest } from './connection.js';
import { resolveOptions, type RequestVerdict, type ResolvedOptions, type ServerOptions } from './config.js';
import { HandshakeError } from './http/handshake-error.js';
import { acceptResponse, errorResponse, evaluateUpgrade, selectSubprotocol } from './http/handshake.js';
import { clientAddress } from './http/real-ip.js';
import { demoPage, htmlResponse } from './http/demo-page.js';
import { headFromParsed, parseRequestHead, RequestHeadReader, type HeadLimits, type RequestHead } from './http/request-head.js';
import { ServerStats, snapshot } from './stats.js';
import { createLogger, silentLogger, type Logger } from './log.js';
import { CloseCode } from './protocol/constants.js';
import { CertificateError, CertificateStore, describePair, TLS_BASE, watchFiles } from './tls/certificates.js';
import { classifyTlsClientError, RateLimiter } from './tls/client-errors.js';

export interface ServerEvents {
  connection: [connection: Connection, request: UpgradeRequest];
  /** A handshake was refused with an HTTP status. */
  refused: [status: number, reason: string, remoteAddress: string];
  /** A TLS handshake failed; `kind` is its class ('http_request', …). */
  tlsClientError: [kind: string, error: Error, remoteAddress: string];
  error: [error: Error];
}

export interface ListenAddress {
  host: string;
  port: number;
  url: string;
}

/**
 * A listener that swallows socket errors during the handshake (the 'close'
 * that follows does the cleanup). Module-level on purpose: a closure made in
 * accept() would share its context with the handshake's reader and timer and
 * keep them alive for the connection's whole life.
 */
function ignore(): void {}

/** Monotonic milliseconds: deadlines must not jump with the wall clock. */
const now = (): number => performance.now();

/** When and from where a TCP connection arrived. */
interface Arrival {
  at: number;
  address: string;
  port: number;
}

function arrival(socket: net.Socket): Arrival {
  return { at: now(), address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
}

/**
 * TLS sockets' arrivals, by raw TCP socket, from TCP accept until the TLS
 * handshake ends: the handshake deadline counts the TLS handshake too, and a
 * TLS failure after the peer reset the connection can still name the peer
 * (the socket no longer knows it then).
 */
const arrivals = new WeakMap<net.Socket, Arrival>();

/** A TLS socket's arrival, forgotten as it is taken (the TLS handshake has ended). */
function takeArrival(socket: tls.TLSSocket): Arrival | undefined {
  const raw = (socket as tls.TLSSocket & { _parent?: net.Socket | null })._parent;
  if (raw === undefined || raw === null) return undefined;
  const arrived = arrivals.get(raw);
  arrivals.delete(raw);
  return arrived;
}

export class WebSocketServer extends EventEmitter<ServerEvents> {
  readonly options: ResolvedOptions;
  /** Open WebSocket connections. */
  readonly connections = new Set<Connection>();
  /** TLS client errors by kind since start. */
  readonly tlsClientErrors = new Map<string, number>();
  /** Counters behind GET /stats. */
  readonly stats = new ServerStats();
  private statsServer: http.Server | undefined;
  /** One function for every connection (no closure per connection): forget it when it is gone. */
  private readonly connectionGone = (connection: Connection): void => {
    this.connections.delete(connection);
    const n = (this.perIp.get(connection.remoteAddress) ?? 1) - 1;
    if (n > 0) this.perIp.set(connection.remoteAddress, n);
    else this.perIp.delete(connection.remoteAddress);
  };
  /** The TCP/TLS listener; undefined for attach() / noServer, where node:http accepts. */
  private readonly listener: net.Server | undefined;
  private readonly pending = new Set<net.Socket>();
  private readonly log: Logger;
  private readonly tlsErrorLog = new RateLimiter();
  private readonly headLimits: HeadLimits;
  private readonly connectionOptions: ConnectionOptions;
  private closing = false;
  private listenPending = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** The TLS certificates (undefined in plain mode). */
  readonly certificates: CertificateStore | undefined;
  private stopWatching: (() => void) | undefined;
  /** Open connections per client address, for maxConnectionsPerIp. */
  private readonly perIp = new Map<string, number>();

  constructor(options: ServerOptions) {
    super();
    this.options = resolveOptions(options);
    const o = this.options;
    this.log = o.logger === false ? silentLogger : (o.logger ?? createLogger());
    // One options object shared by every Connection.
    this.connectionOptions = {
      maxMessageSize: o.maxPayload,
      maxFragments: o.maxFragments,
      highWaterMark: o.highWaterMark,
      maxBuffered: o.maxBuffered,
      bufferPolicy: o.bufferPolicy,
      idleTimeout: o.idleTimeout,
      pingTimeout: o.pingTimeout,
      closeTimeout: o.closeTimeout,
      stats: this.stats,
      onGone: this.connectionGone,
      reportHandlerError: (error, c) => this.log.error(`handler error on a connection from ${c.remoteAddress} (closed with 1011): ${describe(error)}`),
    };
    this.headLimits = { maxHeadBytes: o.maxHeadBytes, maxHeaderCount: o.maxHeaderCount, maxLineBytes: o.maxLineBytes };
    if (o.noServer) {
      this.listener = undefined;
    } else if (o.plain) {
      this.listener = net.createServer({ noDelay: true }, (socket) => this.accept(socket, false, arrival(socket)));
    } else {
      const store = new CertificateStore(o.certificates);
      this.certificates = store;
      const pair = store.defaultPair;
      const server = tls.createServer({
        ...TLS_BASE,
        cert: pair.cert,
        key: pair.key,
        ALPNProtocols: ['http/1.1'],
        handshakeTimeout: o.handshakeTimeout,
        // Only with several pairs: SNI then picks by server name (default pair otherwise).
        SNICallback: store.all.length > 1 ? (name, cb) => cb(null, store.contextFor(name)) : undefined,
      });
      // No 'error' listener on the raw socket: node:tls's own connection
      // listener (registered first) already forwards its errors to the TLS
      // socket, where they surface as tlsClientError or on the connection.
      // A second one would cost every idle connection an array.
      server.on('connection', (raw: net.Socket) => arrivals.set(raw, arrival(raw)));
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        socket.setNoDelay(true);
        this.accept(socket, true, takeArrival(socket) ?? arrival(socket));
      });
      server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => this.onTlsClientError(error, socket));
      this.listener = server;
    }
    if (o.pingInterval > 0) this.scheduleHeartbeat(o.pingInterval);
    // Errors while listen() is pending reject its promise; later ones are
    // events (logged when nobody listens, rather than thrown).
    this.listener?.on('error', (error) => {
      if (this.listenPending) return;
      if (this.listenerCount('error') > 0) this.emit('error', error);
      else this.log.error(`server error: ${error.message}`);
    });
  }

  /**
   * Heartbeats for every connection on one timer: ping all, then after
   * pingTimeout terminate those that sent nothing back, then wait out the
   * rest of the interval. A connection costs no timer of its own.
   */
  private scheduleHeartbeat(delay: number): void {
    const { pingInterval, pingTimeout } = this.options;
    this.heartbeatTimer = setTimeout(() => {
      for (const c of this.connections) c.heartbeatPing();
      this.heartbeatTimer = setTimeout(() => {
        for (const c of this.connections) c.heartbeatCheck();
        this.scheduleHeartbeat(Math.max(1, pingInterval - pingTimeout));
      }, pingTimeout);
      this.heartbeatTimer.unref();
    }, delay);
    this.heartbeatTimer.unref();
  }

  /**
   * Loads the certificate files again (SIGHUP, or their files changed). New
   * handshakes get the new pair; open connections are untouched. A bad new
   * pair is refused with a log line and the current one keeps serving.
   */
  reloadCertificates(): 'reloaded' | 'unchanged' | 'refused' {
    const store = this.certificates;
    if (store === undefined) return 'unchanged';
    let outcome: 'unchanged' | 'reloaded';
    try {
      outcome = store.reload();
    } catch (error) {
      const reason = error instanceof CertificateError ? error.message : String(error);
      this.log.error(`certificate reload refused: ${reason}; still serving ${describePair(store.defaultPair)}`);
      return 'refused';
    }
    if (outcome === 'unchanged') return outcome;
    const pair = store.defaultPair;
    (this.listener as tls.Server | undefined)?.setSecureContext({ ...TLS_BASE, cert: pair.cert, key: pair.key });
    this.log.info(`certificates reloaded: ${store.all.map(describePair).join('; ')}`);
    return outcome;
  }

  listen(): Promise<ListenAddress> {
    const store = this.certificates;
    if (store !== undefined && this.options.watchCertificates && store.files.length > 0 && this.stopWatching === undefined) {
      this.stopWatching = watchFiles(store.files, () => this.reloadCertificates());
    }
    const o = this.options;
    if (o.statsPort !== undefined && this.statsServer === undefined) {
      const statsServer = http.createServer((req, res) => {
        if (req.url !== '/stats') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('only /stats here\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(this.statsJson());
      });
      statsServer.on('error', (error) => this.log.error(`stats server: ${error.message}`));
      statsServer.listen(o.statsPort, o.statsHost);
      this.statsServer = statsServer;
    }
    const listener = this.listener;
    if (listener === undefined) return Promise.reject(new Error('this server has no listener (noServer / attach): the HTTP server listens'));
    return new Promise((resolve, reject) => {
      this.listenPending = true;
      const onError = (error: Error): void => {
        this.listenPending = false;
        reject(error);
      };
      listener.once('error', onError);
      listener.listen(this.options.port, this.options.host, () => {
        this.listenPending = false;
        listener.off('error', onError);
        resolve(this.address());
      });
    });
  }

  address(): ListenAddress {
    const a = this.listener?.address() ?? null;
    if (a === null || typeof a === 'string') throw new Error('server is not listening');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    const scheme = this.options.plain ? 'ws' : 'wss';
    return { host: a.address, port: a.port, url: `${scheme}://${host}:${a.port}/` };
  }

  /**
   * Stops accepting, sends every connection a Close with `code` (1001 "going
   * away" by default), and resolves once all are closed or `timeout` ms
   * passed, after which the rest are destroyed.
   */
  async close(code: number = CloseCode.GoingAway, reason = 'server shutting down', timeout = this.options.closeTimeout): Promise<void> {
    this.closing = true;
    clearTimeout(this.heartbeatTimer);
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.statsServer?.close();
    this.statsServer?.closeAllConnections();
    const listener = this.listener;
    const stopped = new Promise<void>((resolve) => (listener === undefined ? resolve() : listener.close(() => resolve())));
    for (const socket of this.pending) socket.destroy();
    const closed: Promise<void>[] = [];
    for (const connection of this.connections) {
      closed.push(new Promise((resolve) => connection.once('close', () => resolve())));
      connection.close(code, reason);
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
    });
    await Promise.race([Promise.all(closed), deadline]);
    clearTimeout(timer);
    for (const connection of this.connections) connection.terminate();
    await stopped;
  }

  private onTlsClientError(error: Error & { code?: string }, socket: tls.TLSSocket): void {
    const { kind, explanation } = classifyTlsClientError(error);
    this.tlsClientErrors.set(kind, (this.tlsClientErrors.get(kind) ?? 0) + 1);
    const arrived = takeArrival(socket);
    const address = arrived?.address || normalizeAddress(socket.remoteAddress) || 'unknown';
    const port = arrived?.port || socket.remotePort;
    // Node reports a handshake timeout here but leaves the socket open: end it.
    socket.destroy();
    this.emit('tlsClientError', kind, error, address);
    const suppressed = this.tlsErrorLog.take(`${kind} ${address}`);
    if (suppressed < 0) return;
    const peer = `${formatHost(address)}:${port ?? '?'}`;
    const held = suppressed > 0 ? ` (${suppressed} more from this address in the last minute not logged)` : '';
    if (kind === 'http_request') {
      this.log.warn(`plain HTTP request on the TLS port from ${peer} (OpenSSL "http request"): ${explanation}${held}`);
    } else {
      this.log.warn(`TLS handshake failed from ${peer}: ${explanation} [${kind}]${held}`);
    }
  }

  /** Reads the HTTP head of a new socket, within the handshake deadline. */
  private accept(socket: net.Socket, secure: boolean, arrived: Arrival): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const { address: remoteAddress, port: remotePort } = arrived;
    const reader = new RequestHeadReader(this.headLimits);
    this.pending.add(socket);
    const timer = setTimeout(() => {
      // Stop reading first: a head that completes after the 408 must not be upgraded.
      done();
      this.refuse(socket, new HandshakeError(408, 'handshake not completed in time'), remoteAddress);
    }, Math.max(0, arrived.at + this.options.handshakeTimeout - now()));
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      this.pending.delete(socket);
    };
    const onClose = (): void => done();
    const onData = (chunk: Buffer): void => {
      let complete: boolean;
      try {
        complete = reader.push(chunk);
      } catch (error) {
        done();
        if (error instanceof HandshakeError) this.refuse(socket, error, remoteAddress);
        else socket.destroy();
        return;
      }
      if (!complete) return;
      done();
      this.upgrade(socket, secure, reader.head ?? Buffer.alloc(0), reader.rest ?? Buffer.alloc(0), remoteAddress, remotePort);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    // Until the head is read, a socket error just ends it; a Connection takes over errors later.
    socket.on('error', ignore);
  }

  private upgrade(socket: net.Socket, secure: boolean, head: Buffer, rest: Buffer, remoteAddress: string, remotePort: number): void {
    try {
      this.upgradeHead(socket, secure, parseRequestHead(head), rest, remoteAddress, remotePort);
    } catch (error) {
      if (error instanceof HandshakeError) this.refuse(socket, error, remoteAddress);
      else this.failHandshake(socket, error, remoteAddress);
    }
  }

  /**
   * Takes over an upgrade request that node:http already parsed: the
   * 'upgrade' event of an http/https server (see attach()). The same rules,
   * limits and Connection as the standalone server.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const tcp = socket as net.Socket;
    const remoteAddress = normalizeAddress(tcp.remoteAddress);
    const secure = (tcp as tls.TLSSocket).encrypted === true;
    // node:http hands upgraded sockets over half-open-capable; a WebSocket has no use for that.
    tcp.allowHalfOpen = false;
    tcp.on('error', ignore);
    if (tcp.setNoDelay !== undefined) tcp.setNoDelay(true);
    try {
      if (req.rawHeaders.length / 2 > this.options.maxHeaderCount) throw new HandshakeError(431, 'header count too large');
      const parsed = headFromParsed(req.method ?? '', req.url ?? '', req.httpVersion, req.rawHeaders);
      this.upgradeHead(tcp, secure, parsed, head, remoteAddress, tcp.remotePort ?? 0);
    } catch (error) {
      if (error instanceof HandshakeError) this.refuse(tcp, error, remoteAddress);
      else this.failHandshake(tcp, error, remoteAddress);
    }
  }

  /** Applies the handshake rules to a parsed head; throws a HandshakeError to refuse. */
  private upgradeHead(socket: net.Socket, secure: boolean, parsed: RequestHead, rest: Buffer, remoteAddress: string, remotePort: number): void {
    const page = this.plainResponse(parsed);
    if (page !== undefined) {
      socket.end(page);
      return;
    }
    const decision = evaluateUpgrade(parsed, { paths: this.options.paths });
    const client = clientAddress(remoteAddress, parsed.headers, this.options.trustProxy);
    const request: UpgradeRequest = { ...parsed, remoteAddress: client, remotePort, peerAddress: remoteAddress, protocols: decision.offeredProtocols, secure };
    const verify = this.options.verifyRequest;
    const verdict = verify === undefined ? undefined : verify(request);
    if (verdict instanceof Promise) {
      // Hold incoming bytes in the socket while the application decides.
      socket.pause();
      verdict
        .then((v) => this.decide(socket, request, decision.accept, rest, v))
        .catch((error: unknown) => this.failHandshake(socket, error, remoteAddress));
      return;
    }
    this.decide(socket, request, decision.accept, rest, verdict);
  }

  private decide(socket: net.Socket, request: UpgradeRequest, accept: string, rest: Buffer, verdict: RequestVerdict): void {
    if (socket.destroyed) return;
    if (verdict === false) {
      return this.refuse(socket, new HandshakeError(403, 'request refused by the server'), request.remoteAddress);
    }
    if (typeof verdict === 'object' && verdict !== null) {
      return this.refuse(socket, new HandshakeError(verdict.status, verdict.reason ?? 'request refused by the server', verdict.headers), request.remoteAddress);
    }
    const o = this.options;
    const protocol =
      o.selectSubprotocol !== undefined
        ? o.selectSubprotocol(request.protocols, request)
        : selectSubprotocol(request.protocols, o.subprotocols);
    if (protocol !== undefined && !request.protocols.includes(protocol)) {
      throw new Error(`selectSubprotocol chose ${protocol}, which the client did not offer`);
    }
    if (this.connections.size >= o.maxConnections) {
      return this.refuse(socket, new HandshakeError(503, 'server at its connection limit, try again later', { 'Retry-After': '10' }), request.remoteAddress);
    }
    const fromIp = this.perIp.get(request.remoteAddress) ?? 0;
    if (o.maxConnectionsPerIp > 0 && fromIp >= o.maxConnectionsPerIp) {
      return this.refuse(socket, new HandshakeError(429, 'too many connections from this address', { 'Retry-After': '10' }), request.remoteAddress);
    }
    socket.write(acceptResponse(accept, protocol));
    // The handshake's error listener goes before the Connection adds its own
    // (nothing is emitted in between: this is synchronous). The other order
    // grows a TLS socket's listener array (node:tls keeps one there) to room
    // for 40, which every idle connection would keep: ~150 bytes.
    socket.off('error', ignore);
    const connection = new Connection(socket, request, protocol ?? '', this.connectionOptions);
    this.stats.handshakesAccepted++;
    this.connections.add(connection);
    this.perIp.set(request.remoteAddress, fromIp + 1);
    if (socket.isPaused()) socket.resume();
    try {
      this.emit('connection', connection, request);
    } catch (error) {
      this.log.error(`connection handler threw: ${describe(error)}`);
      connection.terminate();
      return;
    }
    if (this.closing) connection.close(CloseCode.GoingAway, 'server shutting down');
    // Bytes that came with the head belong to the first frames.
    if (rest.length > 0) connection.receive(rest);
  }

  /** A plain GET (no Upgrade) for the demo page or /stats, or undefined to go on with the handshake rules. */
  private plainResponse(head: RequestHead): string | undefined {
    // HTTP/1.0 too: a proxy in front may speak it for plain requests (nginx's default).
    if (head.method !== 'GET' || (head.httpVersion !== 'HTTP/1.1' && head.httpVersion !== 'HTTP/1.0') || head.headers.upgrade !== undefined) return undefined;
    if (head.path === '/stats' && this.options.stats) return htmlResponse(200, this.statsJson(), 'application/json');
    if (head.path === '/' && this.options.demoPage) return htmlResponse(200, demoPage(this.options.paths?.[0] ?? '/'));
    return undefined;
  }

  statsJson(): string {
    return JSON.stringify(snapshot(this.stats, this.connections.size, this.tlsClientErrors)) + '\n';
  }

  private refuse(socket: net.Socket, error: HandshakeError, remoteAddress: string): void {
    this.stats.refusedWith(error.status);
    this.emit('refused', error.status, error.message, remoteAddress);
    if (socket.destroyed) return;
    socket.end(errorResponse(error.status, error.message, error.headers));
    // A client that never reads the answer must not hold the socket.
    setTimeout(() => socket.destroy(), this.options.closeTimeout).unref();
  }

  private failHandshake(socket: net.Socket, error: unknown, remoteAddress: string): void {
    this.log.error(`handshake from ${remoteAddress} failed: ${describe(error)}`);
    this.refuse(socket, new HandshakeError(500, 'internal error'), remoteAddress);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** "::ffff:192.0.2.1" (an IPv4 peer on a dual-stack socket) → "192.0.2.1", as operators expect. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function createServer(options: ServerOptions): WebSocketServer {
  return new WebSocketServer(options);
}

/**
 * Adds WebSocket to an existing node:http or node:https server: wssd takes
 * its 'upgrade' events (on the paths in `options.path`, or all), so one port
 * serves both. TLS, if any, is the http server's; `listen()` is its too.
 */
export function attach(httpServer: http.Server, options: Omit<ServerOptions, 'cert' | 'key' | 'certFile' | 'keyFile' | 'plain' | 'noServer'> = {}): WebSocketServer {
  const wss = new WebSocketServer({ ...options, noServer: true });
  httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head));
  // node:http emits 'close' only after every socket is gone, upgraded ones
  // included, so waiting for it would wait for the WebSocket clients to leave
  // on their own. Closing the http server starts their closing handshake (1001).
  const close = httpServer.close.bind(httpServer);
  httpServer.close = ((callback?: (error?: Error) => void) => {
    void wss.close();
    return close(callback);
  }) as typeof httpServer.close;
  return wss;
}
