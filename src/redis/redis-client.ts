// A Redis connection for wssd's broker: RESP3 (HELLO 3 with AUTH and
// SETNAME), commands pipelined and written once per tick, pub/sub pushes on
// the same connection, and reconnection with capped, jittered backoff that
// restores every subscription. While disconnected, commands wait in a
// bounded queue; past the bound they are refused at once, never buffered
// without limit. Replies are matched to commands in order (RESP guarantees
// it); pushes (`>`) are not replies and go to the 'push' event.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { systemClock, type Clock, type Timer } from '../io/clock.js';
import { encodeCommand, RedisReplyError, RespParser, RespPush, type CommandArgument, type RespLimits, type RespValue } from './resp.js';
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
  /** Commands held while disconnected; more are refused. */
  maxQueued?: number;
  /** Commands run on every new connection before anything queued (SCRIPT LOAD…). */
  setup?: readonly (readonly CommandArgument[])[];
  resp?: RespLimits;
  clock?: Clock;
}

export type RedisState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface RedisClientEvents {
  /** Connected, authenticated, subscriptions restored: commands flow. `reconnect` is true after a loss. */
  ready: [reconnect: boolean];
  /** The connection was lost (or could not be made); a reconnection is scheduled in `delay` ms. */
  down: [error: Error, delay: number];
  /** A push message (pub/sub `message`, `subscribe` confirmations…). */
  push: [push: RespPush];
}

/** A command that could not be carried out for lack of a connection. */
export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (error: Error) => void;
  /** Set for commands that may be sent again after a lost connection (they are idempotent). */
  retry?: Buffer;
}

interface Queued extends Pending {
  bytes: Buffer;
}

export interface CommandOptions {
  /**
   * The command is idempotent: if the connection is lost before its reply,
   * send it again (ahead of everything queued after it) instead of failing it.
   */
  retry?: boolean;
}

export class RedisClient extends EventEmitter<RedisClientEvents> {
  state: RedisState = 'connecting';
  private readonly options: Required<Omit<RedisClientOptions, 'name' | 'tls' | 'resp'>> & Pick<RedisClientOptions, 'name' | 'tls' | 'resp'>;
  private socket: net.Socket | undefined;
  private readonly parser: RespParser;
  /** Sent, waiting for their replies, in order. */
  private inFlight: Pending[] = [];
  /** Not sent yet: waiting for the connection (or for the end of the tick). */
  private queue: Queued[] = [];
  private flushScheduled = false;
  /** Channels to be subscribed to, restored on every reconnection. */
  private readonly channels = new Set<string>();
  private attempt = 0;
  private everReady = false;
  private reconnectTimer: Timer | undefined;
  private connectTimer: Timer | undefined;

  constructor(options: RedisClientOptions) {
    super();
    // Spread, then undefined fields dropped, so an option given as undefined keeps its default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RedisClientOptions;
    this.options = {
      connectTimeout: 5000,
      minReconnectDelay: 100,
      maxReconnectDelay: 5000,
      maxQueued: 10_000,
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
      if (this.state !== 'ready' && this.queue.length >= this.options.maxQueued) {
        return reject(new RedisUnavailableError(`Redis is unavailable and ${this.queue.length} commands already wait`));
      }
      const bytes = encodeCommand(args);
      this.queue.push({ bytes, resolve, reject, retry: options?.retry === true ? bytes : undefined });
      if (this.state === 'ready') this.scheduleFlush();
    });
  }

  /** Subscribes to `channel` now and after every reconnection, until unsubscribe(). */
  subscribe(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    // In RESP3 the confirmation is a push, not a reply: nothing to wait for in order.
    if (this.state === 'ready') this.write(encodeCommand(['SUBSCRIBE', channel]));
  }

  unsubscribe(channel: string): void {
    if (!this.channels.delete(channel)) return;
    if (this.state === 'ready') this.write(encodeCommand(['UNSUBSCRIBE', channel]));
  }

  /** Channels this client is (or will again be) subscribed to. */
  get subscriptions(): ReadonlySet<string> {
    return this.channels;
  }

  /** Commands waiting for a connection or for the end of the tick. */
  get queued(): number {
    return this.queue.length;
  }

  /** Sends what is queued, waits for every reply, then closes. Later commands are refused. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'ready') {
      this.flush();
      const last = this.inFlight[this.inFlight.length - 1];
      if (last !== undefined) {
        await new Promise<void>((resolve) => {
          const { resolve: r, reject: j } = last;
          last.resolve = (v) => (r(v), resolve());
          last.reject = (e) => (j(e), resolve());
        });
      }
    }
    this.state = 'closed';
    this.options.clock.clearTimeout(this.reconnectTimer);
    this.options.clock.clearTimeout(this.connectTimer);
    this.socket?.destroy();
    this.socket = undefined;
    this.failAll(new RedisUnavailableError('the Redis client was closed'));
  }

  private open(): void {
    const { endpoint } = this.options;
    this.parser.reset();
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
    this.connectTimer = this.options.clock.setTimeout(() => socket.destroy(new Error(`no answer from Redis within ${this.options.connectTimeout} ms`)), this.options.connectTimeout);
    socket.on(endpoint.tls ? 'secureConnect' : 'connect', () => void this.handshake(socket));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (error) {
        // Bytes that are not RESP: this connection cannot be trusted; start again.
        socket.destroy(error as Error);
      }
    });
    socket.on('error', () => {}); // 'close' follows and handles it
    socket.on('close', () => this.lost(socket, new RedisUnavailableError(`connection to Redis at ${endpoint.host}:${endpoint.port} lost`)));
  }

  /** HELLO 3 (with AUTH and SETNAME), SELECT, the subscriptions; then ready. */
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
      socket.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (socket !== this.socket) return;
    this.options.clock.clearTimeout(this.connectTimer);
    this.attempt = 0;
    if (this.channels.size > 0) this.write(encodeCommand(['SUBSCRIBE', ...this.channels]));
    this.state = 'ready';
    const reconnect = this.everReady;
    this.everReady = true;
    this.flush();
    this.emit('ready', reconnect);
  }

  /** A command sent at once, ahead of the queue (the handshake's own). */
  private direct(socket: net.Socket, args: readonly CommandArgument[]): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      this.inFlight.push({ resolve, reject });
      socket.write(encodeCommand(args));
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  /** Writes every queued command in one write: a tick's publishes cost one round trip. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.state !== 'ready' || this.queue.length === 0) return;
    const queue = this.queue;
    this.queue = [];
    const bytes = new Array<Buffer>(queue.length);
    for (let i = 0; i < queue.length; i++) {
      bytes[i] = queue[i].bytes;
      this.inFlight.push(queue[i]);
    }
    this.write(bytes.length === 1 ? bytes[0] : Buffer.concat(bytes));
  }

  private write(bytes: Buffer): void {
    this.socket?.write(bytes);
  }

  private reply(value: RespValue): void {
    if (value instanceof RespPush) {
      this.emit('push', value);
      return;
    }
    const pending = this.inFlight.shift();
    if (pending === undefined) return; // a reply nobody waits for (cannot happen with RESP's ordering)
    if (value instanceof RedisReplyError) pending.reject(value);
    else pending.resolve(value);
  }

  /** The connection is gone: what was sent has an unknown fate and is refused; the queue waits for the next one. */
  private lost(socket: net.Socket, error: Error): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.options.clock.clearTimeout(this.connectTimer);
    const inFlight = this.inFlight;
    this.inFlight = [];
    // What may be sent again goes back to the front of the queue, in its order; the rest failed.
    const again: Queued[] = [];
    for (const p of inFlight) {
      if (p.retry !== undefined && this.state !== 'closed') again.push({ bytes: p.retry, resolve: p.resolve, reject: p.reject, retry: p.retry });
      else p.reject(error);
    }
    if (again.length > 0) this.queue.unshift(...again);
    if (this.state === 'closed') return;
    this.state = 'reconnecting';
    const { minReconnectDelay, maxReconnectDelay } = this.options;
    const ceiling = Math.min(maxReconnectDelay, minReconnectDelay * 2 ** this.attempt);
    this.attempt++;
    // Half fixed, half random: nodes that lost Redis together do not come back in step.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.emit('down', error, delay);
    this.reconnectTimer = this.options.clock.setTimeout(() => {
      if (this.state !== 'closed') this.open();
    }, delay);
  }

  private failAll(error: Error): void {
    for (const p of this.inFlight.splice(0)) p.reject(error);
    for (const q of this.queue.splice(0)) q.reject(error);
  }
}
