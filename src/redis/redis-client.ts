// A Redis connection for wssd's broker: RESP3 (HELLO 3 with AUTH and
// SETNAME), commands pipelined and written once per tick, pub/sub pushes,
// subscriptions batched per tick, and reconnection with capped, jittered
// backoff that restores every subscription. Replies are matched to commands
// in order (RESP guarantees it); pushes (`>`) are not replies and go to the
// 'push' event.
//
// Bounded in every state: commands waiting to be sent plus those sent and not
// yet answered are at most maxPending (and maxPendingBytes); past that a
// command is refused at once, never buffered without limit. A Redis that stops
// answering (frozen, paused, a dead link that TCP has not noticed) is found by
// a deadline on the oldest command in flight — an idle connection sends a
// PING now and then so there always is one — and treated as lost: the
// connection is dropped and made again.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { systemClock, type Clock, type Timer } from '../io/clock.js';
import { Fifo } from './fifo.js';
import { encodeCommand, RedisReplyError, RespParser, RespProtocolError, RespPush, type CommandArgument, type RespLimits, type RespValue } from './resp.js';
import type { RedisEndpoint } from './redis-url.js';

export interface RedisClientOptions {
  endpoint: RedisEndpoint;
  /** CLIENT SETNAME, shown by CLIENT LIST: which wssd node this is. */
  name?: string;
  /** TLS (rediss://): CA to trust, server name to check, as node:tls takes them. */
  tls?: Pick<tls.ConnectionOptions, 'ca' | 'servername' | 'rejectUnauthorized' | 'cert' | 'key'>;
  /** From connect to HELLO's answer, in ms. */
  connectTimeout?: number;
  /** Reconnection delay bounds, in ms: doubling from min to max, each with jitter. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /** Commands waiting or in flight, in any state; more are refused. */
  maxPending?: number;
  /** Bytes of those commands; more are refused. */
  maxPendingBytes?: number;
  /** A command unanswered this long (ms) means Redis stopped answering: the connection is dropped and made again. */
  commandTimeout?: number;
  /** Commands run on every new connection before anything queued (SCRIPT LOAD…). */
  setup?: readonly (readonly CommandArgument[])[];
  resp?: RespLimits;
  clock?: Clock;
}

export type RedisState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface RedisClientEvents {
  /** Connected, authenticated, subscriptions restored: commands flow. `reconnect` is true after a loss. */
  ready: [reconnect: boolean];
  /**
   * The connection was lost, or could not be made (`everReady` false: it
   * never was); a reconnection is scheduled in `delay` ms. The error says why
   * (ECONNREFUSED, WRONGPASS…, no reply within the deadline, a malformed reply).
   */
  down: [error: Error, delay: number, everReady: boolean];
  /** A push message (pub/sub `message`, `subscribe` confirmations…). */
  push: [push: RespPush];
}

/** A command that could not be carried out for lack of a connection, or because too many wait. */
export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

interface Pending {
  bytes: Buffer;
  resolve: (value: RespValue) => void;
  reject: (error: Error) => void;
  /** May be sent again after a lost connection (it is idempotent). */
  retry: boolean;
  /** When it was written, on the clock (in flight only). */
  sentAt: number;
}

export interface CommandOptions {
  /**
   * The command is idempotent: if the connection is lost before its reply,
   * send it again (ahead of everything queued after it) instead of failing it.
   */
  retry?: boolean;
}

/** Most channels in one SUBSCRIBE or UNSUBSCRIBE: a tick's changes go in commands of this many. */
const CHANNELS_PER_COMMAND = 1000;

export class RedisClient extends EventEmitter<RedisClientEvents> {
  state: RedisState = 'connecting';
  private readonly options: Required<Omit<RedisClientOptions, 'name' | 'tls' | 'resp'>> & Pick<RedisClientOptions, 'name' | 'tls' | 'resp'>;
  private socket: net.Socket | undefined;
  private readonly parser: RespParser;
  /** Sent, waiting for their replies, in order. */
  private inFlight = new Fifo<Pending>();
  /** Not sent yet: waiting for the connection (or for the end of the tick). */
  private queue: Pending[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** Channels to be subscribed to, restored on every reconnection. */
  private readonly channels = new Set<string>();
  /** Changes of the subscriptions not yet sent (batched per tick). */
  private readonly toSubscribe = new Set<string>();
  private readonly toUnsubscribe = new Set<string>();
  private attempt = 0;
  private everReady = false;
  private reconnectTimer: Timer | undefined;
  private connectTimer: Timer | undefined;
  private watchdog: Timer | undefined;
  /** When something was last written or read on the connection. */
  private lastActivity = 0;
  /** Why the current socket failed, when it said (its 'error'). */
  private socketError: Error | undefined;

  constructor(options: RedisClientOptions) {
    super();
    // Spread, then undefined fields dropped, so an option given as undefined keeps its default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RedisClientOptions;
    this.options = {
      connectTimeout: 5000,
      minReconnectDelay: 100,
      maxReconnectDelay: 5000,
      maxPending: 100_000,
      maxPendingBytes: 128 * 1024 * 1024,
      commandTimeout: 5000,
      setup: [],
      clock: systemClock,
      ...given,
    };
    this.parser = new RespParser((value) => this.reply(value), options.resp);
  }

  /** Starts connecting; returns once ready the first time (or rejects if closed before). */
  connect(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.off('down', onDown);
        resolve();
      };
      const onDown = (error: Error): void => {
        if (this.state === 'closed') {
          this.off('ready', onReady);
          reject(error);
        }
      };
      this.once('ready', onReady);
      this.on('down', onDown);
    });
    this.open();
    return ready;
  }

  /** Sends a command (pipelined: many can be in flight); resolves with its reply, rejects with a RedisReplyError. */
  command(args: readonly CommandArgument[], options?: CommandOptions): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') return reject(new RedisUnavailableError('the Redis client is closed'));
      const waiting = this.queue.length + this.inFlight.length;
      if (waiting >= this.options.maxPending || this.pendingBytes >= this.options.maxPendingBytes) {
        const why = this.state === 'ready' ? 'Redis does not keep up' : 'Redis is unavailable';
        return reject(new RedisUnavailableError(`${why}: ${waiting} commands (${this.pendingBytes} bytes) already wait`));
      }
      const bytes = encodeCommand(args);
      this.pendingBytes += bytes.length;
      this.queue.push({ bytes, resolve, reject, retry: options?.retry === true, sentAt: 0 });
      if (this.state === 'ready') this.scheduleFlush();
    });
  }

  /** Subscribes to `channel` now (batched with the tick's others) and after every reconnection, until unsubscribe(). */
  subscribe(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    if (!this.toUnsubscribe.delete(channel)) this.toSubscribe.add(channel);
    if (this.state === 'ready') this.scheduleFlush();
  }

  unsubscribe(channel: string): void {
    if (!this.channels.delete(channel)) return;
    if (!this.toSubscribe.delete(channel)) this.toUnsubscribe.add(channel);
    if (this.state === 'ready') this.scheduleFlush();
  }

  /** Channels this client is (or will again be) subscribed to. */
  get subscriptions(): ReadonlySet<string> {
    return this.channels;
  }

  /** Commands waiting for a connection or for the end of the tick. */
  get queued(): number {
    return this.queue.length;
  }

  /** Commands sent and not answered yet. */
  get inFlightCount(): number {
    return this.inFlight.length;
  }

  /** Sends what is queued, waits for every reply, then closes. Later commands are refused. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'ready') {
      this.flush();
      const last = this.inFlight.last();
      if (last !== undefined) {
        await new Promise<void>((resolve) => {
          const { resolve: r, reject: j } = last;
          last.resolve = (v) => (r(v), resolve());
          last.reject = (e) => (j(e), resolve());
        });
      }
    }
    this.state = 'closed';
    const clock = this.options.clock;
    clock.clearTimeout(this.reconnectTimer);
    clock.clearTimeout(this.connectTimer);
    clock.clearTimeout(this.watchdog);
    this.socket?.destroy();
    this.socket = undefined;
    this.failAll(new RedisUnavailableError('the Redis client was closed'));
  }

  private open(): void {
    const { endpoint } = this.options;
    this.parser.reset();
    this.socketError = undefined;
    const socket = endpoint.tls
      ? tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          ...this.options.tls,
          servername: this.options.tls?.servername ?? (net.isIP(endpoint.host) === 0 ? endpoint.host : undefined),
        })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    this.socket = socket;
    socket.setNoDelay(true);
    this.connectTimer = this.options.clock.setTimeout(() => socket.destroy(new Error(`no answer within ${this.options.connectTimeout} ms`)), this.options.connectTimeout);
    socket.on(endpoint.tls ? 'secureConnect' : 'connect', () => void this.handshake(socket));
    socket.on('data', (chunk: Buffer) => {
      this.lastActivity = this.options.clock.now();
      try {
        this.parser.push(chunk);
      } catch (error) {
        // Bytes that are not RESP, or a reply past a limit: this connection cannot be trusted; start again.
        socket.destroy(error as Error);
      }
    });
    socket.on('error', (error: Error) => {
      if (socket === this.socket) this.socketError ??= error;
    });
    socket.on('close', () => this.lost(socket));
  }

  /** HELLO 3 (with AUTH and SETNAME), SELECT, the setup commands, the subscriptions; then ready. */
  private async handshake(socket: net.Socket): Promise<void> {
    const { endpoint, name } = this.options;
    const hello: CommandArgument[] = ['HELLO', 3];
    if (endpoint.password !== undefined) hello.push('AUTH', endpoint.username ?? 'default', endpoint.password);
    if (name !== undefined) hello.push('SETNAME', name);
    try {
      await this.direct(socket, hello);
      if (endpoint.db !== 0) await this.direct(socket, ['SELECT', endpoint.db]);
      for (const command of this.options.setup) await this.direct(socket, command);
    } catch (error) {
      // WRONGPASS, NOAUTH, NOPERM, an unknown HELLO (Redis 5)…: said as Redis said it.
      const reason = error instanceof RedisReplyError ? new Error(`Redis refused the handshake: ${error.message}`) : error instanceof Error ? error : new Error(String(error));
      socket.destroy(reason);
      return;
    }
    if (socket !== this.socket) return;
    this.options.clock.clearTimeout(this.connectTimer);
    this.attempt = 0;
    // Every channel again, in commands of a bounded size; nothing changed before this is still to send.
    this.toSubscribe.clear();
    this.toUnsubscribe.clear();
    for (const batch of batches([...this.channels])) this.write(encodeCommand(['SUBSCRIBE', ...batch]));
    this.state = 'ready';
    const reconnect = this.everReady;
    this.everReady = true;
    this.lastActivity = this.options.clock.now();
    this.armWatchdog();
    this.flush();
    this.emit('ready', reconnect);
  }

  /** A command sent at once, ahead of the queue (the handshake's own). */
  private direct(socket: net.Socket, args: readonly CommandArgument[]): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      const bytes = encodeCommand(args);
      this.inFlight.push({ bytes, resolve, reject, retry: false, sentAt: this.options.clock.now() });
      this.pendingBytes += bytes.length;
      socket.write(bytes);
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  /** Writes the tick's subscription changes and every queued command in one write: a tick's publishes cost one round trip. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.state !== 'ready') return;
    const out: Buffer[] = [];
    if (this.toUnsubscribe.size > 0) for (const batch of batches([...this.toUnsubscribe])) out.push(encodeCommand(['UNSUBSCRIBE', ...batch]));
    if (this.toSubscribe.size > 0) for (const batch of batches([...this.toSubscribe])) out.push(encodeCommand(['SUBSCRIBE', ...batch]));
    this.toUnsubscribe.clear();
    this.toSubscribe.clear();
    const queue = this.queue;
    this.queue = [];
    const now = this.options.clock.now();
    for (const pending of queue) {
      pending.sentAt = now;
      this.inFlight.push(pending);
      out.push(pending.bytes);
    }
    if (out.length > 0) this.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  private write(bytes: Buffer): void {
    this.lastActivity = this.options.clock.now();
    this.socket?.write(bytes);
  }

  private reply(value: RespValue): void {
    if (value instanceof RespPush) {
      this.emit('push', value);
      return;
    }
    const pending = this.inFlight.shift();
    if (pending === undefined) return; // a reply nobody waits for (cannot happen with RESP's ordering)
    this.pendingBytes -= pending.bytes.length;
    if (value instanceof RedisReplyError) pending.reject(value);
    else pending.resolve(value);
  }

  /**
   * Every commandTimeout / 4 while connected: a command in flight past the
   * deadline means Redis stopped answering; a connection quiet for a while
   * gets a PING, so a frozen Redis is found even without traffic.
   */
  private armWatchdog(): void {
    const { clock, commandTimeout } = this.options;
    clock.clearTimeout(this.watchdog);
    this.watchdog = clock
      .setTimeout(() => {
        if (this.state !== 'ready') return;
        const now = clock.now();
        const oldest = this.inFlight.peek();
        if (oldest !== undefined && now - oldest.sentAt > commandTimeout) {
          this.socket?.destroy(new Error(`no reply from Redis within ${commandTimeout} ms (${this.inFlight.length} commands in flight)`));
          return;
        }
        if (oldest === undefined && now - this.lastActivity >= commandTimeout / 2) this.command(['PING']).catch(() => {});
        this.armWatchdog();
      }, Math.max(10, Math.floor(commandTimeout / 4)))
      .unref();
  }

  /** The connection is gone: what was sent has an unknown fate and is refused (unless it may be sent again); the queue waits for the next one. */
  private lost(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    const { clock, endpoint } = this.options;
    clock.clearTimeout(this.connectTimer);
    clock.clearTimeout(this.watchdog);
    const cause = describeCause(this.socketError);
    const where = `${endpoint.host}:${endpoint.port}`;
    const error = new RedisUnavailableError(this.everReady ? `connection to Redis at ${where} lost: ${cause}` : `cannot connect to Redis at ${where}: ${cause}`);
    // What may be sent again goes back to the front of the queue, in its order; the rest failed.
    const again: Pending[] = [];
    for (const p of this.inFlight.drain()) {
      if (p.retry && this.state !== 'closed') again.push(p);
      else {
        this.pendingBytes -= p.bytes.length;
        p.reject(error);
      }
    }
    if (again.length > 0) this.queue.unshift(...again);
    if (this.state === 'closed') return;
    this.state = this.everReady ? 'reconnecting' : 'connecting';
    const { minReconnectDelay, maxReconnectDelay } = this.options;
    const ceiling = Math.min(maxReconnectDelay, minReconnectDelay * 2 ** this.attempt);
    this.attempt++;
    // Half fixed, half random: nodes that lost Redis together do not come back in step.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.emit('down', error, delay, this.everReady);
    this.reconnectTimer = clock.setTimeout(() => {
      if (this.state !== 'closed') this.open();
    }, delay);
  }

  private failAll(error: Error): void {
    for (const p of this.inFlight.drain()) p.reject(error);
    for (const q of this.queue.splice(0)) q.reject(error);
    this.pendingBytes = 0;
  }
}

/** Why a socket failed, in words an operator can act on: the errno code, Redis's refusal, the deadline. */
function describeCause(error: Error | undefined): string {
  if (error === undefined) return 'closed by the server';
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED: nothing listens there)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (error instanceof RespProtocolError) return error.message;
  return code !== undefined && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

function batches(channels: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < channels.length; i += CHANNELS_PER_COMMAND) out.push(channels.slice(i, i + CHANNELS_PER_COMMAND));
  return out;
}
