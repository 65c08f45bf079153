// Backend events: what happens to connections — connect, disconnect,
// subscribe, unsubscribe — POSTed to the backend in batches, in the order it
// happened (one request in flight at a time, so per client too), each
// request signed with HMAC-SHA256 over its body. A batch the backend did not
// take (a timeout, a network error, a 5xx, 408 or 429) is sent again after a
// growing delay; one it refused (another 4xx) is dropped and counted. Events
// wait in a bounded queue: past it a new event is dropped and counted, so a
// backend that is down never holds a connection back or grows memory.
import { createHmac, randomBytes } from 'node:crypto';
import type { Clock, Timer } from '../io/clock.js';
import { Fifo } from '../redis/fifo.js';
import { HttpPostError, post } from './http-post.js';

export interface BackendEvent {
  type: 'connect' | 'disconnect' | 'subscribe' | 'unsubscribe';
  client: string;
  user?: string;
  /** connect: the client's address, path and info. */
  ip?: string;
  path?: string;
  info?: Record<string, unknown>;
  /** disconnect: the close code and reason. */
  code?: number;
  reason?: string;
  /** subscribe, unsubscribe: the topic. */
  topic?: string;
  /** When it happened, ms since the epoch. */
  time: number;
}

export interface BackendEventsOptions {
  url: URL;
  secret: string;
  /** Events waiting at most; past it new ones are dropped and counted. */
  maxQueue: number;
  /** The process that sends them (its node), in every request. */
  node: string;
  /** Per request. */
  timeout: number;
  clock: Clock;
  /** Events that will never reach the backend, and why ('events-queue-full', 'events-refused'). */
  onLost: (cause: string, count: number) => void;
  /** A request that failed and will be retried, with its cause: for the log and the counters. */
  onFailure: (cause: string, message: string) => void;
}

/** Most events in one request, and the bytes a request aims to stay under. */
export const BATCH_EVENTS = 100;
const BATCH_BYTES = 256 * 1024;
/** Retry delays: doubling from the first to the last, each with jitter. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 30_000;

export const SIGNATURE_HEADER = 'x-wssd-signature';

/** The signature header's value for a body: "sha256=" and the HMAC-SHA256 in hex. */
export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class BackendEvents {
  private readonly queue = new Fifo<string>();
  private sending = false;
  private retries = 0;
  private retryTimer: Timer | undefined;
  private batch = 0;
  /** Names this process's batches, so the backend can tell a batch sent again from a new one. */
  private readonly sender = randomBytes(4).toString('hex');
  private closed = false;

  constructor(private readonly options: BackendEventsOptions) {}

  /** Queues an event (O(1), never blocking): it goes out with the next batch. */
  push(event: BackendEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.maxQueue) {
      this.options.onLost('events-queue-full', 1);
      return;
    }
    this.queue.push(JSON.stringify(event));
    if (!this.sending && this.retryTimer === undefined) queueMicrotask(() => void this.send());
  }

  /** Events waiting. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Sends what waits, in batches, one request at a time, until the queue is empty or a request fails. */
  private async send(): Promise<void> {
    if (this.sending || this.closed) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const count = this.take();
        const events = this.peek(count);
        const body = `{"node":${JSON.stringify(this.options.node)},"batch":"${this.sender}-${this.batch}","events":[${events.join(',')}]}`;
        const outcome = await this.deliver(body);
        if (outcome === 'retry') {
          this.scheduleRetry();
          return;
        }
        if (outcome === 'refused') this.options.onLost('events-refused', count);
        for (let i = 0; i < count; i++) this.queue.shift();
        this.batch++;
        this.retries = 0;
      }
    } finally {
      this.sending = false;
    }
  }

  /** How many events the next batch takes: up to BATCH_EVENTS, and about BATCH_BYTES (at least one). */
  private take(): number {
    let count = 0;
    let bytes = 0;
    for (const event of this.peek(Math.min(BATCH_EVENTS, this.queue.length))) {
      if (count > 0 && bytes + event.length > BATCH_BYTES) break;
      bytes += event.length;
      count++;
    }
    return count;
  }

  /** The oldest `count` events, left in the queue until their batch is taken. */
  private peek(count: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.queue.at(i) as string);
    return out;
  }

  private async deliver(body: string): Promise<'ok' | 'refused' | 'retry'> {
    const { url, secret, timeout } = this.options;
    try {
      const answer = await post(url, body, { timeout, maxBody: 64 * 1024, headers: { [SIGNATURE_HEADER]: signature(secret, body) } });
      if (answer.status >= 200 && answer.status < 300) return 'ok';
      if (answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) {
        this.options.onFailure('events-refused', `the events endpoint refused a batch with ${answer.status}: it is dropped`);
        return 'refused';
      }
      this.options.onFailure('events-status', `the events endpoint answered ${answer.status}; retrying`);
    } catch (error) {
      const kind = error instanceof HttpPostError ? error.kind : 'network';
      this.options.onFailure(`events-${kind}`, `the events endpoint failed: ${error instanceof Error ? error.message : String(error)}; retrying`);
    }
    return 'retry';
  }

  private scheduleRetry(): void {
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.retries);
    this.retries++;
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.retryTimer = this.options.clock
      .setTimeout(() => {
        this.retryTimer = undefined;
        void this.send();
      }, delay)
      .unref();
  }

  /**
   * At shutdown: sends what waits (the disconnects of the shutdown among
   * it) for at most `ms`, then stops; what is still left is counted as lost.
   */
  async close(ms: number): Promise<void> {
    const deadline = this.options.clock.now() + ms;
    while (this.queue.length > 0 && this.options.clock.now() < deadline && this.retries === 0) {
      if (!this.sending) void this.send();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.closed = true;
    this.options.clock.clearTimeout(this.retryTimer);
    if (this.queue.length > 0) this.options.onLost('events-shutdown', this.queue.length);
  }
}
