// wssd/client: the wssd.v1 client (docs/reference/client-protocol.md) for browsers, Node and
// WeChat: connections and their backoff, liveness, tokens, topics, over an injectable Transport,
// clock and random. Its pure parts are in ./wssd-protocol.js, the one module it loads at run time
// (types.js is types only), so a browser loads the two as they are: no Node API, no DOM types.
import {
  backoffDelay, ClientError, CloseCode, CommandWindow, decodeData, Emitter, encodeData, ErrorCode, parseFrame, readHistory, readPosition,
  readPresence, readPresenceChange, readPublication, readSubscribeResult, refreshDelay, SUBPROTOCOL, tokenTimes, TopicCursor,
} from './wssd-protocol.js';
import type { Command, Delivery } from './wssd-protocol.js';
import type {
  ClientClock, ClientEvents, ClientOptions, Data, HistoryResult, Payload, Position, PresenceResult, SubscribeOptions, SubscribeResult,
  Subscription, Transport, TransportFactory, WebSocketConstructor, WebSocketLike,
} from './types.js';

export { ClientError, CloseCode, ErrorCode, SUBPROTOCOL } from './wssd-protocol.js';
export type * from './types.js';

/** The default transport: over the browser's WebSocket, Node ≥ 22's global one, or the `ws` package's. */
export function webSocketTransport(WebSocketClass: WebSocketConstructor): TransportFactory {
  return (url, protocols) => {
    const ws = new WebSocketClass(url, protocols) as WebSocketLike;
    ws.binaryType = 'arraybuffer'; // a Blob would need an async read only to be refused
    const t: Transport = { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason), onopen: null, onmessage: null, onclose: null, onerror: null };
    ws.onopen = () => t.onopen?.(ws.protocol);
    ws.onmessage = ({ data }) =>
      typeof data === 'string' ? t.onmessage?.(data) : t.onerror?.(new ClientError(ErrorCode.ProtocolError, 'a binary frame: wssd.v1 is text only'));
    ws.onclose = ({ code, reason }) => t.onclose?.(code, reason);
    ws.onerror = () => void (t.onerror?.(new ClientError(ErrorCode.TransportError, 'WebSocket error')), ws.readyState === 0 && t.onclose?.(CloseCode.Abnormal, 'could not connect'));
    return t;
  };
}

const systemClock: ClientClock = {
  now: () => Date.now(), // wall-clock: a token's exp is
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (timer) => globalThis.clearTimeout(timer as Parameters<typeof globalThis.clearTimeout>[0]),
};

const DEFAULTS = {
  timeout: 10_000, pingInterval: 25_000, pongTimeout: 10_000, connectTimeout: 20_000, backoffBase: 500, backoffMax: 20_000,
  stableAfter: 10_000, maxPending: 64, maxQueued: 100, maxSubscriptions: 1000,
};

// A topic the client is in, by subscribe() or the server's doing. `live`: on this connection (a reply or a push); `before`:
// on an earlier one (a subscribe that cannot resume may have missed something); `leaving`: an unsubscribe is on its way;
// `retries`, `retry`: of a subscribe refused as unavailable; `shown`: while a batch is handed over, the one being handed's.
interface TopicEntry {
  cursor: TopicCursor;
  shown?: Position;
  sub?: SubscriptionHandle;
  pending?: Command;
  live: boolean;
  before: boolean;
  leaving: boolean;
  retries: number;
  retry?: unknown;
}

interface SubscriptionHandle extends Subscription {
  state: Subscription['state'];
  readonly options: SubscribeOptions;
}

export class WssdClient extends Emitter<ClientEvents> {
  private readonly urls: string[];
  private readonly factory: TransportFactory;
  private readonly clock: ClientClock;
  private readonly random: () => number;
  private readonly o: typeof DEFAULTS;
  private readonly getToken: (() => Promise<string>) | undefined;
  private readonly window: CommandWindow;
  private token: string | undefined;
  private tokenStale = false;
  private status: 'disconnected' | 'connecting' | 'connected' = 'disconnected';
  private running = false;
  private transport: Transport | undefined;
  /** Bumped when a connection attempt starts or ends: an abandoned transport's events find it changed. */
  private generation = 0;
  private attempt = 0;
  private urlIndex = 0;
  private openedAt = 0;
  private lastReceived = 0;
  private farewell: { reconnect: boolean } | undefined;
  private readonly timers: { retry?: unknown; ping?: unknown; pong?: unknown; refresh?: unknown } = {};
  private readonly topics = new Map<string, TopicEntry>();

  constructor(urlOrUrls: string | string[], options: ClientOptions = {}) {
    super();
    this.urls = typeof urlOrUrls === 'string' ? [urlOrUrls] : [...urlOrUrls];
    if (this.urls.length === 0) throw new TypeError('WssdClient needs at least one URL');
    const WebSocketClass = options.websocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (options.transport === undefined && WebSocketClass === undefined) throw new TypeError('no WebSocket here: pass options.websocket (the ws package, say) or options.transport');
    this.factory = options.transport ?? webSocketTransport(WebSocketClass as WebSocketConstructor);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.token = options.token;
    this.getToken = options.getToken;
    const given = Object.entries(options).filter(([key, value]) => key in DEFAULTS && typeof value === 'number');
    this.o = { ...DEFAULTS, ...Object.fromEntries(given) };
    this.window = new CommandWindow(this.o.maxPending, this.o.maxQueued, (timer) => this.clock.clearTimeout(timer));
  }

  get state(): 'disconnected' | 'connecting' | 'connected' {
    return this.status;
  }

  connect(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    void this.open();
  }

  /** Stops until connect(): closes, stops reconnecting, fails what waits. Subscriptions are kept for then. */
  disconnect(): void {
    if (this.running) this.fail(CloseCode.Normal, 'client disconnect', false);
  }

  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    if ([...this.topics.values()].filter((e) => e.sub !== undefined).length >= this.o.maxSubscriptions) throw new ClientError(ErrorCode.LimitExceeded, `at most ${this.o.maxSubscriptions} subscriptions`);
    const entry = this.topics.get(topic) ?? this.entry(topic);
    if (entry.sub !== undefined) throw new ClientError(ErrorCode.AlreadySubscribed, `already subscribed to ${topic}`);
    const sub: SubscriptionHandle = {
      topic, options, state: 'subscribing', unsubscribe: () => this.leave(topic, sub),
      get position() { return entry.shown ?? entry.cursor.position; },
    };
    entry.sub = sub;
    entry.leaving = false;
    if (options.since !== undefined) entry.cursor.position ??= { ...options.since };
    if (this.status === 'connected' && entry.pending === undefined) this.sendSubscribe(topic, entry);
    return sub;
  }

  async publish(topic: string, data: Data): Promise<{ offset?: number; epoch?: string }> {
    return readPosition(await this.request({ cmd: 'publish', topic, ...encodeData(data) })) ?? {};
  }

  async rpc(data: Data, options: { timeout?: number } = {}): Promise<Payload | undefined> {
    return decodeData(await this.request({ cmd: 'rpc', ...encodeData(data) }, options.timeout));
  }

  async presence(topic: string, options: { after?: string; limit?: number } = {}): Promise<PresenceResult> {
    return readPresence(await this.request({ cmd: 'presence', topic, ...options }));
  }

  async history(topic: string, options: { since?: Position; limit?: number } = {}): Promise<HistoryResult> {
    return readHistory(topic, await this.request({ cmd: 'history', topic, ...options }));
  }

  // ---- Connections

  private async open(): Promise<void> {
    const generation = ++this.generation;
    const url = this.urls[this.urlIndex];
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.status = 'connecting';
    this.emit('connecting', { url, attempt: this.attempt });
    const exp = this.token === undefined ? 0 : (tokenTimes(this.token)?.exp ?? Infinity);
    // A refused handshake (a token the server no longer takes) looks like any failure: every third attempt in a row asks again.
    if (this.getToken !== undefined && (this.tokenStale || exp * 1000 <= this.clock.now() || (this.attempt > 0 && this.attempt % 3 === 0))) {
      try {
        this.token = await this.getToken();
        this.tokenStale = false;
      } catch (error) {
        if (generation === this.generation) this.fail(CloseCode.Abnormal, 'getToken() failed', true, error);
        return;
      }
      if (generation !== this.generation) return; // disconnect() while waiting
    }
    const full = this.token === undefined ? url : `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.token)}`;
    try {
      this.transport = this.factory(full, [SUBPROTOCOL]);
    } catch (error) {
      return this.fail(CloseCode.Abnormal, `could not connect to ${url}`, true, error);
    }
    const t = this.transport;
    const mine = (): boolean => generation === this.generation;
    t.onopen = (protocol) => mine() && this.opened(protocol, url);
    t.onmessage = (text) => mine() && this.received(text);
    t.onclose = (code, reason) => mine() && this.lost(code, reason, true);
    t.onerror = (error) => {
      if (mine() && error.code === ErrorCode.ProtocolError) this.fail(CloseCode.ProtocolError, error.message, true, error);
      else if (mine()) this.emit('error', error);
    };
    this.timers.pong = this.clock.setTimeout(() => this.fail(CloseCode.Abnormal, 'connect timeout'), this.o.connectTimeout);
  }

  private opened(protocol: string | undefined, url: string): void {
    const refusal = new ClientError(ErrorCode.ProtocolError, `the server does not speak ${SUBPROTOCOL}`);
    if (protocol !== undefined && protocol !== SUBPROTOCOL) return this.fail(CloseCode.ProtocolError, refusal.message, true, refusal);
    this.status = 'connected';
    this.openedAt = this.lastReceived = this.clock.now();
    this.farewell = undefined;
    this.armPing(this.o.pingInterval);
    this.scheduleRefresh(undefined);
    // Resubscriptions first; what was queued offline follows them (the documented policy).
    const queued = this.window.outbox;
    this.window.outbox = [];
    for (const [topic, entry] of this.topics) if (entry.sub !== undefined) this.sendSubscribe(topic, entry, false);
    this.window.outbox.push(...queued);
    this.emit('connected', { url });
    this.flush();
  }

  /** Gives up on the connection at once: a dead peer would never finish a close handshake. */
  private fail(code: number, reason: string, mayReconnect = true, cause?: unknown): void {
    if (cause !== undefined) this.emit('error', cause instanceof ClientError ? cause : new ClientError(ErrorCode.TransportError, reason, { cause }));
    try {
      this.transport?.close(CloseCode.Normal, reason); // browsers may send only 1000 and 3000–4999
    } catch {
      // closed already: nothing to undo
    }
    this.lost(code, reason, mayReconnect);
  }

  private lost(code: number, reason: string, mayReconnect: boolean): void {
    this.generation++;
    this.transport = undefined;
    for (const timer of Object.values(this.timers)) this.clock.clearTimeout(timer);
    this.timers.retry = this.timers.ping = this.timers.pong = this.timers.refresh = undefined;
    if (this.status === 'connected' && this.clock.now() - this.openedAt >= this.o.stableAfter) this.attempt = 0;
    this.status = 'disconnected';
    if (code === CloseCode.TokenExpired) this.tokenStale = true;
    const reconnect = mayReconnect && this.running && code !== CloseCode.Disconnected && this.farewell?.reconnect !== false;
    this.running &&= reconnect;
    this.window.reset(!reconnect);
    for (const [topic, entry] of this.topics) {
      entry.cursor.abandon();
      this.clock.clearTimeout(entry.retry);
      entry.pending = undefined;
      // The server's own subscriptions are kept one connection more, to tell a gap when it makes them again.
      if ((entry.sub === undefined && !entry.live) || entry.leaving) this.topics.delete(topic);
      entry.before ||= entry.live;
      entry.live = false;
    }
    if (!reconnect) return this.emit('disconnected', { code, reason, reconnect });
    const delay = backoffDelay(this.attempt++, this.random, this.o.backoffBase, this.o.backoffMax);
    this.timers.retry = this.clock.setTimeout(() => void this.open(), delay);
    this.emit('disconnected', { code, reason, reconnect, delay });
  }

  /** Liveness: quiet for pingInterval, then a ping; nothing at all within pongTimeout after it, then gone. */
  private armPing(ms: number): void {
    this.clock.clearTimeout(this.timers.pong); // the connect timeout, or the wait after a ping: something came
    this.timers.pong = undefined;
    this.timers.ping = this.clock.setTimeout(() => {
      const quiet = this.clock.now() - this.lastReceived;
      if (quiet < this.o.pingInterval) return this.armPing(this.o.pingInterval - quiet);
      // With the window full the server owes replies already: their absence is the same signal.
      if (!this.window.full) this.write(this.window.take(this.command({ cmd: 'ping' })));
      if (this.status === 'connected') this.timers.pong = this.clock.setTimeout(() => this.fail(CloseCode.Abnormal, 'no reply to ping'), this.o.pongTimeout);
    }, ms);
  }

  private received(text: string): void {
    this.lastReceived = this.clock.now();
    if (this.timers.pong !== undefined) this.armPing(this.o.pingInterval);
    try {
      const frame = parseFrame(text);
      if (frame.kind === 'push') return this.pushed(frame.push, frame.fields);
      if (this.window.answer(frame.id, frame.error, frame.result)) return this.flush();
      if (frame.error !== undefined) this.emit('error', frame.error); // id null: the server could not read one of ours
    } catch (error) {
      this.fail(CloseCode.ProtocolError, error instanceof Error ? error.message : String(error), true, error);
    }
  }

  private pushed(push: string, fields: Record<string, unknown>): void {
    const topic = typeof fields.topic === 'string' ? fields.topic : '';
    const entry = this.topics.get(topic);
    const out: Delivery[] = [];
    switch (push) {
      case 'pub':
        if (entry === undefined) return this.emit('publication', readPublication(topic, fields));
        if (!entry.leaving) entry.cursor.accept(readPublication(topic, fields), out);
        return this.deliver(entry, out);
      case 'join':
      case 'leave': {
        const options = entry?.sub?.options;
        const handler = push === 'join' ? options?.onJoin : options?.onLeave;
        const change = readPresenceChange(topic, fields);
        return handler === undefined ? this.emit(push, change) : this.call(() => handler.call(options, change));
      }
      case 'message':
        return this.emit('message', { data: decodeData(fields) ?? '' });
      case 'subscribe': {
        const target = entry ?? this.entry(topic);
        const position = readPosition(fields.position);
        if (target.before && !target.live) target.cursor.rejoin(position, out);
        else target.cursor.position ??= position;
        target.live = true;
        target.leaving = false;
        this.emit('subscribed', position === undefined ? { topic } : { topic, position });
        return this.deliver(target, out);
      }
      case 'unsubscribe':
        if (entry === undefined) return;
        this.topics.delete(topic);
        this.dropSub(entry, undefined);
        return this.emit('unsubscribed', { topic });
      case 'disconnect':
        this.farewell = { reconnect: fields.reconnect !== false };
        return;
      default:
        return; // a newer server's push: nothing this client knows to do with it
    }
  }

  // ---- Topics

  private entry(topic: string): TopicEntry {
    const entry: TopicEntry = { cursor: new TopicCursor(topic), live: false, before: false, leaving: false, retries: 0 };
    this.topics.set(topic, entry);
    return entry;
  }

  private sendSubscribe(topic: string, entry: TopicEntry, flush = true): void {
    const sub = entry.sub as SubscriptionHandle;
    const since = entry.cursor.position;
    const resumed = since !== undefined;
    if (resumed) entry.cursor.recover(since);
    const frame = { cmd: 'subscribe', topic, ...(resumed && { since }), ...(sub.options.presence === true && { presence: true }) };
    const cmd = this.command(frame, (result) => this.subscribed(topic, entry, readSubscribeResult(result), resumed), (error) => {
      if (entry.pending !== cmd || error.code === ErrorCode.Disconnected) return;
      entry.pending = undefined;
      // The server subscribed it already (its own subscription): then this one just takes it over.
      if (error.code === ErrorCode.AlreadySubscribed) return this.subscribed(topic, entry, { recovered: true, replayed: 0 }, resumed);
      if (entry.sub === sub && error.code === ErrorCode.Unavailable) {
        // "Try again": the subscription stays, and asks again after a backoff on this connection.
        const generation = this.generation;
        const again = (): void => void (entry.sub === sub && entry.pending === undefined && generation === this.generation && this.sendSubscribe(topic, entry));
        entry.retry = this.clock.setTimeout(again, backoffDelay(entry.retries++, this.random, this.o.backoffBase, this.o.backoffMax));
        return this.call(() => sub.options.onError?.(error));
      }
      if (!entry.live) this.topics.delete(topic);
      if (entry.sub === sub) this.dropSub(entry, error);
    });
    entry.pending = cmd;
    this.window.outbox.push(cmd);
    if (flush) this.flush();
  }

  private subscribed(topic: string, entry: TopicEntry, result: SubscribeResult, resumed: boolean): void {
    entry.pending = undefined;
    entry.live = true;
    entry.retries = 0;
    const sub = entry.sub;
    if (sub === undefined) return this.leave(topic, undefined); // unsubscribed while the reply was on its way
    const out: Delivery[] = [];
    if (resumed) entry.cursor.settle(result, out);
    else if (entry.before) entry.cursor.rejoin(result.position, out);
    else entry.cursor.position ??= result.position;
    if (entry.cursor.position !== undefined) result.position ??= entry.cursor.position;
    sub.state = 'subscribed';
    this.call(() => sub.options.onSubscribed?.(result));
    this.deliver(entry, out);
  }

  private leave(topic: string, sub: SubscriptionHandle | undefined): void {
    const entry = this.topics.get(topic);
    if (entry === undefined || (sub !== undefined && entry.sub !== sub)) return; // gone already
    this.dropSub(entry, undefined, false);
    if (entry.pending !== undefined && this.window.unqueue(entry.pending)) entry.pending = undefined; // never sent: nothing to undo
    if (!entry.live || this.status !== 'connected') {
      if (entry.pending === undefined) this.topics.delete(topic);
      return; // a subscribe on its way is undone when its reply comes
    }
    entry.leaving = true;
    const done = (): void => void (this.topics.get(topic) === entry && entry.leaving && this.topics.delete(topic));
    this.window.outbox.push(this.command({ cmd: 'unsubscribe', topic }, done, done));
    this.flush();
  }

  private dropSub(entry: TopicEntry, error: ClientError | undefined, tell = true): void {
    const sub = entry.sub;
    if (sub === undefined) return;
    entry.sub = undefined;
    sub.state = 'unsubscribed';
    // A refusal goes to onError, or else to the client's 'error' event: never nowhere.
    if (tell && error === undefined) this.call(() => sub.options.onUnsubscribed?.());
    else if (tell) sub.options.onError ? this.call(() => sub.options.onError?.(error as ClientError)) : this.emit('error', error as ClientError);
  }

  private deliver(entry: TopicEntry, out: Delivery[]): void {
    const options = entry.sub?.options;
    for (const d of out) {
      entry.shown = (d.kind === 'pub' ? readPosition(d.pub) : d.gap.to) ?? entry.shown;
      if (d.kind === 'pub') options?.onPublication ? this.call(() => options.onPublication?.(d.pub)) : this.emit('publication', d.pub);
      else options?.onGap ? this.call(() => options.onGap?.(d.gap)) : this.emit('gap', d.gap);
    }
    entry.shown = undefined;
  }

  // ---- Commands

  private command(frame: Record<string, unknown>, resolve = (_: Record<string, unknown>): void => {}, reject = (_: ClientError): void => {}): Command {
    return { frame, user: false, resolve, reject };
  }

  private request(frame: Record<string, unknown>, timeout = this.o.timeout): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const cmd: Command = { frame, user: true, resolve, reject };
      const refusal = this.window.refusal(this.status === 'connected');
      if (refusal !== undefined) return reject(refusal);
      cmd.timer = this.clock.setTimeout(() => this.window.expire(cmd), timeout);
      this.window.outbox.push(cmd);
      this.flush();
    });
  }

  /** Sends what waits, while the window has room. */
  private flush(): void {
    for (let text; this.status === 'connected' && (text = this.window.next()) !== undefined; ) this.write(text);
  }

  private write(text: string): void {
    try { (this.transport as Transport).send(text); } catch (error) { this.fail(CloseCode.Abnormal, 'send failed', true, error); }
  }

  // ---- Tokens

  private scheduleRefresh(expiresAt: number | undefined): void {
    this.clock.clearTimeout(this.timers.refresh);
    const times = this.token === undefined ? undefined : tokenTimes(this.token);
    const exp = times?.exp ?? expiresAt;
    if (this.getToken === undefined || exp === undefined) return;
    const delay = refreshDelay(exp * 1000, this.clock.now(), times?.iat === undefined ? undefined : times.iat * 1000);
    this.timers.refresh = this.clock.setTimeout(() => void this.refresh(), delay);
  }

  private async refresh(): Promise<void> {
    const generation = this.generation;
    const old = this.token;
    try {
      this.token = await (this.getToken as () => Promise<string>)();
    } catch (error) {
      return this.emit('error', new ClientError(ErrorCode.TokenInvalid, 'getToken() failed', { cause: error }));
    }
    // The same token again would refresh in a loop: the server's 4001 brings a reconnect instead.
    if (generation !== this.generation || this.token === old) return;
    const next = (result: Record<string, unknown>): void => this.scheduleRefresh(typeof result.expires_at === 'number' ? result.expires_at : undefined);
    const cmd = this.command({ cmd: 'refresh', token: this.token }, next, (error) => {
      if (error.code === ErrorCode.Disconnected) return;
      this.tokenStale ||= error.code === ErrorCode.TokenInvalid; // the next connection asks getToken() again
      this.emit('error', error);
    });
    this.window.outbox.unshift(cmd);
    this.flush();
  }
}
