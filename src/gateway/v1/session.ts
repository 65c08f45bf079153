// One wssd.v1 connection's side of the protocol: its commands parsed and
// carried out (subscribe with resume, publish, rpc, presence, history,
// refresh, ping), each answered with its id, every refusal an error reply
// with a code and never a dropped connection; and the token's expiry. The
// frames themselves are in frames.ts; the protocol is in
// docs/reference/client-protocol.md.
import type { ClientIdentity } from '../../http/upgrade.js';
import type { Clock, Timer } from '../../io/clock.js';
import type { HandshakeError } from '../../protocol/errors.js';
import type { StreamPosition } from '../../pubsub/history.js';
import type { ResumeResult, SubscribeStatus } from '../../pubsub/pubsub.js';
import type { PresencePage } from '../fleet.js';
import type { PresenceEvent } from '../presence.js';
import type { SubscribeProxy } from '../subscribe-proxy.js';
import { dataField, errorFrame, presencePush, replyFrame, V1Error, type V1ErrorCode } from './frames.js';
import { maySubscribe, mayPublish, type ClientRules } from './permissions.js';

/** The connection a session speaks for (Connection). */
export interface V1Connection {
  readonly id: string;
  readonly user: string | undefined;
  readonly identity: ClientIdentity | undefined;
  /** Sends one frame of the protocol (text). */
  sendFrame(text: string): void;
  /** Subscriptions the client makes itself (its reply tells it; no push). */
  subscribeForClient(topic: string, options?: { since?: StreamPosition | 'now' }): SubscribeStatus;
  unsubscribeForClient(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  /** The token expired without a refresh: close with 4001. */
  expired(): void;
}

/** What the server provides to every session. */
export interface V1Services {
  rules: ClientRules;
  subscribeProxy: SubscribeProxy | undefined;
  publish(topic: string, data: string | Buffer, binary: boolean): Promise<StreamPosition | undefined>;
  /** Whether the topic keeps history. */
  hasHistory(topic: string): boolean;
  presence(topic: string, options: { after?: string; limit?: number }): Promise<PresencePage>;
  history(topic: string, since: StreamPosition, limit: number): Promise<{ publications: { offset: number; payload: Buffer; binary: boolean }[]; position: StreamPosition; recovered: boolean; reason?: string } | undefined>;
  /** The answer to an rpc; undefined when nothing answers rpcs. */
  rpc(connection: V1Connection, data: string | Buffer, binary: boolean): Promise<{ data: Buffer; binary: boolean } | undefined> | undefined;
  /** A new token's identity; throws a HandshakeError when it does not verify. */
  verifyToken(token: string): ClientIdentity;
  /** Commands waiting for a reply, per connection, at most. */
  maxPending: number;
  clock: Clock;
}

const MAX_ID = 2 ** 31 - 1;

class CommandError extends Error {
  constructor(
    readonly code: V1ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type Command = Record<string, unknown> & { id: number; cmd: string };

export class V1Session {
  /** Topics this client subscribed to itself (and server-side ones it took over); with presence pushes or not. */
  private readonly mine = new Map<string, { presence: boolean }>();
  /** Subscribes waiting for their replay, by topic: the id to answer. */
  private readonly resuming = new Map<string, number>();
  private pending = 0;
  private expiresAt: number | undefined;
  private expiryTimer: Timer | undefined;

  constructor(
    private readonly connection: V1Connection,
    private readonly services: V1Services,
  ) {
    this.expiresAt = connection.identity?.expiresAt;
    this.armExpiry();
  }

  /** A frame from the client. */
  receive(data: Buffer, binary: boolean): void {
    if (binary) return this.error(null, V1Error.BadRequest, 'wssd.v1 carries JSON in text frames');
    let value: unknown;
    try {
      value = JSON.parse(data.toString('utf8'));
    } catch {
      return this.error(null, V1Error.BadRequest, 'not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.error(null, V1Error.BadRequest, 'a command is a JSON object');
    const command = value as Record<string, unknown>;
    const id = command.id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_ID) return this.error(null, V1Error.BadRequest, `id must be an integer from 1 to ${MAX_ID}`);
    if (typeof command.cmd !== 'string') return this.error(id, V1Error.BadRequest, 'cmd must be a string');
    const run = this.commands[command.cmd];
    if (run === undefined || !Object.hasOwn(this.commands, command.cmd)) return this.error(id, V1Error.UnknownCommand, `no such command: ${command.cmd.slice(0, 32)}`);
    let result: unknown;
    try {
      result = run.call(this, command as Command);
    } catch (error) {
      return this.fail(id, error);
    }
    if (!(result instanceof Promise)) return this.reply(id, result);
    if (this.pending >= this.services.maxPending) return this.error(id, V1Error.LimitExceeded, `more than ${this.services.maxPending} commands waiting for a reply`);
    this.pending++;
    result.then(
      (r) => {
        this.pending--;
        if (r !== WAIT) this.reply(id, r);
      },
      (error: unknown) => {
        this.pending--;
        this.fail(id, error);
      },
    );
  }

  private readonly commands: Record<string, (this: V1Session, command: Command) => unknown> = {
    subscribe: V1Session.prototype.subscribe,
    unsubscribe: V1Session.prototype.unsubscribe,
    publish: V1Session.prototype.publish,
    rpc: V1Session.prototype.rpc,
    presence: V1Session.prototype.presence,
    history: V1Session.prototype.history,
    refresh: V1Session.prototype.refresh,
    ping: () => ({}),
  };

  /**
   * Subscribes at once when the client may (so a command after it sees the
   * subscription); asks the subscribe proxy first when one must decide.
   */
  private subscribe(command: Command): unknown {
    const topic = text(command, 'topic');
    const since = position(command.since);
    const presence = command.presence === true;
    if (this.mine.has(topic)) throw new CommandError(V1Error.AlreadySubscribed, `already subscribed to ${topic.slice(0, 64)}`);
    // One the server subscribed it to (its token's topics, the API) is taken over as it is.
    if (this.connection.isSubscribed(topic) || maySubscribe(this.connection.identity, this.services.rules, topic)) return this.join(command.id, topic, since, presence);
    return this.permitSubscribe(topic).then(() => {
      if (this.mine.has(topic)) throw new CommandError(V1Error.AlreadySubscribed, `already subscribed to ${topic.slice(0, 64)}`);
      return this.join(command.id, topic, since, presence);
    });
  }

  private join(id: number, topic: string, since: StreamPosition | undefined, presence: boolean): unknown {
    // Without `since`, a topic with history is replayed from where it stood as the subscribe came:
    // a publication made meanwhile (this client's next command, say) is sent, never covered unsent by the reply's position.
    const from = since ?? (this.services.hasHistory(topic) ? 'now' : undefined);
    const replay = from !== undefined;
    if (replay) this.resuming.set(topic, id);
    let status: SubscribeStatus;
    try {
      status = this.connection.subscribeForClient(topic, { since: from });
    } catch (error) {
      this.resuming.delete(topic);
      throw error;
    }
    if (status === 'connection-limit' || status === 'server-limit') {
      this.resuming.delete(topic);
      throw new CommandError(V1Error.LimitExceeded, status === 'connection-limit' ? 'too many topics on this connection' : 'too many topics on this server');
    }
    if (status === 'closed') return Promise.resolve(WAIT);
    this.mine.set(topic, { presence });
    // A topic with history answers when its replay is done (resumed()), with the position to resume from later.
    if (replay) return Promise.resolve(WAIT);
    return { recovered: true, replayed: 0 };
  }

  private async permitSubscribe(topic: string): Promise<void> {
    const { subscribeProxy } = this.services;
    if (subscribeProxy === undefined) throw new CommandError(V1Error.PermissionDenied, `not allowed to subscribe to ${topic.slice(0, 64)}`);
    const verdict = await subscribeProxy.allows(this.connection.id, this.connection.user, topic);
    if (verdict.allowed === undefined) throw new CommandError(V1Error.Unavailable, 'the subscribe proxy could not answer; try again');
    if (!verdict.allowed) throw new CommandError(V1Error.PermissionDenied, verdict.reason);
  }

  private unsubscribe(command: Command): unknown {
    const topic = text(command, 'topic');
    if (!this.connection.isSubscribed(topic)) throw new CommandError(V1Error.NotSubscribed, `not subscribed to ${topic.slice(0, 64)}`);
    this.connection.unsubscribeForClient(topic);
    return {};
  }

  private async publish(command: Command): Promise<unknown> {
    const topic = text(command, 'topic');
    const { data, binary } = payload(command);
    if (!mayPublish(this.connection.identity, this.services.rules, topic)) throw new CommandError(V1Error.PermissionDenied, `not allowed to publish on ${topic.slice(0, 64)}`);
    let at: StreamPosition | undefined;
    try {
      at = await this.services.publish(topic, data, binary);
    } catch (error) {
      if (error instanceof RangeError || error instanceof TypeError) throw error;
      throw new CommandError(V1Error.Unavailable, 'the broker did not take it; try again');
    }
    return at === undefined ? {} : { offset: at.offset, epoch: at.epoch };
  }

  private async rpc(command: Command): Promise<unknown> {
    const { data, binary } = payload(command);
    const answering = this.services.rpc(this.connection, data, binary);
    if (answering === undefined) throw new CommandError(V1Error.RpcUnavailable, 'nothing answers rpc on this server');
    const answer = await answering;
    return answer === undefined ? {} : dataField(answer.data, answer.binary);
  }

  private async presence(command: Command): Promise<unknown> {
    const topic = text(command, 'topic');
    this.mayRead(topic);
    const after = command.after === undefined ? undefined : text(command, 'after');
    return this.services.presence(topic, { after, limit: integer(command, 'limit', 1, 1000) });
  }

  private async history(command: Command): Promise<unknown> {
    const topic = text(command, 'topic');
    this.mayRead(topic);
    const read = await this.services.history(topic, position(command.since) ?? { offset: 0, epoch: '' }, integer(command, 'limit', 1, 1000) ?? 100);
    if (read === undefined) throw new CommandError(V1Error.NoHistory, `${topic.slice(0, 64)} keeps no history`);
    const publications = read.publications.map((p) => ({ offset: p.offset, ...dataField(p.payload, p.binary) }));
    return { publications, position: read.position, recovered: read.recovered, ...(read.reason === undefined ? {} : { reason: read.reason }) };
  }

  /** Presence and history are for a topic the client is in, or may subscribe to. */
  private mayRead(topic: string): void {
    if (!this.connection.isSubscribed(topic) && !maySubscribe(this.connection.identity, this.services.rules, topic)) {
      throw new CommandError(V1Error.PermissionDenied, `not allowed to read ${topic.slice(0, 64)}`);
    }
  }

  private refresh(command: Command): unknown {
    const token = text(command, 'token');
    let identity: ClientIdentity;
    try {
      identity = this.services.verifyToken(token);
    } catch (error) {
      throw new CommandError(V1Error.TokenInvalid, (error as HandshakeError).message ?? 'the token does not verify');
    }
    if (identity.user !== this.connection.user) throw new CommandError(V1Error.TokenInvalid, "the token is for another user than the connection's");
    this.expiresAt = identity.expiresAt;
    this.armExpiry();
    return this.expiresAt === undefined ? {} : { expires_at: Math.floor(this.expiresAt / 1000) };
  }

  /** A subscribe with `since` caught up (or could not): its reply. */
  resumed(topic: string, result: ResumeResult): void {
    const id = this.resuming.get(topic);
    if (id === undefined) return;
    this.resuming.delete(topic);
    this.reply(id, { recovered: result.recovered, ...(result.reason === undefined ? {} : { reason: result.reason }), replayed: result.replayed, ...(result.position === undefined ? {} : { position: result.position }) });
  }

  /** A join or leave of a topic: pushed when the client subscribed to it with presence. */
  presenceEvent(topic: string, event: PresenceEvent): void {
    if (this.mine.get(topic)?.presence === true) this.connection.sendFrame(presencePush(topic, event));
  }

  /** The connection left a topic (itself, or the server made it): forgotten here. */
  left(topic: string): void {
    this.mine.delete(topic);
  }

  /** The connection is gone. */
  close(): void {
    this.services.clock.clearTimeout(this.expiryTimer);
  }

  private armExpiry(): void {
    const { clock } = this.services;
    clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.expiresAt === undefined) return;
    // Timers take at most 2^31 − 1 ms; a later expiry is looked at again then.
    const ms = Math.max(0, Math.min(2 ** 31 - 1, this.expiresAt - Date.now()));
    this.expiryTimer = clock.setTimeout(() => (this.expiresAt !== undefined && this.expiresAt <= Date.now() ? this.connection.expired() : this.armExpiry()), ms).unref();
  }

  private reply(id: number, result: unknown): void {
    this.connection.sendFrame(replyFrame(id, result));
  }

  private error(id: number | null, code: V1ErrorCode, message: string): void {
    this.connection.sendFrame(errorFrame(id, code, message));
  }

  private fail(id: number, error: unknown): void {
    if (error instanceof CommandError) return this.error(id, error.code, error.message);
    // A name or a value the server refuses (a topic too long, a user too long…) is the client's: bad_request.
    if (error instanceof RangeError || error instanceof TypeError) return this.error(id, V1Error.BadRequest, error.message);
    this.error(id, V1Error.Internal, 'internal error');
  }
}

/** A command's result that comes later, from elsewhere (a resume's reply). */
const WAIT = Symbol('wait');

function text(command: Command, name: string): string {
  const value = command[name];
  if (typeof value !== 'string' || value === '') throw new CommandError(V1Error.BadRequest, `${name} must be a non-empty string`);
  return value;
}

function integer(command: Command, name: string, min: number, max: number): number | undefined {
  const value = command[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new CommandError(V1Error.BadRequest, `${name} must be an integer from ${min} to ${max}`);
  return value;
}

function position(value: unknown): StreamPosition | undefined {
  if (value === undefined) return undefined;
  const p = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  if (typeof p.offset !== 'number' || !Number.isSafeInteger(p.offset) || p.offset < 0 || typeof p.epoch !== 'string' || p.epoch.length > 64) {
    throw new CommandError(V1Error.BadRequest, 'since must be {offset, epoch}: a non-negative integer and a string of at most 64 characters');
  }
  return { offset: p.offset, epoch: p.epoch };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function payload(command: Command): { data: string | Buffer; binary: boolean } {
  const hasData = command.data !== undefined;
  if (hasData === (command.data_base64 !== undefined)) throw new CommandError(V1Error.BadRequest, 'give data or data_base64 (one of them)');
  if (hasData) {
    if (typeof command.data !== 'string') throw new CommandError(V1Error.BadRequest, 'data must be a string');
    return { data: command.data, binary: false };
  }
  const encoded = command.data_base64;
  if (typeof encoded !== 'string' || encoded.length % 4 !== 0 || !BASE64.test(encoded)) throw new CommandError(V1Error.BadRequest, 'data_base64 must be base64 (RFC 4648 §4, padded)');
  return { data: Buffer.from(encoded, 'base64'), binary: true };
}
