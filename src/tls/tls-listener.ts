// The TLS listener: a node:tls server with the certificate store behind it
// (SNI, reload on SIGHUP or when the files change), the session-ticket keys
// (ticket-keys.ts: shared by workers and nodes, rotated the same way), the arrival of each TCP
// connection kept until its TLS handshake ends, and failed TLS handshakes
// classified, counted and logged once per peer and kind a minute (a client
// that used ws:// against the wss:// port is the common, harmless one: it is
// answered 400 in plain HTTP, telling it to use https:// or wss://).
import type net from 'node:net';
import tls from 'node:tls';
import { arrival, formatHost, normalizeAddress, type Arrival } from '../io/arrival.js';
import type { Clock } from '../io/clock.js';
import type { Logger } from '../telemetry/log.js';
import { CertificateError, CertificateStore, describePair, TLS_BASE, watchFiles, type PairSource } from './certificates.js';
import { classifyTlsClientError, RateLimiter } from './client-errors.js';
import { describeKeys, readTicketKeyFile, type TicketKeyRing } from './ticket-keys.js';
import { ConfigError } from '../config-error.js';
import { handshakeErrors } from '../protocol/errors.js';
import { errorResponse } from '../http/handshake.js';

export interface TlsListenerOptions {
  /** The default pair first, then the SNI pairs. */
  certificates: PairSource[];
  /** Node's limit on the TLS handshake alone, in ms. */
  handshakeTimeout: number;
  /** The session-ticket keys of every context of this listener. */
  ticketKeys: TicketKeyRing;
  /** Where they come from, when a file: reloaded with the certificates. */
  ticketKeysFile: string | undefined;
  clock: Clock;
  log: Logger;
  /** A TLS handshake completed: the socket and when it arrived. */
  onSecureSocket: (socket: tls.TLSSocket, arrived: Arrival) => void;
  /** A TLS handshake failed (after it was counted and logged). */
  onClientError: (kind: string, error: Error, address: string) => void;
  /** A TCP connection closed without sending a byte: a health check, counted, never logged. */
  onProbe: () => void;
}

/**
 * TLS sockets' arrivals, by raw TCP socket, from TCP accept until the TLS
 * handshake ends. A WeakMap, so a socket that vanishes takes its entry along.
 */
const arrivals = new WeakMap<net.Socket, Arrival>();

/** What a client that spoke plain HTTP to the TLS port reads, in plain HTTP. */
const PLAIN_HTTP_ANSWER = (() => {
  const refusal = handshakeErrors.plainHttpOnTls();
  return errorResponse(refusal.status, refusal.message, refusal.headers);
})();

/** The TCP socket under a TLS socket (node:tls keeps it as _parent). */
function rawSocket(socket: tls.TLSSocket): net.Socket | undefined {
  return (socket as tls.TLSSocket & { _parent?: net.Socket | null })._parent ?? undefined;
}

/** A TLS socket's arrival, forgotten as it is taken (the TLS handshake has ended). */
function takeArrival(socket: tls.TLSSocket): Arrival | undefined {
  const raw = rawSocket(socket);
  if (raw === undefined) return undefined;
  const arrived = arrivals.get(raw);
  arrivals.delete(raw);
  return arrived;
}

export class TlsListener {
  readonly server: tls.Server;
  readonly certificates: CertificateStore;
  /** Failed TLS handshakes by kind since start. */
  readonly clientErrors = new Map<string, number>();
  private readonly log: Logger;
  private readonly errorLog = new RateLimiter();
  private readonly onClientError: TlsListenerOptions['onClientError'];
  private readonly onProbe: () => void;
  private stopWatching: (() => void) | undefined;
  readonly ticketKeys: TicketKeyRing;
  private readonly ticketKeysFile: string | undefined;
  /** Node lacks the ticket-key callback: said once. */
  private singleKeyWarned = false;

  constructor(options: TlsListenerOptions) {
    const { clock } = options;
    this.log = options.log;
    this.onClientError = options.onClientError;
    this.onProbe = options.onProbe;
    this.ticketKeys = options.ticketKeys;
    this.ticketKeysFile = options.ticketKeysFile;
    const store = new CertificateStore(options.certificates);
    this.certificates = store;
    const pair = store.defaultPair;
    const server = tls.createServer({
      ...TLS_BASE,
      cert: pair.cert,
      key: pair.key,
      ALPNProtocols: ['http/1.1'],
      // No Nagle: set by net.Server on the TCP handle at accept, rather than
      // through the TLS socket's setNoDelay once its handshake is done.
      noDelay: true,
      handshakeTimeout: options.handshakeTimeout,
      // Only with several pairs: SNI then picks by server name (default pair otherwise).
      SNICallback: store.all.length > 1 ? (name, cb) => cb(null, store.contextFor(name)) : undefined,
    });
    // No 'error' listener on the raw socket: node:tls's own connection
    // listener (registered first) already forwards its errors to the TLS
    // socket, where they surface as tlsClientError or on the connection.
    // A second one would cost every idle connection an array.
    server.on('connection', (raw: net.Socket) => arrivals.set(raw, arrival(raw, clock)));
    server.on('secureConnection', (socket: tls.TLSSocket) => options.onSecureSocket(socket, takeArrival(socket) ?? arrival(socket, clock)));
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => this.clientError(error, socket));
    this.server = server;
    this.installTicketKeys();
  }

  /**
   * Once listening: in a worker of node:cluster, listen() has just handed the
   * server context the ticket key of the first worker that listened (the
   * primary keeps it, through net.Server's _getServerData/_setServerData),
   * which after a rotation is no longer the key in force. The ring's keys go
   * back on.
   */
  listening(): void {
    this.installTicketKeys();
  }

  /**
   * Every context that may encrypt or decrypt a ticket gets the ring: the
   * server's own, and each pair's (node:tls asks the context in force, which
   * SNI may have switched to a pair's).
   */
  private installTicketKeys(): void {
    const shared = (this.server as tls.Server & { _sharedCreds?: tls.SecureContext })._sharedCreds;
    let all = shared !== undefined && this.ticketKeys.install(shared);
    for (const pair of this.certificates.all) all = this.ticketKeys.install(pair.context) && all;
    if (!all && this.ticketKeys.current.length > 1 && !this.singleKeyWarned) {
      this.singleKeyWarned = true;
      this.log.warn(`this Node has no TLS ticket-key callback: only the first of the ${this.ticketKeys.current.length} ticket keys is used, tickets under the others make a full handshake`);
    }
  }

  /** Reloads file-backed certificates whenever their files change, until unwatch(). */
  watch(): void {
    const store = this.certificates;
    const files = this.ticketKeysFile === undefined ? store.files : [...store.files, this.ticketKeysFile];
    if (files.length > 0 && this.stopWatching === undefined) {
      this.stopWatching = watchFiles(files, () => {
        this.reload();
        this.reloadTicketKeys();
      });
    }
  }

  unwatch(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
  }

  /**
   * Loads the certificate files again. New handshakes get the new pair;
   * open connections are untouched. A bad new pair is refused with a log
   * line and the current one keeps serving.
   */
  reload(): 'reloaded' | 'unchanged' | 'refused' {
    const store = this.certificates;
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
    this.server.setSecureContext({ ...TLS_BASE, cert: pair.cert, key: pair.key });
    // New contexts: the same keys, so tickets issued before the reload still resume.
    this.installTicketKeys();
    this.log.info(`certificates reloaded: ${store.all.map(describePair).join('; ')}`);
    return outcome;
  }

  /**
   * Reads the ticket key file again (rotation). New tickets use its first
   * key, tickets under any of its keys resume; open connections are
   * untouched. A bad file is refused with a log line and the keys in force
   * stay.
   */
  reloadTicketKeys(): 'reloaded' | 'unchanged' | 'refused' {
    const file = this.ticketKeysFile;
    if (file === undefined) return 'unchanged';
    let keys;
    try {
      keys = readTicketKeyFile(file);
    } catch (error) {
      const reason = error instanceof ConfigError ? error.message : String(error);
      this.log.error(`TLS ticket key reload refused: ${reason}; still using ${describeKeys(this.ticketKeys.current)}`);
      return 'refused';
    }
    if (this.ticketKeys.same(keys)) return 'unchanged';
    this.ticketKeys.replace(keys);
    // The callback reads the ring at each ticket; without it, the contexts hold a copy of the first key.
    this.installTicketKeys();
    this.log.info(`TLS ticket keys reloaded from ${file}: ${describeKeys(keys)}`);
    return 'reloaded';
  }

  private clientError(error: Error & { code?: string }, socket: tls.TLSSocket): void {
    const { kind, explanation } = classifyTlsClientError(error);
    // Connect, then close without a byte: what HAProxy, AWS NLB and Kubernetes
    // TCP probes do every few seconds. Counted, never logged, not an error.
    if (kind === 'reset' && rawSocket(socket)?.bytesRead === 0) {
      takeArrival(socket);
      socket.destroy();
      this.onProbe();
      return;
    }
    this.clientErrors.set(kind, (this.clientErrors.get(kind) ?? 0) + 1);
    const arrived = takeArrival(socket);
    const address = arrived?.address || normalizeAddress(socket.remoteAddress) || 'unknown';
    const port = arrived?.port || socket.remotePort;
    // Node reports a handshake timeout here but leaves the socket open: end it.
    if (kind === 'http_request') this.answerPlainHttp(socket);
    else socket.destroy();
    this.onClientError(kind, error, address);
    const suppressed = this.errorLog.take(`${kind} ${address}`);
    if (suppressed < 0) return;
    const peer = `${formatHost(address)}:${port ?? '?'}`;
    const held = suppressed > 0 ? ` (${suppressed} more from this address in the last minute not logged)` : '';
    if (kind === 'http_request') {
      this.log.warn(`plain HTTP request on the TLS port from ${peer} (OpenSSL "http request"): ${explanation}${held}`);
    } else {
      this.log.warn(`TLS handshake failed from ${peer}: ${explanation} [${kind}]${held}`);
    }
  }

  /**
   * OpenSSL gave up on a client that sent plain HTTP, but the TCP socket
   * under the TLS one still works: the client is told, in plain HTTP, to use
   * https:// or wss://. Only on this error: the TLS path pays nothing for it.
   * node:tls has already destroyed the TLS socket, which closes the TCP one
   * right after this event, so no timer is needed to end it; the answer is
   * small enough to leave in one write on a fresh socket (the kernel takes it
   * at once), and goes out before the FIN.
   */
  private answerPlainHttp(socket: tls.TLSSocket): void {
    const raw = rawSocket(socket);
    if (raw !== undefined && !raw.destroyed) raw.end(PLAIN_HTTP_ANSWER);
    socket.destroy();
  }
}
