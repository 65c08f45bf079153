// The message proxy: GatewayWorker's Events::onMessage in any language. Each
// message a client sends is POSTed to the backend — {client, user, data} for
// text, {client, user, data_base64} for binary — one connection's messages in
// order (the next waits for the answer to the previous), and a non-empty 200
// answer goes back to that client (binary when the answer says
// application/octet-stream). A connection with messageMaxQueue waiting stops
// being read until they are answered: TCP then holds the client back, nothing
// is dropped and nothing grows. Timeouts and errors are counted and logged
// once per cause; the connection stays.
import { Fifo } from '../redis/fifo.js';
import { Semaphore } from '../pubsub/semaphore.js';
import { HttpPostError, post } from './http-post.js';

/** Who sent a message: a connection's id and user. */
export interface MessageSource {
  readonly id: string;
  readonly user: string | undefined;
}

/**
 * Decides whether a message goes to the message proxy. Declared as a method
 * so that a router written for the server's Connection (which is a
 * MessageSource) fits: method parameters are compared both ways.
 */
export type MessageRouter = { route(connection: MessageSource, data: string | Buffer, isBinary: boolean): boolean }['route'];

/** Answers a wssd.v1 client's rpc (a method, for the same reason as MessageRouter). */
export type RpcHandler = { answer(connection: MessageSource, data: string | Buffer, isBinary: boolean): unknown }['answer'];

/** A connection as the proxy needs it (Connection has it). */
export interface ProxiedClient extends MessageSource {
  /** Stop and restart reading from the client. */
  pause(): void;
  resume(): void;
}

/** The backend's answer to one message: bytes to send back (binary or text), or nothing. */
export type ProxyAnswer = { data: Buffer; binary: boolean } | undefined;

export interface MessageProxyOptions {
  url: URL;
  timeout: number;
  /** One connection's messages waiting; at this many, reading from it pauses. */
  maxQueue: number;
  /** Requests in flight at once over every connection. */
  concurrency: number;
  /** Largest answer read. */
  maxAnswer: number;
  /** A message the backend did not take, with its cause: for the log and the counters. */
  onFailure: (cause: string, message: string) => void;
}

interface Waiting {
  data: string | Buffer;
  binary: boolean;
  answered: (answer: ProxyAnswer) => void;
}

export class MessageProxy {
  private readonly queues = new Map<ProxiedClient, Fifo<Waiting>>();
  private readonly slots: Semaphore;

  constructor(private readonly options: MessageProxyOptions) {
    this.slots = new Semaphore(options.concurrency);
  }

  /**
   * Hands a client's message to the backend, after the client's earlier ones;
   * `answered` gets what to send back (or nothing), also after a failure.
   */
  forward(client: ProxiedClient, data: string | Buffer, binary: boolean, answered: (answer: ProxyAnswer) => void): void {
    let queue = this.queues.get(client);
    const idle = queue === undefined;
    if (queue === undefined) this.queues.set(client, (queue = new Fifo()));
    queue.push({ data, binary, answered });
    // Bounded per connection: the client waits, in TCP, for its earlier messages to be answered.
    if (queue.length >= this.options.maxQueue) client.pause();
    if (idle) void this.run(client, queue);
  }

  /** Messages waiting for the backend, over every connection. */
  get waiting(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  private async run(client: ProxiedClient, queue: Fifo<Waiting>): Promise<void> {
    for (let next = queue.peek(); next !== undefined; next = queue.peek()) {
      const answer = await this.slots.run(() => this.ask(client, next));
      queue.shift();
      if (queue.length === this.options.maxQueue - 1) client.resume();
      next.answered(answer);
    }
    this.queues.delete(client);
  }

  private async ask(client: ProxiedClient, message: Waiting): Promise<ProxyAnswer> {
    const body = JSON.stringify(
      message.binary || typeof message.data !== 'string'
        ? { client: client.id, user: client.user ?? null, data_base64: Buffer.from(message.data).toString('base64') }
        : { client: client.id, user: client.user ?? null, data: message.data },
    );
    try {
      const answer = await post(this.options.url, body, { timeout: this.options.timeout, maxBody: this.options.maxAnswer });
      if (answer.status === 204 || (answer.status === 200 && answer.body.length === 0)) return undefined;
      if (answer.status !== 200) {
        this.options.onFailure('message-proxy-status', `the message proxy answered ${answer.status}`);
        return undefined;
      }
      return { data: answer.body, binary: /^application\/octet-stream\b/i.test(answer.contentType) };
    } catch (error) {
      const kind = error instanceof HttpPostError ? error.kind : 'network';
      this.options.onFailure(`message-proxy-${kind}`, `the message proxy failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}
