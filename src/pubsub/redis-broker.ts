// The bus between wssd nodes on several machines: Redis pub/sub. A node
// SUBSCRIBEs to a topic's channel (prefix + topic) only while it has local
// subscribers of it — the registry's 0 → 1 and 1 → 0 — so it never receives
// traffic nobody on it wants. A publication is PUBLISHed once, tagged with
// this node's id so the node that made it (which delivered it locally
// already) skips it when Redis sends it back.
//
// Redis pub/sub alone is at-most-once: what is published while a node's
// connection is down does not reach it, and a PUBLISH in flight when the
// connection drops has an unknown fate. Both are reported (the host's
// undelivered(), counted in /stats), never silent. History and resume from
// an offset are the next step (see the README's "Many machines").
import { randomBytes } from 'node:crypto';
import { RedisClient, type RedisClientOptions } from '../redis/redis-client.js';
import { parseRedisUrl, redact } from '../redis/redis-url.js';
import { asText, type RespPush } from '../redis/resp.js';
import type { Broker, BrokerHost, BrokerQuestion } from './broker.js';

export interface RedisBrokerOptions {
  /** redis://[user:pass@]host:port/db or rediss://… */
  url: string;
  /** Put before every topic to make its channel, so several applications can share one Redis. Default "wssd:". */
  prefix?: string;
  /** CLIENT SETNAME of this node's connection. */
  name?: string;
  /** For rediss://: the CA to trust, the server name to check. */
  tls?: RedisClientOptions['tls'];
  /** Publications held while Redis is away; past it they are reported undelivered. Default 10,000. */
  maxQueued?: number;
}

/** A publication on the wire: version, flags, the publishing node's id, the payload. */
const VERSION = 1;
const BINARY = 1;
const HEADER = 2 + 8;

export class RedisBroker implements Broker {
  readonly client: RedisClient;
  readonly prefix: string;
  /** Which node made a publication: this one skips its own when Redis echoes them. */
  readonly nodeId = randomBytes(8);
  private host: BrokerHost | undefined;
  private readonly where: string;

  constructor(options: RedisBrokerOptions) {
    this.prefix = options.prefix ?? 'wssd:';
    this.where = redact(options.url);
    this.client = new RedisClient({
      endpoint: parseRedisUrl(options.url),
      name: options.name ?? `wssd-${this.nodeId.toString('hex')}`,
      tls: options.tls,
      maxQueued: options.maxQueued,
    });
  }

  get connected(): boolean {
    return this.client.state === 'ready';
  }

  start(host: BrokerHost): void {
    this.host = host;
    this.client.on('push', (push) => this.receive(push));
    this.client.on('ready', (again) => host.brokerState?.(true, again ? `reconnected to Redis at ${this.where}` : `connected to Redis at ${this.where}`));
    this.client.on('down', (error, delay) => host.brokerState?.(false, `${error.message}; retrying in ${delay} ms`));
    // Connects in the background: local delivery never waits for Redis.
    void this.client.connect().catch(() => {});
  }

  subscribe(topic: string): void {
    this.client.subscribe(this.prefix + topic);
  }

  unsubscribe(topic: string): void {
    this.client.unsubscribe(this.prefix + topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    const message = Buffer.allocUnsafe(HEADER + payload.length);
    message[0] = VERSION;
    message[1] = binary ? BINARY : 0;
    this.nodeId.copy(message, 2);
    payload.copy(message, HEADER);
    this.client.command(['PUBLISH', this.prefix + topic, message]).catch((error: Error) => this.host?.undelivered?.(topic, error));
  }

  gather(question: BrokerQuestion): Promise<unknown[]> {
    // Counts over every node need their own keys in Redis (with a TTL); until then, this node's.
    return Promise.resolve(this.host === undefined ? [] : [this.host.answer(question)]);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private receive(push: RespPush): void {
    const [kind, channel, data] = push.items;
    if (kind === undefined || asText(kind) !== 'message' || !Buffer.isBuffer(data) || channel === undefined) return;
    const name = asText(channel);
    if (!name.startsWith(this.prefix) || data.length < HEADER || data[0] !== VERSION) return;
    if (this.nodeId.equals(data.subarray(2, HEADER))) return;
    this.host?.deliver(name.slice(this.prefix.length), data.subarray(HEADER), (data[1] & BINARY) !== 0);
  }
}

/** A Redis broker for createServer's `broker` option. */
export function redisBroker(url: string, options: Omit<RedisBrokerOptions, 'url'> = {}): RedisBroker {
  return new RedisBroker({ url, ...options });
}
