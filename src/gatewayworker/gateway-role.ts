// wssd as a GatewayWorker Gateway. The server holds the clients (TLS, the
// handshake, limits, topics); this role is what GatewayWorker's Gateway is to
// the PHP side:
//
// - it registers the LAN address with every Register (register-link.ts), so
//   BusinessWorkers and GatewayClients find it like any Gateway;
// - it listens on that address for them (inner-link.ts) and carries out their
//   commands (commands.ts), the secret checked first;
// - it tells a client's BusinessWorker of the client's life: ON_CONNECT and
//   ON_WEBSOCKET_CONNECT once the client is upgraded, ON_MESSAGE for each
//   message, ON_CLOSE with its last session; each client sticks to one worker
//   (worker-router.ts);
// - it runs GatewayWorker's own client heartbeat when asked to (pingInterval).
//
// Where this differs from PHP's Gateway, on purpose: the connect events come
// after the upgrade, not at TCP accept (a connection that never becomes a
// WebSocket is never the application's). With no BusinessWorker connected a
// client is not destroyed: its connect events wait for the first worker, and
// its messages are dropped and counted (losses: no-business-worker).
import { timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { UpgradeRequest } from '../http/upgrade.js';
import { isUtf8 } from '../protocol/utf8.js';
import type { PubSub } from '../pubsub/pubsub.js';
import { userRoute } from '../gateway/routes.js';
import type { ResolvedGatewayWorker } from '../options/gatewayworker-options.js';
import type { LogSummary } from '../telemetry/log-summary.js';
import type { Logger } from '../telemetry/log.js';
import type { GatewayWorkerCounts, ServerStats } from '../telemetry/stats.js';
import { ClientState, ClientTable, connectionIdOf, type RoleConnection } from './client-table.js';
import type { ClientSend } from './client-sends.js';
import { PhpDataError, RawFrameError, runCommand, type GatewayState } from './commands.js';
import { ConnectionFilter, sendToGroupTargets } from './ext-data.js';
import * as gp from './gateway-protocol.js';
import { InnerLink, type InnerLinkHost } from './inner-link.js';
import { ExtDataMemo } from './ext-data-memo.js';
import { jsonDecode } from './json-php.js';
import { defaultDataLimits, type DataLimits } from './php-value.js';
import { RegisterLink } from './register-link.js';
import { websocketConnectBody } from './websocket-connect.js';
import { WorkerRouter } from './worker-router.js';

export interface RoleHost<C extends RoleConnection> {
  topics: PubSub<C>;
  log: Logger;
  logSummary: LogSummary;
  counters: ServerStats;
  /** The port clients connect to: the events' gateway_port. */
  clientPort(): number;
  /** Largest message (a raw send's frames are held to it). */
  maxPayload: number;
}

/** Before a link is authorized, a packet is a WORKER_CONNECT or GATEWAY_CLIENT_CONNECT: small. */
const UNAUTHORIZED_MAX_PACKET = 64 * 1024;
/** GatewayWorker pings its BusinessWorkers this often unless on 127.0.0.1 (keeps NATs and firewalls from dropping the link). */
const WORKER_PING_MS = 25_000;

export class GatewayWorkerRole<C extends RoleConnection> implements GatewayState<C, InnerLink>, InnerLinkHost {
  readonly clients = new ClientTable<C>();
  readonly limits: DataLimits = defaultDataLimits;
  /** A BusinessWorker sends the same ext_data for a group every time: read once, kept for the next. */
  readonly groupTargets = new ExtDataMemo((extData) => sendToGroupTargets(extData, this.limits));
  readonly maxPayload: number;
  private readonly router: WorkerRouter;
  /** BusinessWorker links by worker key, in the order they connected. */
  private readonly workers = new Map<string, InnerLink>();
  private readonly links = new Set<InnerLink>();
  private readonly registers: RegisterLink[];
  private readonly listener: net.Server;
  private readonly localIp: number;
  private readonly secret: Buffer;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly o: ResolvedGatewayWorker,
    private readonly host: RoleHost<C>,
  ) {
    this.maxPayload = host.maxPayload;
    this.router = new WorkerRouter(o.router);
    this.localIp = gp.ipv4ToLong(o.lanIp);
    this.secret = Buffer.from(o.secret, 'utf8');
    const address = `${o.lanIp}:${o.lanPort}`;
    this.registers = o.registers.map(
      (register) =>
        new RegisterLink(register, address, o.secret, {
          state: (_register, connected, detail) => {
            if (connected) host.log.info(`GatewayWorker: ${detail}`);
            else host.logSummary.warn(`register ${_register.host}:${_register.port}`, `GatewayWorker: ${detail}`);
          },
        }),
    );
    this.listener = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  /** Listens on the LAN address, then registers with every Register. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.o.lanPort, this.o.listenHost, () => {
        this.listener.off('error', reject);
        this.listener.on('error', (error) => this.host.log.error(`GatewayWorker: LAN port: ${error.message}`));
        this.host.log.info(`GatewayWorker: BusinessWorkers and GatewayClients reach this Gateway at ${this.o.lanIp}:${this.o.lanPort}`);
        for (const register of this.registers) register.start();
        this.startTimers();
        resolve();
      });
    });
  }

  private startTimers(): void {
    if (this.o.lanIp !== '127.0.0.1') {
      this.timers.push(setInterval(() => this.workers.forEach((link) => link.write(gp.PING_PACKET)), WORKER_PING_MS).unref());
    }
    const { pingInterval, pingLimit } = this.o;
    if (pingInterval > 0) this.timers.push(setInterval(() => this.heartbeat(), pingLimit > 0 ? pingInterval / 2 : pingInterval).unref());
  }

  /** Where the LAN port listens, once it does. */
  get lanAddress(): { host: string; port: number } | undefined {
    const a = this.listener.address();
    return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : undefined;
  }

  /** Leaves every Register (so no new command comes), then closes the LAN port and its links once what waits is written. */
  close(): void {
    for (const register of this.registers) register.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.listener.close();
    for (const link of this.links) link.close();
  }

  /** For /stats. */
  stats(): GatewayWorkerCounts {
    return { businessWorkers: this.workers.size, links: this.links.size, registers: this.registers.length, registered: this.registers.filter((r) => r.isRegistered).length };
  }

  // The server's side: a client's life.

  /** A client is upgraded: it gets its GatewayWorker state, and its worker hears ON_CONNECT and ON_WEBSOCKET_CONNECT. */
  connected(connection: C, request: UpgradeRequest, localPort: number): void {
    const address: gp.ClientAddress = {
      localIp: this.localIp,
      localPort: this.o.lanPort,
      clientIp: gp.ipv4ToLong(request.remoteAddress),
      clientPort: request.remotePort,
      connectionId: connectionIdOf(connection.id),
      gatewayPort: this.host.clientPort(),
    };
    const client = new ClientState(connection, address);
    this.clients.add(client);
    const body = websocketConnectBody({ ...request, localPort });
    if (this.router.size === 0) client.pendingConnect = body;
    else this.announce(client, body);
  }

  private announce(client: ClientState<C>, body: Buffer): void {
    client.pendingConnect = undefined;
    this.toWorker(client, gp.CMD_ON_CONNECT);
    this.toWorker(client, gp.CMD_ON_WEBSOCKET_CONNECT, body);
  }

  /** A message from a client: to its worker. */
  message(connection: C, data: Buffer): void {
    const client = this.clients.of(connection);
    if (client === undefined) return;
    client.silence = -1;
    this.toWorker(client, gp.CMD_ON_MESSAGE, data);
  }

  /** A client is gone: its worker hears ON_CLOSE with the last session. */
  gone(connection: C): void {
    const client = this.clients.of(connection);
    if (client === undefined) return;
    this.clients.remove(client);
    // A client whose connect events never went out is nobody's to hear of.
    if (client.pendingConnect === undefined) this.toWorker(client, gp.CMD_ON_CLOSE);
    this.router.release(client.worker);
  }

  private toWorker(client: ClientState<C>, command: gp.ClientEventCommand, body?: Buffer): void {
    const key = this.router.route(client.worker);
    const link = key === undefined ? undefined : this.workers.get(key);
    if (key === undefined || link === undefined) {
      this.host.counters.lost('no-business-worker');
      this.host.logSummary.warn('no-business-worker', `GatewayWorker: ${gp.commandName(command)} of client ${client.connection.id} dropped: no BusinessWorker is connected`);
      return;
    }
    client.worker = key;
    if (link.buffered > this.o.maxWorkerBuffer) {
      this.host.counters.lost('business-worker-busy');
      this.host.logSummary.warn('business-worker-busy', `GatewayWorker: ${gp.commandName(command)} of client ${client.connection.id} dropped: BusinessWorker ${key} has ${link.buffered} bytes waiting (--gateway-max-worker-buffer)`);
      return;
    }
    link.write(gp.encodeClientEvent(command, client.address, client.session, body));
  }

  /** GatewayWorker's heartbeat (pingInterval, pingNotResponseLimit, pingData), its counting as PHP's (spec §10.4). */
  private heartbeat(): void {
    const { pingLimit, pingData } = this.o;
    const data = Buffer.from(pingData, 'utf8');
    const sends = pingData !== '' && pingData !== '0';
    for (const client of [...this.clients.all()]) {
      if (pingLimit > 0 && client.silence >= pingLimit * 2) {
        client.connection.terminate();
        continue;
      }
      client.silence++;
      if (!sends || client.silence === 0 || (pingLimit > 0 && client.silence % 2 === 1)) continue;
      client.connection.sendMessage(data, !isUtf8(data));
    }
  }

  // The LAN side: BusinessWorkers and GatewayClients.

  private accept(socket: net.Socket): void {
    if (this.links.size >= this.o.maxInner) {
      this.host.counters.backendFailed('gatewayworker-inner-limit');
      this.host.logSummary.warn('inner-limit', `GatewayWorker: a connection from ${socket.remoteAddress} to the LAN port was closed: ${this.links.size} are open (--gateway-max-inner)`);
      socket.destroy();
      return;
    }
    const authorized = this.secret.length === 0;
    const link = new InnerLink(socket, this, { authorized, maxPacket: authorized ? this.o.maxPacket : Math.min(UNAUTHORIZED_MAX_PACKET, this.o.maxPacket) });
    this.links.add(link);
  }

  packet(link: InnerLink, packet: gp.GatewayPacket): void {
    if (!link.authorized && packet.cmd !== gp.CMD_WORKER_CONNECT && packet.cmd !== gp.CMD_GATEWAY_CLIENT_CONNECT) {
      this.refusedLink(link, `${gp.commandName(packet.cmd) ?? `command ${packet.cmd}`} before the secret key`);
      return;
    }
    try {
      if (!runCommand(this, packet, link)) this.refused(`command ${packet.cmd}`, 'not a command a Gateway carries out');
    } catch (error) {
      // Bad data refuses the one command (nothing of it was done); the link stays, as every other.
      const name = gp.commandName(packet.cmd) ?? `command ${packet.cmd}`;
      if (!(error instanceof PhpDataError) && !(error instanceof RawFrameError)) throw error;
      this.refused(name, error.message);
      // A query must be answered, or its caller waits its timeout out: the answer PHP gives to nothing found.
      if (gp.isQueryCommand(packet.cmd)) link.reply(packet.cmd === gp.CMD_GET_SESSION_BY_CLIENT_ID ? Buffer.from('N;') : Buffer.from('a:0:{}'));
    }
  }

  authorize(link: InnerLink, packet: gp.GatewayPacket, asWorker: boolean): void {
    let given: Buffer | undefined;
    try {
      const body = jsonDecode(packet.body, this.limits);
      const key = body instanceof Map ? body.get('secret_key') : undefined;
      given = Buffer.isBuffer(key) ? key : undefined;
      if (asWorker) {
        const name = body instanceof Map ? body.get('worker_key') : undefined;
        if (given !== undefined && this.secretIs(given) && Buffer.isBuffer(name)) return this.workerConnected(link, `${link.remoteIp}:${name.toString('utf8')}`);
      } else if (given !== undefined && this.secretIs(given)) {
        link.authorized = true;
        return;
      }
    } catch {
      // Not JSON: refused like a wrong key.
    }
    this.refusedLink(link, asWorker ? 'a BusinessWorker with a wrong secret key (or none)' : 'a GatewayClient with a wrong secret key (or none)');
  }

  private secretIs(given: Buffer): boolean {
    return given.length === this.secret.length && timingSafeEqual(given, this.secret);
  }

  private workerConnected(link: InnerLink, key: string): void {
    const previous = this.workers.get(key);
    if (previous !== undefined && previous !== link) {
      this.host.log.warn(`GatewayWorker: BusinessWorker ${key} connected again: its previous link is closed`);
      previous.workerKey = undefined;
      previous.close();
    }
    link.authorized = true;
    link.workerKey = key;
    link.setMaxPacket(this.o.maxPacket);
    this.workers.set(key, link);
    this.router.add(key);
    this.host.log.info(`GatewayWorker: BusinessWorker ${key} connected (${this.workers.size} in all)`);
    // Clients that came while no worker was there hear of it now, in the order they came.
    for (const client of this.clients.all()) if (client.pendingConnect !== undefined) this.announce(client, client.pendingConnect);
  }

  closed(link: InnerLink): void {
    this.links.delete(link);
    const key = link.workerKey;
    // Only if the key is still this link's: a worker that reconnected under the same key keeps its new link.
    if (key !== undefined && this.workers.get(key) === link) {
      this.workers.delete(key);
      this.router.remove(key);
      this.host.logSummary.warn(`worker-gone ${key}`, `GatewayWorker: BusinessWorker ${key} disconnected (${this.workers.size} left)`);
    }
  }

  malformed(link: InnerLink, error: gp.GatewayProtocolError): void {
    this.host.counters.backendFailed('gatewayworker-protocol');
    this.host.logSummary.warn(`gatewayworker ${error.code}`, `GatewayWorker: closed a LAN connection from ${link.remoteIp}: ${error.message}`);
  }

  private refusedLink(link: InnerLink, why: string): void {
    this.host.counters.backendFailed('gatewayworker-refused');
    this.host.logSummary.warn(`gatewayworker refused`, `GatewayWorker: closed a LAN connection from ${link.remoteIp}: ${why}`);
    link.close();
  }

  refused(command: string, reason: string): void {
    this.host.counters.backendFailed('gatewayworker-command');
    this.host.logSummary.warn(`gatewayworker ${command}`, `GatewayWorker: ${command} not carried out: ${reason}`);
  }

  // What the commands read and do (GatewayState).

  groupMembers(topic: string): Iterable<ClientState<C>> | undefined {
    return this.statesOf(this.host.topics.registry.subscribers(topic));
  }

  uidMembers(user: string): Iterable<ClientState<C>> | undefined {
    return this.statesOf(this.host.topics.routes.subscribers(userRoute(user)));
  }

  groups(): Iterable<string> {
    return this.host.topics.registry.topics();
  }

  sendToGroup(topic: string, message: Extract<ClientSend, { kind: 'message' }>, exclude: ConnectionFilter): void {
    // Nearly every sendToGroup excludes nobody: no member's id is read then.
    const skip = exclude === ConnectionFilter.none ? undefined : (connection: C) => exclude.has(connectionIdOf(connection.id));
    this.host.topics.deliverHere(topic, message.data, message.binary, skip);
  }

  private statesOf(connections: ReadonlySet<C> | undefined): ClientState<C>[] | undefined {
    if (connections === undefined) return undefined;
    const states: ClientState<C>[] = [];
    for (const connection of connections) {
      const state = this.clients.of(connection);
      if (state !== undefined) states.push(state);
    }
    return states;
  }
}
