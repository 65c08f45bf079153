// The bus between wssd nodes on several machines: Redis pub/sub. A node
// SUBSCRIBEs to a topic's channel (prefix + topic) only while it has local
// subscribers of it — the registry's 0 → 1 and 1 → 0 — so it never receives
// traffic nobody on it wants.
//
// Topics without history: a publication is PUBLISHed once, tagged with this
// node's id so the node that made it (which delivered it locally already)
// skips it when Redis sends it back. That is at-most-once across nodes: what
// is published while a node is cut off does not reach it, and a PUBLISH in
// flight when the connection drops has an unknown fate; the latter is
// reported (undelivered), never silent.
//
// Topics with history (historySize > 0, for every topic or those under the
// history prefixes): each publication gets an offset and the topic's epoch in
// one Lua script (history.ts) and reaches every node through pub/sub with its
// position — the publishing node too, so all subscribers everywhere see one
// order per topic. A node whose connection comes back reads from the stream
// what its subscribed topics missed and delivers it, in order, before the
// newer publications; where the history cannot bridge the gap (trimmed, or a
// new epoch) the host is told.
import { createHash, randomBytes } from 'node:crypto';
import { RedisClient, type RedisClientOptions } from '../redis/redis-client.js';
import { parseRedisUrl, redact } from '../redis/redis-url.js';
import { asText, type RespPush, type RespValue } from '../redis/resp.js';
import type { Broker, BrokerHost, BrokerQuestion } from './broker.js';
import { Publication } from './publication.js';
import { judgeReplay, metaKey, publicationKey, PUBLISH_WITH_HISTORY, READ_HISTORY, splitPositioned, streamKey, type HistoryReplay, type StreamPosition } from './history.js';

export interface RedisBrokerOptions {
  /** redis://[user:pass@]host:port/db or rediss://… */
  url: string;
  /** Put before every topic to make its channel and keys, so several applications can share one Redis. Default "wssd:". */
  prefix?: string;
  /** CLIENT SETNAME of this node's connection. */
  name?: string;
  /** For rediss://: the CA to trust, the server name to check. */
  tls?: RedisClientOptions['tls'];
  /** Publications held while Redis is away; past it they are reported undelivered. Default 10,000. */
  maxQueued?: number;
  /** Entries of history kept per topic (a Stream trimmed to this size); 0, the default: no history. */
  historySize?: number;
  /** Only topics starting with one of these have history (default: every topic, when historySize > 0). */
  historyPrefixes?: readonly string[];
  /** Seconds a topic's history is kept after its last publication; 0: until trimmed. */
  historyTtl?: number;
  /** Reconnection delay bounds, in ms (default 100 doubling to 5,000, each with jitter). */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
}

/** A publication on the wire: version, flags, the publishing node's id, its token there, the payload. */
const VERSION = 1;
const BINARY = 1;
const HEADER = 2 + 8 + 4;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

/**
 * Subscriber counts over every node: each node keeps its counts in Redis
 * with this lifetime and renews them every COUNT_REFRESH, so a node that
 * dies stops counting within COUNT_TTL seconds.
 */
export const COUNT_TTL = 15;
const COUNT_REFRESH = 5000;
const PUBLISH_SHA = sha1(PUBLISH_WITH_HISTORY);
const READ_SHA = sha1(READ_HISTORY);

/** A subscribed topic with history: its last position here, and live messages held while it is being recovered. */
interface Tracked {
  last: StreamPosition | undefined;
  held: [message: Buffer, position: StreamPosition][] | undefined;
}

export class RedisBroker implements Broker {
  readonly client: RedisClient;
  readonly prefix: string;
  /** Which node made a publication: this one skips its own (without history) when Redis echoes them. */
  readonly nodeId = randomBytes(8);
  private host: BrokerHost | undefined;
  private readonly where: string;
  private readonly historySize: number;
  private readonly historyPrefixes: readonly string[] | undefined;
  private readonly historyTtl: number;
  private readonly tracked = new Map<string, Tracked>();
  private readonly nodeHex: string;
  /** Numbers this node's publications with history, for their ids. */
  private sequence = 0;
  /** This node's subscriber count per topic, and those changed since they were last written. */
  private readonly counts = new Map<string, number>();
  private readonly changedCounts = new Set<string>();
  private countsScheduled = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(options: RedisBrokerOptions) {
    this.prefix = options.prefix ?? 'wssd:';
    this.where = redact(options.url);
    this.historySize = options.historySize ?? 0;
    this.historyPrefixes = options.historyPrefixes !== undefined && options.historyPrefixes.length > 0 ? options.historyPrefixes : undefined;
    this.historyTtl = options.historyTtl ?? 0;
    this.nodeHex = this.nodeId.toString('hex');
    this.client = new RedisClient({
      endpoint: parseRedisUrl(options.url),
      name: options.name ?? `wssd-${this.nodeId.toString('hex')}`,
      tls: options.tls,
      maxQueued: options.maxQueued,
      minReconnectDelay: options.minReconnectDelay,
      maxReconnectDelay: options.maxReconnectDelay,
      // Loaded on every connection before anything queued, so EVALSHA never meets NOSCRIPT in a pipeline.
      setup: this.historySize > 0 ? [['SCRIPT', 'LOAD', PUBLISH_WITH_HISTORY], ['SCRIPT', 'LOAD', READ_HISTORY]] : [],
    });
  }

  get connected(): boolean {
    return this.client.state === 'ready';
  }

  start(host: BrokerHost): void {
    this.host = host;
    this.client.on('push', (push) => this.receive(push));
    this.client.on('ready', (again) => {
      host.brokerState?.(true, again ? `reconnected to Redis at ${this.where}` : `connected to Redis at ${this.where}`);
      this.writeCounts(true);
      if (again) for (const topic of this.tracked.keys()) void this.recover(topic);
    });
    this.client.on('down', (error, delay) => host.brokerState?.(false, `${error.message}; retrying in ${delay} ms`));
    // Connects in the background: local delivery never waits for Redis.
    void this.client.connect().catch(() => {});
    this.refreshTimer = setInterval(() => this.writeCounts(true), COUNT_REFRESH);
    this.refreshTimer.unref();
  }

  counted(topic: string, count: number): void {
    if (count > 0) this.counts.set(topic, count);
    else this.counts.delete(topic);
    this.changedCounts.add(topic);
    if (!this.countsScheduled) {
      this.countsScheduled = true;
      setImmediate(() => this.writeCounts(false));
    }
  }

  /** Writes this node's changed counts (all of them, and that it lives, when `all`), pipelined. */
  private writeCounts(all: boolean): void {
    this.countsScheduled = false;
    if (this.client.state !== 'ready') return; // written again on the next refresh
    const ignore = (): void => {};
    if (all) {
      this.client.command(['SADD', this.nodesKey, this.nodeHex]).catch(ignore);
      this.client.command(['SET', `${this.prefix}node:${this.nodeHex}`, '1', 'EX', COUNT_TTL]).catch(ignore);
    }
    const topics = all ? new Set([...this.counts.keys(), ...this.changedCounts]) : this.changedCounts;
    for (const topic of topics) {
      const count = this.counts.get(topic) ?? 0;
      const key = this.countKey(topic, this.nodeHex);
      this.client.command(count > 0 ? ['SET', key, count, 'EX', COUNT_TTL] : ['DEL', key]).catch(ignore);
    }
    this.changedCounts.clear();
  }

  private get nodesKey(): string {
    return `${this.prefix}nodes`;
  }

  private countKey(topic: string, node: string): string {
    return `${this.prefix}count:${topic}:${node}`;
  }

  /** Subscribers of `topic` over every live node (this one's count is its own, exact). */
  private async countEverywhere(topic: string): Promise<number> {
    const members = await this.client.command(['SMEMBERS', this.nodesKey]);
    const nodes = Array.isArray(members) ? members.map(asText).filter((n) => n !== this.nodeHex) : [];
    let total = this.counts.get(topic) ?? 0;
    if (nodes.length === 0) return total;
    const alive = await this.client.command(['MGET', ...nodes.map((n) => `${this.prefix}node:${n}`)]);
    const live = nodes.filter((_, i) => Array.isArray(alive) && alive[i] !== null);
    const dead = nodes.filter((n) => !live.includes(n));
    if (dead.length > 0) this.client.command(['SREM', this.nodesKey, ...dead]).catch(() => {});
    if (live.length === 0) return total;
    const counts = await this.client.command(['MGET', ...live.map((n) => this.countKey(topic, n))]);
    if (Array.isArray(counts)) for (const c of counts) if (c !== null) total += Number(asText(c)) || 0;
    return total;
  }

  /** Whether `topic` keeps a history. */
  hasHistory(topic: string): boolean {
    return this.historySize > 0 && (this.historyPrefixes === undefined || this.historyPrefixes.some((p) => topic.startsWith(p)));
  }

  deliversOwn(topic: string): boolean {
    return this.hasHistory(topic);
  }

  subscribe(topic: string): void {
    this.client.subscribe(this.prefix + topic);
    if (!this.hasHistory(topic)) return;
    const tracked: Tracked = { last: undefined, held: undefined };
    this.tracked.set(topic, tracked);
    // Where the topic stands now: a loss before the first publication arrives is still recovered from here.
    this.client.command(['HMGET', metaKey(this.prefix, topic), 'epoch', 'offset']).then(
      (reply) => {
        if (tracked.last !== undefined || !Array.isArray(reply)) return;
        const [epoch, offset] = reply;
        tracked.last = epoch === null || epoch === undefined ? { offset: 0, epoch: '' } : { offset: Number(asText(offset ?? '0')), epoch: asText(epoch) };
      },
      () => {},
    );
  }

  unsubscribe(topic: string): void {
    this.tracked.delete(topic);
    this.client.unsubscribe(this.prefix + topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean, token = 0): void {
    const message = Buffer.allocUnsafe(HEADER + payload.length);
    message[0] = VERSION;
    message[1] = binary ? BINARY : 0;
    this.nodeId.copy(message, 2);
    message.writeUInt32BE(token >>> 0, 10);
    payload.copy(message, HEADER);
    const channel = this.prefix + topic;
    // With history, a publication whose connection dropped before its answer is sent again:
    // its id makes the script run once, so it is neither lost nor doubled.
    const sent = this.hasHistory(topic)
      ? this.client.command(
          ['EVALSHA', PUBLISH_SHA, 3, metaKey(this.prefix, topic), streamKey(this.prefix, topic), publicationKey(this.prefix, this.nodeHex, this.sequence++), channel, message, randomBytes(6).toString('base64url'), this.historySize, this.historyTtl],
          { retry: true },
        )
      : this.client.command(['PUBLISH', channel, message]);
    const started = performance.now();
    sent.then(
      () => this.host?.acknowledged?.(performance.now() - started),
      (error: Error) => this.host?.undelivered?.(topic, error, token),
    );
  }

  /** What was published on `topic` after `since` (at most historySize entries). */
  async replay(topic: string, since: StreamPosition): Promise<HistoryReplay> {
    const reply = await this.client.command(['EVALSHA', READ_SHA, 2, metaKey(this.prefix, topic), streamKey(this.prefix, topic), since.offset, this.historySize]);
    return this.readReplay(since, reply);
  }

  unwrap(topic: string, entry: Buffer, position: StreamPosition): Publication | undefined {
    if (entry.length < HEADER || entry[0] !== VERSION) return undefined;
    return Publication.fromBytes(topic, entry.subarray(HEADER), (entry[1] & BINARY) !== 0, position);
  }

  async gather(question: BrokerQuestion): Promise<unknown[]> {
    const local = this.host === undefined ? [] : [this.host.answer(question)];
    // Every node's subscribers of a topic, from Redis; anything else, and while Redis is away, this node alone.
    if (question.kind !== 'subscribers' || this.client.state !== 'ready') return local;
    try {
      return [await this.countEverywhere(question.topic)];
    } catch {
      return local;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    // This node's counts go with it, rather than after COUNT_TTL.
    if (this.client.state === 'ready') {
      for (const topic of this.counts.keys()) this.client.command(['DEL', this.countKey(topic, this.nodeHex)]).catch(() => {});
      this.client.command(['DEL', `${this.prefix}node:${this.nodeHex}`]).catch(() => {});
    }
    await this.client.close();
  }

  private receive(push: RespPush): void {
    const [kind, channel, data] = push.items;
    if (kind === undefined || asText(kind) !== 'message' || !Buffer.isBuffer(data) || channel === undefined) return;
    const name = asText(channel);
    if (!name.startsWith(this.prefix)) return;
    const topic = name.slice(this.prefix.length);
    if (data[0] === VERSION) {
      if (data.length < HEADER || this.nodeId.equals(data.subarray(2, 10))) return;
      this.host?.deliver(topic, data.subarray(HEADER), (data[1] & BINARY) !== 0);
      return;
    }
    const positioned = splitPositioned(data);
    if (positioned === undefined) return;
    const { position, rest } = positioned;
    if (rest.length < HEADER || rest[0] !== VERSION) return;
    this.deliverPositioned(topic, rest, position);
  }

  /** A publication (`message`: header and payload) with its position: held while its topic is recovered, delivered once, in offset order. */
  private deliverPositioned(topic: string, message: Buffer, position: StreamPosition): void {
    if (message.length < HEADER || message[0] !== VERSION) return;
    const tracked = this.tracked.get(topic);
    if (tracked !== undefined) {
      if (tracked.held !== undefined) {
        tracked.held.push([message, position]);
        return;
      }
      // Already delivered through a recovery: never twice.
      if (tracked.last !== undefined && tracked.last.epoch === position.epoch && position.offset <= tracked.last.offset) return;
      tracked.last = position;
    }
    const own = this.nodeId.equals(message.subarray(2, 10));
    this.host?.deliver(topic, message.subarray(HEADER), (message[1] & BINARY) !== 0, position, own ? message.readUInt32BE(10) : undefined);
  }

  /** After a reconnection: what `topic` missed since the last position delivered here, then what arrived meanwhile. */
  private async recover(topic: string): Promise<void> {
    const tracked = this.tracked.get(topic);
    if (tracked === undefined || tracked.held !== undefined) return;
    const since = tracked.last;
    if (since === undefined) return; // nothing delivered here yet: nothing can have been missed that we knew of
    tracked.held = [];
    let replay: HistoryReplay | undefined;
    try {
      replay = await this.replay(topic, since);
    } catch {
      replay = undefined; // the connection dropped again: the next 'ready' recovers from the same position
    }
    const held = tracked.held;
    tracked.held = undefined;
    if (this.tracked.get(topic) !== tracked) return;
    if (replay !== undefined) {
      if (!replay.recovered && replay.reason !== undefined) this.host?.recoveryFailed?.(topic, replay.reason, since, replay.position);
      for (const [offset, message] of replay.entries) this.deliverPositioned(topic, message, { offset, epoch: replay.position.epoch });
    }
    for (const [message, position] of held ?? []) this.deliverPositioned(topic, message, position);
  }

  private readReplay(since: StreamPosition, reply: RespValue): HistoryReplay {
    if (!Array.isArray(reply) || reply.length !== 3) throw new Error('unexpected reply to the history read');
    const [epoch, last, rawEntries] = reply;
    const entries: [number, Buffer][] = [];
    if (Array.isArray(rawEntries)) {
      for (const entry of rawEntries) {
        if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) continue;
        const offset = Number(asText(entry[0]).split('-')[0]);
        const fields = entry[1];
        const at = fields.findIndex((f, i) => i % 2 === 0 && asText(f) === 'm');
        const message = at >= 0 ? fields[at + 1] : undefined;
        if (Number.isSafeInteger(offset) && Buffer.isBuffer(message)) entries.push([offset, message]);
      }
    }
    const epochText = epoch === false || epoch === null ? undefined : asText(epoch);
    return judgeReplay(since, epochText, Number(asText(last)), entries);
  }
}

/** A Redis broker for createServer's `broker` option. */
export function redisBroker(url: string, options: Omit<RedisBrokerOptions, 'url'> = {}): RedisBroker {
  return new RedisBroker({ url, ...options });
}
