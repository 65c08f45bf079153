// The server: wiring and lifecycle. A listener (plain TCP, or TLS from tls/)
// accepts a socket; the Handshaker (http/) reads its head under the deadline
// and decides the upgrade; the socket then becomes a Connection, counted and
// announced here. Also listen, close (graceful shutdown) and the heartbeat;
// attach.ts puts the same server inside an existing node:http one.
import type { Duplex } from 'node:stream';
import type http from 'node:http';
import net from 'node:net';
import { Connection, type ConnectionOptions } from './connection.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from '../options/server-options.js';
import { Admission } from '../http/admission.js';
import { Handshaker, type HandshakeHost } from '../http/handshaker.js';
import { startStatsServer, type SideRoutes } from '../http/side-routes.js';
import type { UpgradeRequest } from '../http/upgrade.js';
import { arrival } from '../io/arrival.js';
import { systemClock, type Clock } from '../io/clock.js';
import { Heartbeat } from '../io/heartbeat.js';
import { brokerFromOptions } from '../pubsub/broker-from-options.js';
import { DeflateContexts } from '../extensions/deflate-contexts.js';
import type { DeflateParams } from '../extensions/permessage-deflate.js';
import { PubSub } from '../pubsub/pubsub.js';
import { createLogger, silentLogger, type Logger } from '../telemetry/log.js';
import { LogSummary } from '../telemetry/log-summary.js';
import { Fleet } from '../gateway/fleet.js';
import { PresenceRule } from '../gateway/presence.js';
import { PublicationKind } from '../pubsub/broker.js';
import { ClientIds } from '../gateway/client-ids.js';
import { ServerVerbs } from './server-verbs.js';
export type { ServerEvents } from './server-verbs.js';
import { Gateway } from '../gateway/gateway.js';
import { GatewayWorkerRole } from '../gatewayworker/gateway-role.js';
import { V1 } from '../gateway/v1/frames.js';
import { V1Session, type V1Services } from '../gateway/v1/session.js';
import { v1Services } from '../gateway/v1/services.js';
import { VERSION } from './version.js';
import { CloseCode } from '../protocol/constants.js';
import { connectionExits, type HandshakeError } from '../protocol/errors.js';
import { ServerStats, snapshot, type StatsSnapshot } from '../telemetry/stats.js';
import { sideRoutesOf } from './server-routes.js';
import type { CertificateStore } from '../tls/certificates.js';
import { TlsListener } from '../tls/tls-listener.js';
import { parseTicketKeys, randomTicketKey, TicketKeyRing } from '../tls/ticket-keys.js';


export interface ListenAddress {
  host: string;
  port: number;
  url: string;
}

export class WebSocketServer extends ServerVerbs implements HandshakeHost {
  override readonly options: ResolvedOptions;
  /** Open WebSocket connections. */
  readonly connections = new Set<Connection>();
  /** TLS client errors by kind since start. */
  readonly tlsClientErrors: Map<string, number>;
  /** Counters behind GET /stats. */
  readonly counters = new ServerStats();
  /** The TLS certificates (undefined in plain mode). */
  readonly certificates: CertificateStore | undefined;
  /** The TCP/TLS listener; undefined for attach() / noServer, where node:http accepts. */
  private readonly listener: net.Server | undefined;
  private readonly tls: TlsListener | undefined;
  private statsServer: http.Server | undefined;
  private readonly log: Logger;
  /** Repeated conditions, logged once and then counted per interval. */
  private readonly logSummary: LogSummary;
  private readonly clock: Clock;
  private readonly handshaker: Handshaker;
  private readonly admission: Admission;
  private readonly heartbeat: Heartbeat | undefined;
  protected readonly pubsub: PubSub<Connection>;
  /** Client ids of this process; the open connections by id. */
  protected readonly ids: ClientIds;
  private readonly byId = new Map<string, Connection>();
  /** The fleet's verbs: send, subscribe, disconnect by user or client, and the questions. */
  protected readonly fleet: Fleet<Connection>;
  /** Who a client is: its token, the connect proxy, or nobody. */
  private readonly gateway: Gateway;
  /** GatewayWorker mode: this process as a Gateway of a PHP application; undefined when off. */
  private readonly gatewayWorker: GatewayWorkerRole<Connection> | undefined;
  /** What every wssd.v1 session is given. */
  private readonly v1Services: V1Services;
  /** permessage-deflate's shared contexts and idle sweep; undefined when it is off. */
  readonly deflate: DeflateContexts | undefined;
  /** One options object shared by every Connection. */
  private readonly connectionOptions: ConnectionOptions;
  private shuttingDown = false;
  private listenPending = false;

  constructor(options: ServerOptions) {
    super();
    const o = (this.options = resolveOptions(options));
    this.log = o.logger === false ? silentLogger : (o.logger ?? createLogger());
    this.clock = o.clock ?? systemClock;
    this.logSummary = new LogSummary(this.log, this.clock);
    this.deflate = o.perMessageDeflate === undefined ? undefined : new DeflateContexts(o.perMessageDeflate, this.clock);
    this.ids = new ClientIds(o.node);
    const presence = new PresenceRule(o.presencePrefix ?? [], o.presenceMaxMembers);
    this.gateway = new Gateway(o, { node: this.ids.node, log: this.log, logSummary: this.logSummary, counters: this.counters, clock: this.clock });
    this.pubsub = new PubSub<Connection>(
      brokerFromOptions(o),
      { maxTopicLength: o.maxTopicLength, maxBackpressure: o.maxBackpressure, slowSubscriberPolicy: o.slowSubscriberPolicy, maxTopicsPerConnection: o.maxTopicsPerConnection, maxTopics: o.maxTopics },
      this.counters,
      {
        onSubscription: (topic, count, previous) => this.emit('subscription', topic, count, previous),
        answer: (question) => (question.kind === 'stats' ? this.localSnapshot() : this.fleet.answer(question)),
        onSignal: (kind, topic, payload) => (kind === PublicationKind.Command ? this.fleet.received(topic, payload) : this.fleet.announced(topic, payload)),
        onMembership: presence.any || this.gateway.wantsMembership ? (connection, topic, joined) => this.membership(connection, topic, joined) : undefined,
        onBrokerState: (connected, detail) => {
          if (connected) this.log.info(`broker: ${detail}`);
          // "…; retrying in N ms" differs at each attempt: the kind is the reason alone.
          else this.logSummary.warn(`broker down: ${detail.replace(/; retrying in \d+ ms$/, '')}`, `broker: ${detail}`);
        },
        onRecoveryFailed: (topic, reason, had, now) => {
          if (this.listenerCount('recoveryFailed') > 0) this.emit('recoveryFailed', topic, reason, had, now);
          else this.logSummary.warn(`unrecovered ${reason}`, `publications of ${JSON.stringify(topic.slice(0, 64))} were lost while the broker was away (${reason}: had ${had.offset}@${had.epoch}, now ${now.offset}@${now.epoch}); delivery goes on from the oldest publication the history still holds`);
        },
        onUndelivered: (topic, error) => {
          if (this.listenerCount('publishFailed') > 0) this.emit('publishFailed', topic, error);
          else this.logSummary.warn(`undelivered ${error.name}`, `a publication of ${JSON.stringify(topic.slice(0, 64))} did not reach the broker: ${error.message}`);
        },
        onRefused: (status, topic) =>
          this.logSummary.warn(
            `topic ${status}`,
            status === 'connection-limit'
              ? `a subscription to ${JSON.stringify(topic.slice(0, 64))} was refused: the connection is at maxTopicsPerConnection (${o.maxTopicsPerConnection})`
              : `a subscription to ${JSON.stringify(topic.slice(0, 64))} was refused: this process is at maxTopics (${o.maxTopics}) distinct topics`,
          ),
      },
    );
    this.fleet = new Fleet(
      this.pubsub,
      {
        node: this.ids.node,
        member: (client) => this.byId.get(client),
        nodeInfo: () => ({ node: this.ids.node, connections: this.connections.size, uptimeSeconds: Math.round((Date.now() - this.counters.startedAt) / 1000), version: VERSION, pid: process.pid }),
      },
      presence,
    );
    this.pubsub.listenRoute(this.fleet.route);
    this.v1Services = v1Services(o, this.pubsub, this.fleet, this.gateway, this.clock);
    const role = (this.gatewayWorker =
      o.gatewayWorker === undefined
        ? undefined
        : new GatewayWorkerRole<Connection>(o.gatewayWorker, {
            topics: this.pubsub,
            log: this.log,
            logSummary: this.logSummary,
            counters: this.counters,
            clientPort: () => (this.listener?.address() as net.AddressInfo | null)?.port ?? o.port,
            maxPayload: o.maxPayload,
          }));
    const proxied = this.gateway.onClientMessage;
    this.connectionOptions = {
      maxPayload: o.maxPayload,
      maxFragments: o.maxFragments,
      highWaterMark: o.highWaterMark,
      maxBuffered: o.maxBuffered,
      bufferPolicy: o.bufferPolicy,
      idleTimeout: o.idleTimeout,
      pingTimeout: o.pingTimeout,
      closeTimeout: o.closeTimeout,
      clock: this.clock,
      topics: this.pubsub,
      counters: this.counters,
      // Messages go to the BusinessWorkers (GatewayWorker mode) and the message proxy, whichever is on.
      onClientMessage:
        role === undefined
          ? proxied
          : (connection, data, binary) => {
              role.message(connection, data);
              proxied?.(connection, data, binary);
            },
      onGone: (connection, code, reason) => {
        this.gateway.gone(connection, code, reason);
        role?.gone(connection);
        this.connections.delete(connection);
        this.byId.delete(connection.id);
        this.admission.closed(connection.remoteAddress);
      },
      reportHandlerError: (error, c) => this.logSummary.error('handler', `handler error on a connection from ${c.remoteAddress} (closed with 1011): ${describe(error)}`),
    };
    this.admission = new Admission(o.maxConnections, o.maxConnectionsPerIp);
    const handshaker = new Handshaker(
      {
        headLimits: { maxHeadBytes: o.maxHeadBytes, maxHeaderCount: o.maxHeaderCount, maxLineBytes: o.maxLineBytes },
        handshakeTimeout: o.handshakeTimeout,
        closeTimeout: o.closeTimeout,
        // The application's subprotocols first, in its order of preference; then the client protocol.
        policy: { paths: o.paths, trustProxy: o.trustProxy, subprotocols: [...(o.subprotocols ?? []), V1], selectSubprotocol: o.selectSubprotocol },
        sideRoutes: this.sideRoutes(),
        verifyRequest: this.gateway.verifier(o.verifyRequest),
        admission: this.admission,
        deflate: o.perMessageDeflate,
        clock: this.clock,
        log: this.log,
        clientId: () => this.ids.allocate(),
      },
      this,
    );
    this.handshaker = handshaker;
    if (o.noServer) {
      this.listener = undefined;
    } else if (o.plain) {
      this.listener = net.createServer({ noDelay: true }, (socket) => handshaker.accept(socket, false, arrival(socket, this.clock)));
    } else {
      this.tls = new TlsListener({
        certificates: o.certificates,
        handshakeTimeout: o.handshakeTimeout,
        // Without keys given, a random one: tickets then resume on this process only.
        ticketKeys: new TicketKeyRing(o.ticketKeys ?? parseTicketKeys(randomTicketKey(), 'a random key')),
        ticketKeysFile: o.ticketKeysFile,
        clock: this.clock,
        log: this.log,
        onSecureSocket: (socket, arrived) => handshaker.accept(socket, true, arrived),
        onClientError: (kind, error, address) => this.emit('tlsClientError', kind, error, address),
        onProbe: () => this.counters.probes++,
      });
      this.certificates = this.tls.certificates;
      this.listener = this.tls.server;
    }
    this.tlsClientErrors = this.tls?.clientErrors ?? new Map();
    if (o.pingInterval > 0) {
      this.heartbeat = new Heartbeat(this.connections, o.pingInterval, o.pingTimeout, this.clock);
      this.heartbeat.start();
    }
    // Errors while listen() is pending reject its promise; later ones are
    // events (logged when nobody listens, rather than thrown).
    this.listener?.on('error', (error) => {
      if (this.listenPending) return;
      if (this.listenerCount('error') > 0) this.emit('error', error);
      else this.log.error(`server error: ${error.message}`);
    });
  }

  /** A connection joined or left a topic: presence events, backend events. */
  private membership(connection: Connection, topic: string, joined: boolean): void {
    this.fleet.membership(connection, topic, joined);
    this.gateway.membership(connection, topic, joined);
  }

  /**
   * Reads the token public key file again (SIGHUP, or the file changed):
   * new handshakes are verified with its keys; a bad file keeps the ones in force.
   */
  reloadTokenKeys(): 'reloaded' | 'unchanged' | 'refused' {
    return this.gateway.reloadTokenKeys();
  }

  /**
   * Loads the certificate files again (SIGHUP, or their files changed). New
   * handshakes get the new pair; open connections are untouched. A bad new
   * pair is refused with a log line and the current one keeps serving.
   */
  reloadCertificates(): 'reloaded' | 'unchanged' | 'refused' {
    return this.tls?.reload() ?? 'unchanged';
  }

  /**
   * Reads the TLS ticket key file again (ticketKeysFile; SIGHUP, or the file
   * changed): new tickets use its first key, tickets under any of its keys
   * still resume. A bad file is refused with a log line and the keys in force stay.
   */
  reloadTicketKeys(): 'reloaded' | 'unchanged' | 'refused' {
    return this.tls?.reloadTicketKeys() ?? 'unchanged';
  }

  listen(): Promise<ListenAddress> {
    const o = this.options;
    if (o.watchCertificates) this.tls?.watch();
    const api = this.gateway.listen(this);
    const lan = this.gatewayWorker?.listen();
    if (o.statsPort !== undefined && this.statsServer === undefined) {
      this.statsServer = startStatsServer(o.statsPort, o.statsHost, this.sideRoutes(), this.log);
    }
    const listener = this.listener;
    if (listener === undefined) return Promise.reject(new Error('this server has no listener (noServer / attach): the HTTP server listens'));
    const listening = new Promise<ListenAddress>((resolve, reject) => {
      this.listenPending = true;
      const onError = (error: Error): void => {
        this.listenPending = false;
        reject(error);
      };
      listener.once('error', onError);
      listener.listen(o.port, o.host, () => {
        this.listenPending = false;
        listener.off('error', onError);
        this.tls?.listening();
        resolve(this.address());
      });
    });
    // The API's or the LAN port failing (in use, say) fails the start like the WebSocket port's.
    return Promise.all([listening, api, lan]).then(([address]) => address);
  }

  /** Where the server API listens (apiPort), once listening; undefined without it. */
  get apiAddress(): { host: string; port: number } | undefined {
    return this.gateway.apiAddress;
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
    this.shuttingDown = true;
    this.heartbeat?.stop();
    this.tls?.unwatch();
    this.statsServer?.close();
    this.statsServer?.closeAllConnections();
    const listener = this.listener;
    const stopped = new Promise<void>((resolve) => (listener === undefined ? resolve() : listener.close(() => resolve())));
    this.handshaker.destroyPending();
    const closed: Promise<void>[] = [];
    const exit = connectionExits.shutdown(code, reason);
    for (const connection of this.connections) {
      closed.push(new Promise((resolve) => connection.once('close', () => resolve())));
      connection.closeFor(exit);
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
    });
    await Promise.race([Promise.all(closed), deadline]);
    clearTimeout(timer);
    for (const connection of this.connections) connection.terminate();
    // After the connections: their ON_CLOSE events are written before the links close.
    this.gatewayWorker?.close();
    await this.gateway.close(Math.min(timeout, 2000));
    await this.pubsub.close();
    this.deflate?.close();
    this.logSummary.close();
    await stopped;
  }

  /** The counters of this process, as GET /stats shows them for one process. */
  statsJson(): string {
    return JSON.stringify(this.localSnapshot()) + '\n';
  }

  private localSnapshot(): StatsSnapshot {
    return snapshot(this.counters, this.connections.size, this.pubsub.registry.topicCount, this.tlsClientErrors, this.deflate, this.gatewayWorker?.stats());
  }

  /** GET /stats, /metrics and /healthz (server-routes.ts). */
  private sideRoutes(): SideRoutes {
    return sideRoutesOf({ options: this.options, pubsub: this.pubsub, localSnapshot: () => this.localSnapshot(), closing: () => this.shuttingDown });
  }

  /**
   * Takes over an upgrade request that node:http already parsed: the
   * 'upgrade' event of an http/https server (see attach()). The same rules,
   * limits and Connection as the standalone server.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.handshaker.handleUpgrade(req, socket, head);
  }

  // HandshakeHost.
  get openConnections(): number {
    return this.connections.size;
  }

  get closing(): boolean {
    return this.shuttingDown;
  }

  /** @internal The 101 is out: the socket becomes a Connection. */
  upgraded(socket: net.Socket, request: UpgradeRequest, protocol: string, rest: Buffer, deflate: DeflateParams | undefined): void {
    const codec = deflate === undefined ? undefined : this.deflate?.codec(deflate);
    const connection = new Connection(socket, request, protocol, this.connectionOptions, codec);
    this.counters.handshakesAccepted++;
    this.connections.add(connection);
    this.byId.set(connection.id, connection);
    this.admission.opened(request.remoteAddress);
    if (protocol === V1) connection.speakV1(new V1Session(connection, this.v1Services));
    const identity = request.identity;
    // The connect event carries the user, and comes before the subscriptions the identity names.
    if (identity !== undefined) connection.setUser(identity.user);
    this.gateway.connected(connection, request);
    if (identity !== undefined) {
      // The topics the token or the connect proxy named: subscribed server-side before the application hears of it.
      for (const topic of identity.topics) connection.trySubscribe(topic);
    }
    this.gatewayWorker?.connected(connection, request, socket.localPort ?? 0);
    if (socket.isPaused()) socket.resume();
    try {
      this.emit('connection', connection, request);
    } catch (error) {
      this.log.error(`connection handler threw: ${describe(error)}`);
      connection.terminate();
      return;
    }
    if (this.shuttingDown) connection.closeFor(connectionExits.shutdown(CloseCode.GoingAway, 'server shutting down'));
    // Bytes that came with the head belong to the first frames.
    if (rest.length > 0) connection.receive(rest);
  }

  /** @internal A connection closed without sending a byte. */
  probe(): void {
    this.counters.probes++;
  }

  /** @internal A handshake was refused (and answered). */
  refused(error: HandshakeError, remoteAddress: string): void {
    this.counters.refusedWith(error.status, error.code);
    this.emit('refused', error.status, error.message, remoteAddress);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export function createServer(options: ServerOptions): WebSocketServer {
  return new WebSocketServer(options);
}
