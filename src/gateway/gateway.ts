// What a server is to its backend, in one place: who a client is before the
// upgrade (identity.ts), the server API for backends (api/), backend events
// and the message proxy. The server calls in at each step of a connection's
// life; everything here is off unless its options are given.
import type { Clock } from '../io/clock.js';
import type { RequestVerdict, RequestVerifier, UpgradeRequest, ClientIdentity } from '../http/upgrade.js';
import type { LogSummary } from '../telemetry/log-summary.js';
import type { Logger } from '../telemetry/log.js';
import type { ServerStats } from '../telemetry/stats.js';
import { watchFiles } from '../tls/certificates.js';
import { isUtf8 } from '../protocol/utf8.js';
import type { ApiBackend } from './api/api-methods.js';
import { ApiServer } from './api/api-server.js';
import { BackendEvents, type BackendEvent } from './backend-events.js';
import { ConnectProxy } from './connect-proxy.js';
import { Identifier } from './identity.js';
import { MessageProxy, type MessageRouter, type ProxiedClient } from './message-proxy.js';
import type { GatewaySettings } from './settings.js';
import { SubscribeProxy } from './subscribe-proxy.js';

/** A connection as the gateway sees it (the server's Connection). */
export interface GatewayClient extends ProxiedClient {
  readonly remoteAddress: string;
  readonly path: string;
  readonly info: Record<string, unknown> | undefined;
  send(data: Buffer, options: { binary: boolean }): boolean;
}

export interface GatewayContext {
  node: string;
  log: Logger;
  /** For what repeats: a failing backend logs once per cause and interval. */
  logSummary: LogSummary;
  counters: ServerStats;
  clock: Clock;
}

/** Largest answer the message proxy may send back to a client. */
const MAX_PROXY_ANSWER = 1024 * 1024;

export class Gateway {
  readonly identifier: Identifier;
  private readonly events: BackendEvents | undefined;
  /** The message proxy (--message-url), when on: raw messages and wssd.v1 rpcs go to it. */
  readonly messages: MessageProxy | undefined;
  /** The subscribe proxy (--subscribe-url), when on. */
  readonly subscribeProxy: SubscribeProxy | undefined;
  private readonly routeMessage: MessageRouter | undefined;
  private api: ApiServer | undefined;
  private stopWatchingKeys: (() => void) | undefined;

  constructor(
    private readonly o: GatewaySettings,
    private readonly context: GatewayContext,
  ) {
    const failed = (cause: string, message: string): void => this.failed(cause, message);
    const { gateway } = o;
    const proxy = gateway.connectUrl === undefined ? undefined : new ConnectProxy({ url: gateway.connectUrl, timeout: o.proxyTimeout, concurrency: o.proxyConcurrency, onFailure: failed });
    this.identifier = new Identifier(gateway.tokens, proxy);
    this.events =
      gateway.eventsUrl === undefined
        ? undefined
        : new BackendEvents({
            url: gateway.eventsUrl,
            secret: o.eventsSecret ?? '',
            maxQueue: o.eventsMaxQueue,
            node: context.node,
            timeout: o.proxyTimeout,
            clock: context.clock,
            onLost: (cause, count) => context.counters.lost(cause, count),
            onFailure: failed,
          });
    this.messages =
      gateway.messageUrl === undefined
        ? undefined
        : new MessageProxy({
            url: gateway.messageUrl,
            timeout: o.proxyTimeout,
            maxQueue: o.messageMaxQueue,
            concurrency: o.proxyConcurrency,
            maxAnswer: MAX_PROXY_ANSWER,
            onFailure: (cause, message) => {
              context.counters.lost('message-proxy');
              failed(cause, message);
            },
          });
    this.subscribeProxy = gateway.subscribeUrl === undefined ? undefined : new SubscribeProxy({ url: gateway.subscribeUrl, timeout: o.proxyTimeout, concurrency: o.proxyConcurrency, onFailure: failed });
    this.routeMessage = o.routeMessage;
  }

  /** A request to the backend failed: counted by cause, logged once per cause and interval. */
  private failed(cause: string, message: string): void {
    this.context.counters.backendFailed(cause);
    this.context.logSummary.warn(cause, message);
  }

  /**
   * The check before every upgrade: who the client is (its token, or the
   * connect proxy; refused with 401 or the backend's status), then the
   * application's own verifyRequest, which sees the identity.
   */
  verifier(application: RequestVerifier | undefined): RequestVerifier | undefined {
    const identifier = this.identifier;
    if (!identifier.active) return application;
    return (request) => {
      const identity = identifier.identify(request);
      const then = (found: ClientIdentity | undefined): RequestVerdict | Promise<RequestVerdict> => {
        request.identity = found;
        return application?.(request);
      };
      return identity instanceof Promise ? identity.then(then) : then(identity);
    };
  }

  /** Whether subscriptions and unsubscriptions are wanted (as backend events). */
  get wantsMembership(): boolean {
    return this.events !== undefined;
  }

  /** A connection is open. */
  connected(client: GatewayClient, request: UpgradeRequest): void {
    this.events?.push({ type: 'connect', client: client.id, user: client.user, ip: request.remoteAddress, path: request.path, info: client.info, time: Date.now() });
  }

  /** A connection is gone, with the close code and reason its 'close' event reports. */
  gone(client: GatewayClient, code: number, reason: string): void {
    this.events?.push({ type: 'disconnect', client: client.id, user: client.user, code, reason, time: Date.now() });
  }

  membership(client: GatewayClient, topic: string, joined: boolean): void {
    this.events?.push({ type: joined ? 'subscribe' : 'unsubscribe', client: client.id, user: client.user, topic, time: Date.now() } satisfies BackendEvent);
  }

  /** Every client message, before the application's 'message' event: to the message proxy when on (and the router agrees). */
  get onClientMessage(): ((client: GatewayClient, data: Buffer, binary: boolean) => void) | undefined {
    const messages = this.messages;
    if (messages === undefined) return undefined;
    const route = this.routeMessage;
    return (client, data, binary) => {
      const message = binary ? data : data.toString('utf8');
      if (route !== undefined && !route(client, message, binary)) return;
      // A binary message is a view into received memory: the proxy keeps its own copy while it waits.
      messages.forward(client, binary ? Buffer.from(data) : message, binary, (answer) => {
        if (answer === undefined) return;
        // An answer that is not UTF-8 cannot go as text (RFC 6455 §5.6): it goes as binary.
        client.send(answer.data, { binary: answer.binary || !isUtf8(answer.data) });
      });
    };
  }

  /** Starts what listens or watches: the server API (apiPort), the token key file's watcher. */
  listen(backend: ApiBackend): Promise<unknown> | undefined {
    const o = this.o;
    const keyFile = this.identifier.keyFile;
    if (o.watchCertificates && keyFile !== undefined && this.stopWatchingKeys === undefined) this.stopWatchingKeys = watchFiles([keyFile], () => this.reloadTokenKeys());
    if (o.apiPort === undefined || this.api !== undefined) return undefined;
    const { counters } = this.context;
    this.api = new ApiServer(backend, {
      port: o.apiPort,
      host: o.apiHost,
      keys: o.apiKey ?? [],
      maxBody: o.apiMaxBody,
      log: this.context.log,
      onRequest: () => counters.apiRequests++,
      onError: (code) => counters.apiFailed(code),
    });
    return this.api.listen();
  }

  /** Where the server API listens, once it does. */
  get apiAddress(): { host: string; port: number } | undefined {
    const a = this.api?.server.address();
    return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : undefined;
  }

  /**
   * Reads the token public key file again (SIGHUP, or the file changed):
   * new handshakes are verified with its keys; a bad file keeps the ones in force.
   */
  reloadTokenKeys(): 'reloaded' | 'unchanged' | 'refused' {
    const { outcome, detail } = this.identifier.reloadKeys();
    if (outcome === 'reloaded') this.context.log.info(`token keys reloaded: ${detail}`);
    else if (outcome === 'refused') this.context.log.error(`token key reload refused: ${detail}; the keys in force stay`);
    return outcome;
  }

  /** Stops listening and watching; the backend events that wait get `ms` to go out. */
  async close(ms: number): Promise<void> {
    this.stopWatchingKeys?.();
    this.api?.close();
    await this.events?.close(ms);
  }
}
