// The bus between wssd nodes on several machines: Redis pub/sub. A node
// SUBSCRIBEs to a topic's channel (prefix + topic) only while it has local
// subscribers of it — the registry's 0 → 1 and 1 → 0 — so it never receives
// traffic nobody on it wants. Two connections per node: one that only
// subscribes (Redis bounds a subscriber's output buffer, client-output-buffer-
// limit pubsub, so large replies must not share it) and one for commands.
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
// what its subscribed topics missed (in pages, a bounded number at once) and
// delivers it, in order, before the newer publications. Where the history
// cannot bridge the gap — trimmed, or a new epoch because Redis lost its data
// — the host is told precisely, and the node goes on from the oldest entry
// the history still has: what Redis holds is never thrown away.
//
// Questions to every node (subscriber counts, presence…) are published on one
// channel every node subscribes to; each answers on the asker's own channel,
// and PUBLISH's reply says how many answers to wait for.
import { createHash, randomBytes } from 'node:crypto';
import { RedisClient, type RedisClientOptions } from '../redis/redis-client.js';
import { parseRedisUrl, redact } from '../redis/redis-url.js';
import { asText, type RespPush, type RespValue } from '../redis/resp.js';
import { PublicationKind, type Broker, type BrokerHost, type BrokerQuestion } from './broker.js';
import { metaKey, metaPosition, publicationKey, PUBLISH_WITH_HISTORY, READ_HISTORY, readPage, splitPositioned, streamKey, type HistoryPage, type StreamPosition } from './history.js';
import { Publication } from './publication.js';
import { isRoute } from './topic-name.js';
import { ANSWER, ASK, decodeMessage, encodeMessage, HEADER, PUBLICATION, publicationFlags } from './redis-wire.js';
import { Semaphore } from './semaphore.js';

export interface RedisBrokerOptions {
  /** redis://[user:pass@]host:port/db or rediss://… */
  url: string;
  /** Put before every topic to make its channel and keys, so several applications can share one Redis. Default "wssd:". */
  prefix?: string;
  /** CLIENT SETNAME of this node's connections (":sub" is added to the subscriber's). */
  name?: string;
  /** For rediss://: the CA to trust, the server name to check. */
  tls?: RedisClientOptions['tls'];
  /** Commands waiting for Redis or in flight, in any state; past it a publication is reported undelivered. Default 100,000. */
  maxQueued?: number;
  /** The same bound in bytes. Default 128 MiB. */
  maxQueuedBytes?: number;
  /** A command unanswered this long (ms) means Redis stopped answering: the node treats it as lost. Default 5,000. */
  commandTimeout?: number;
  /** Entries of history kept per topic (a Stream trimmed to this size); 0, the default: no history. */
  historySize?: number;
  /** Only topics starting with one of these have history (default: every topic, when historySize > 0). */
  historyPrefixes?: readonly string[];
  /** Seconds a topic's history is kept after its last publication; 0: until trimmed. */
  historyTtl?: number;
  /** The largest publication, in bytes: every Redis reply is capped from it. Default 16 MiB. */
  maxPayload?: number;
  /** History pages read at once by this node (resumes and recoveries wait their turn). Default 16. */
  maxConcurrentReads?: number;
  /** How long a question to every node waits for their answers, in ms. Default 1,000. */
  askTimeout?: number;
  /** Reconnection delay bounds, in ms (default 100 doubling to 5,000, each with jitter). */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
}

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
const PUBLISH_SHA = sha1(PUBLISH_WITH_HISTORY);
const READ_SHA = sha1(READ_HISTORY);
/** Entries per history page, and the bytes a page aims to stay under (it always holds at least one entry). */
export const HISTORY_PAGE = 100;
const HISTORY_PAGE_BYTES = 4 * 1024 * 1024;
/** The channel every node listens on for questions, after the prefix; a node's answers come on REPLIES + its id. */
const EVERYONE = '\u0000all';
const REPLIES = '\u0000r:';

/** A subscribed topic with history: its last position delivered here, and live messages held while it is being recovered. */
interface Tracked {
  last: StreamPosition | undefined;
  /** `last` is where the topic stood when its subscription came in force, not a delivery: what arrives live at or below it was published between the two, and is delivered. */
  seeded: boolean;
  held: [message: Buffer, position: StreamPosition][] | undefined;
  /** A recovery is reading the history. */
  recovering: boolean;
}

interface Ask {
  answers: unknown[];
  /** Answers to wait for; undefined until PUBLISH says how many nodes heard the question. */
  expected: number | undefined;
  done: (answers: unknown[]) => void;
}

export class RedisBroker implements Broker {
  /** The connection that only subscribes, and the one for commands. */
  readonly subscriber: RedisClient;
  readonly commands: RedisClient;
  readonly prefix: string;
  /** Which node made a publication: this one skips its own (without history) when Redis echoes them. */
  readonly nodeId = randomBytes(8);
  private host: BrokerHost | undefined;
  private readonly where: string;
  private readonly historySize: number;
  private readonly historyPrefixes: readonly string[] | undefined;
  private readonly historyTtl: number;
  private readonly askTimeout: number;
  private readonly tracked = new Map<string, Tracked>();
  private readonly nodeHex: string;
  /** Numbers this node's publications with history, for their ids. */
  private sequence = 0;
  private readonly reads: Semaphore;
  /** Settles once every subscription made so far is in force (a PING after them on the subscriber connection). */
  private subscribed: Promise<unknown> = Promise.resolve();
  private barrierScheduled = false;
  private nextAsk = 1;
  private readonly asks = new Map<number, Ask>();
  /** Whether the host was last told the bus is up. */
  private up = false;

  /** The largest publication carried (the server's maxPayload). */
  private readonly maxPayload: number;
  constructor(options: RedisBrokerOptions) {
    this.prefix = options.prefix ?? 'wssd:';
    this.where = redact(options.url);
    this.historySize = options.historySize ?? 0;
    this.historyPrefixes = options.historyPrefixes !== undefined && options.historyPrefixes.length > 0 ? options.historyPrefixes : undefined;
    this.historyTtl = options.historyTtl ?? 0;
    this.askTimeout = options.askTimeout ?? 1000;
    this.reads = new Semaphore(options.maxConcurrentReads ?? 16);
    this.nodeHex = this.nodeId.toString('hex');
    const maxPayload = (this.maxPayload = options.maxPayload ?? 16 * 1024 * 1024);
    const common = {
      endpoint: parseRedisUrl(options.url),
      tls: options.tls,
      minReconnectDelay: options.minReconnectDelay,
      maxReconnectDelay: options.maxReconnectDelay,
      commandTimeout: options.commandTimeout,
      // A reply holds at most one publication per bulk, and a page of history stays near its budget.
      resp: { maxBulkBytes: maxPayload + HEADER + 64, maxElements: 1024 * 1024, maxDepth: 8, maxReplyBytes: 2 * maxPayload + HISTORY_PAGE_BYTES + 64 * 1024 },
    };
    const name = options.name ?? `wssd-${this.nodeHex}`;
    this.subscriber = new RedisClient({ ...common, name: `${name}:sub` });
    this.commands = new RedisClient({
      ...common,
      name,
      maxPending: options.maxQueued,
      maxPendingBytes: options.maxQueuedBytes,
      // Loaded on every connection before anything queued, so EVALSHA never meets NOSCRIPT in a pipeline.
      setup: this.historySize > 0 ? [['SCRIPT', 'LOAD', PUBLISH_WITH_HISTORY], ['SCRIPT', 'LOAD', READ_HISTORY]] : [],
    });
  }

  get connected(): boolean {
    return this.subscriber.state === 'ready' && this.commands.state === 'ready';
  }

  start(host: BrokerHost): void {
    this.host = host;
    this.subscriber.on('push', (push) => this.receive(push));
    this.subscriber.subscribe(this.prefix + EVERYONE);
    this.subscriber.subscribe(this.prefix + REPLIES + this.nodeHex);
    // From the moment the subscriptions are lost, what comes live on a topic with history is held until
    // the history has told what was missed meanwhile: nothing newer goes ahead of it.
    this.subscriber.on('down', () => {
      for (const tracked of this.tracked.values()) if (tracked.last !== undefined) tracked.held ??= [];
    });
    for (const client of [this.subscriber, this.commands]) {
      client.on('ready', (again) => this.ready(again));
      client.on('down', (error, delay) => {
        this.up = false;
        host.brokerState?.(false, `${error.message}; retrying in ${delay} ms`);
      });
      // Connects in the background: local delivery never waits for Redis.
      void client.connect().catch(() => {});
    }
  }

  /** Both connections ready: the host hears it, and topics with history catch up on what they missed. */
  private ready(again: boolean): void {
    if (!this.connected || this.up) return;
    this.up = true;
    this.host?.brokerState?.(true, again ? `reconnected to Redis at ${this.where}` : `connected to Redis at ${this.where}`);
    if (!again) return;
    // The history is read once the subscriptions are in force again: nothing falls between the read and the live stream.
    void this.barrier().then(() => {
      for (const topic of this.tracked.keys()) void this.recover(topic);
    });
  }

  /** A promise that settles once every SUBSCRIBE sent so far has been carried out (Redis answers in order). */
  private barrier(): Promise<unknown> {
    if (!this.barrierScheduled) {
      this.barrierScheduled = true;
      queueMicrotask(() => {
        this.barrierScheduled = false;
        this.subscribed = this.subscriber.command(['PING']).catch(() => undefined);
      });
    }
    return Promise.resolve().then(() => this.subscribed);
  }

  /** Whether `topic` keeps a history; the server's routes (U+0000 names) never do. */
  hasHistory(topic: string): boolean {
    return this.historySize > 0 && !isRoute(topic) && (this.historyPrefixes === undefined || this.historyPrefixes.some((p) => topic.startsWith(p)));
  }

  deliversOwn(topic: string): boolean {
    return this.hasHistory(topic);
  }

  subscribe(topic: string): void {
    this.subscriber.subscribe(this.prefix + topic);
    if (!this.hasHistory(topic)) return;
    const tracked: Tracked = { last: undefined, seeded: false, held: undefined, recovering: false };
    this.tracked.set(topic, tracked);
    // Where the topic stands once the subscription is in force: a loss before the first publication arrives is still recovered from here.
    void this.barrier()
      .then(() => this.commands.command(['HMGET', metaKey(this.prefix, topic), 'epoch', 'offset']))
      .then(
        (reply) => {
          if (tracked.last !== undefined) return;
          tracked.last = metaPosition(reply);
          tracked.seeded = true;
        },
        () => {},
      );
  }

  /** Where `topic` stands now: read at once, so before whatever is published after this call from here. */
  async positionNow(topic: string): Promise<StreamPosition> {
    return metaPosition(await this.commands.command(['HMGET', metaKey(this.prefix, topic), 'epoch', 'offset']));
  }

  unsubscribe(topic: string): void {
    this.tracked.delete(topic);
    this.subscriber.unsubscribe(this.prefix + topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean, token = 0, kind: PublicationKind = PublicationKind.Data): Promise<StreamPosition | undefined> {
    if (payload.length > this.maxPayload) {
      // Redis's replies are capped just above maxPayload: a larger one would come back as a broken reply.
      const error = new RangeError(`a publication of ${payload.length} bytes is over maxPayload (${this.maxPayload}), the most Redis carries here`);
      this.host?.undelivered?.(topic, error, token, 'too-large');
      return Promise.reject(error);
    }
    const message = encodeMessage(PUBLICATION, publicationFlags(binary, kind), this.nodeId, token, payload);
    const channel = this.prefix + topic;
    // With history, a publication whose connection dropped before its answer is sent again:
    // its id makes the script run once, so it is neither lost nor doubled.
    const sent =
      kind === PublicationKind.Data && this.hasHistory(topic)
        ? this.commands.command(
            ['EVALSHA', PUBLISH_SHA, 3, metaKey(this.prefix, topic), streamKey(this.prefix, topic), publicationKey(this.prefix, this.nodeHex, this.sequence++), channel, message, randomBytes(6).toString('base64url'), this.historySize, this.historyTtl],
            { retry: true },
          )
        : this.commands.command(['PUBLISH', channel, message]);
    const started = performance.now();
    return sent.then(
      (reply) => {
        this.host?.acknowledged?.(performance.now() - started);
        // The history script answers {offset, epoch}; a second run of the same publication {0, ''}.
        if (!Array.isArray(reply) || reply.length !== 2) return undefined;
        const offset = Number(asText(reply[0]));
        return offset > 0 ? { offset, epoch: asText(reply[1]) } : undefined;
      },
      (error: Error) => {
        this.host?.undelivered?.(topic, error, token, this.commands.state === 'ready' ? 'redis-backlog' : 'redis-unavailable');
        throw error;
      },
    );
  }

  /** One page of what was published on `topic` after `since`; at most `limit` entries (and about 4 MiB); limit 0 reads the position alone. */
  async history(topic: string, since: StreamPosition, limit: number): Promise<HistoryPage> {
    // A topic just subscribed here: its subscription must be in force before the read, or a publication could fall between.
    await this.barrier();
    return this.reads.run(async () => {
      const reply = await this.commands.command(['EVALSHA', READ_SHA, 2, metaKey(this.prefix, topic), streamKey(this.prefix, topic), since.epoch, since.offset, Math.max(0, Math.min(limit, this.historySize)), HISTORY_PAGE_BYTES]);
      return readPage(since, reply);
    });
  }

  unwrap(topic: string, entry: Buffer, position: StreamPosition): Publication | undefined {
    const decoded = decodeMessage(entry);
    if (decoded === undefined || decoded.version !== PUBLICATION) return undefined;
    return Publication.fromBytes(topic, decoded.body, decoded.binary, position);
  }

  async gather(question: BrokerQuestion): Promise<unknown[]> {
    const local = this.host === undefined ? [] : [this.host.answer(question)];
    if (!this.connected) return local;
    const id = this.nextAsk;
    this.nextAsk = (this.nextAsk % 0xffffffff) + 1;
    const others = await new Promise<unknown[]>((resolve) => {
      const timer = setTimeout(() => finish(), this.askTimeout);
      const finish = (): void => {
        clearTimeout(timer);
        this.asks.delete(id);
        resolve(ask.answers);
      };
      const ask: Ask = { answers: [], expected: undefined, done: finish };
      this.asks.set(id, ask);
      const body = Buffer.from(JSON.stringify(question), 'utf8');
      this.commands.command(['PUBLISH', this.prefix + EVERYONE, encodeMessage(ASK, 0, this.nodeId, id, body)]).then(
        (heard) => {
          // Every node subscribed to the channel heard it, this one too.
          ask.expected = Math.max(0, Number(heard) - 1);
          if (ask.answers.length >= ask.expected) finish();
        },
        () => finish(),
      );
    });
    return [...local, ...others];
  }

  async close(): Promise<void> {
    for (const ask of this.asks.values()) ask.done(ask.answers);
    await Promise.all([this.commands.close(), this.subscriber.close()]);
  }

  private receive(push: RespPush): void {
    const [kind, channel, data] = push.items;
    if (kind === undefined || asText(kind) !== 'message' || !Buffer.isBuffer(data) || channel === undefined) return;
    const name = asText(channel);
    if (!name.startsWith(this.prefix)) return;
    const topic = name.slice(this.prefix.length);
    const decoded = decodeMessage(data);
    if (decoded !== undefined && decoded.version === PUBLICATION) {
      if (this.nodeId.equals(decoded.nodeId)) return;
      this.host?.deliver(topic, decoded.body, decoded.binary, undefined, undefined, decoded.kind);
      return;
    }
    if (decoded !== undefined && (decoded.version === ASK || decoded.version === ANSWER)) {
      this.fleetMessage(decoded.version, decoded.nodeId, decoded.number, decoded.body);
      return;
    }
    const positioned = splitPositioned(data);
    if (positioned !== undefined) this.deliverPositioned(topic, positioned.rest, positioned.position);
  }

  /** A question from another node (answered on its channel), or an answer to one of ours. */
  private fleetMessage(version: number, from: Buffer, id: number, body: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return;
    }
    if (version === ASK) {
      if (from.equals(this.nodeId) || this.host === undefined || typeof value !== 'object' || value === null) return;
      const answer = Buffer.from(JSON.stringify(this.host.answer(value as BrokerQuestion) ?? null), 'utf8');
      this.commands.command(['PUBLISH', this.prefix + REPLIES + from.toString('hex'), encodeMessage(ANSWER, 0, this.nodeId, id, answer)]).catch(() => {});
      return;
    }
    const ask = this.asks.get(id);
    if (ask === undefined) return;
    ask.answers.push(value);
    if (ask.expected !== undefined && ask.answers.length >= ask.expected) ask.done(ask.answers);
  }

  /** A publication (header and payload) with its position, live: held while its topic is recovered. */
  private deliverPositioned(topic: string, message: Buffer, position: StreamPosition): void {
    const tracked = this.tracked.get(topic);
    if (tracked?.held !== undefined) tracked.held.push([message, position]);
    else this.deliverOnce(topic, tracked, message, position);
  }

  /** Delivers a positioned publication unless this node already did (offset order within an epoch): never twice. */
  private deliverOnce(topic: string, tracked: Tracked | undefined, message: Buffer, position: StreamPosition): void {
    const decoded = decodeMessage(message);
    if (decoded === undefined || decoded.version !== PUBLICATION) return;
    if (tracked !== undefined) {
      if (!tracked.seeded && tracked.last !== undefined && tracked.last.epoch === position.epoch && position.offset <= tracked.last.offset) return;
      tracked.last = position;
      tracked.seeded = false;
    }
    const own = this.nodeId.equals(decoded.nodeId);
    this.host?.deliver(topic, decoded.body, decoded.binary, position, own ? decoded.number : undefined);
  }

  /**
   * After a reconnection: what `topic` missed since the last position
   * delivered here, page by page, then what arrived live meanwhile. Across a
   * new epoch it goes on from the new epoch's oldest entry; the host is told
   * what could not be recovered.
   */
  private async recover(topic: string): Promise<void> {
    const tracked = this.tracked.get(topic);
    if (tracked === undefined || tracked.last === undefined || tracked.recovering) return;
    const had = tracked.last;
    tracked.recovering = true;
    tracked.held ??= [];
    let cursor = had;
    try {
      let told = false;
      for (;;) {
        const page = await this.history(topic, cursor, HISTORY_PAGE);
        if (this.tracked.get(topic) !== tracked) return; // unsubscribed meanwhile
        if (!page.recovered && page.reason !== undefined) {
          // Told once per recovery: a history trimmed again while it is paged (publishing outpaces it) is the same loss.
          if (!told) this.host?.recoveryFailed?.(topic, page.reason, had, page.position);
          told = true;
          // What was had belongs to another epoch (or was trimmed): go on from the page's own start.
          tracked.last = undefined;
        }
        for (const [offset, message] of page.entries) this.deliverOnce(topic, tracked, message, { offset, epoch: page.position.epoch });
        if (page.entries.length === 0 && page.reason === 'epoch') tracked.last = { offset: page.position.offset, epoch: page.position.epoch };
        if (page.complete || page.entries.length === 0) break;
        cursor = tracked.last ?? { offset: page.entries[page.entries.length - 1][0], epoch: page.position.epoch };
      }
    } catch {
      // The connection dropped again: the next 'ready' recovers from the last position delivered.
    } finally {
      const held = tracked.held ?? [];
      tracked.held = undefined;
      tracked.recovering = false;
      if (this.tracked.get(topic) === tracked) for (const [message, position] of held) this.deliverOnce(topic, tracked, message, position);
    }
  }
}

/** A Redis broker for createServer's `broker` option. */
export function redisBroker(url: string, options: Omit<RedisBrokerOptions, 'url'> = {}): RedisBroker {
  return new RedisBroker({ url, ...options });
}
