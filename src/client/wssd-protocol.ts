// The pure half of the wssd.v1 client (docs/reference/client-protocol.md): names and codes, the
// payload codec, reading a token's expiry, the backoff, and the per-topic cursor that makes
// delivery exactly-once and in order. Nothing here touches a socket, a timer or the clock, and
// nothing is loaded from outside src/client/ (types.ts is types only, erased), so browsers and
// WeChat load it as is.
import type { Data, Gap, HistoryResult, Payload, Position, PresenceChange, PresenceResult, Publication, SubscribeResult } from './types.js';

/** The subprotocol a client offers to speak JSON commands instead of raw messages. */
export const SUBPROTOCOL = 'wssd.v1';

/** Close codes with a meaning for a wssd.v1 client (the page's "Closing codes"). */
export const CloseCode = {
  Normal: 1000, GoingAway: 1001, PolicyViolation: 1008, MessageTooBig: 1009,
  /** Reported, never sent (browsers may send only 1000 and 3000–4999): the server broke wssd.v1. */
  ProtocolError: 1002,
  /** Reported, never sent: no close frame came, or the client gave up on a silent connection. */
  Abnormal: 1006,
  /** Disconnected by the backend: do not come back. */
  Disconnected: 4000,
  /** The token expired without a refresh: come back with a new one. */
  TokenExpired: 4001,
} as const;

/** The server's error codes (the page's "Errors"), then the client's own. */
export const ErrorCode = {
  BadRequest: 'bad_request', UnknownCommand: 'unknown_command', PermissionDenied: 'permission_denied', LimitExceeded: 'limit_exceeded',
  AlreadySubscribed: 'already_subscribed', NotSubscribed: 'not_subscribed', NoHistory: 'no_history', Unavailable: 'unavailable',
  RpcUnavailable: 'rpc_unavailable', TokenInvalid: 'token_invalid', Internal: 'internal',
  /** Sent, but no reply within its timeout. */
  Timeout: 'timeout',
  /** The connection ended, or the client stopped, before the reply: it may or may not have been done. */
  Disconnected: 'disconnected',
  /** The server broke wssd.v1: a binary frame, not JSON, not the subprotocol. */
  ProtocolError: 'protocol_error',
  TransportError: 'transport_error',
  /** An application callback threw; the error is the cause. */
  HandlerError: 'handler_error',
} as const;

/** An error reply, or a refusal by the client itself; `code` is one of ErrorCode (or a newer server's). */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(readonly code: string, message: string = code, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Typed events whose listeners cannot break their emitter: what one throws is reported as an
 * `error` event (a throwing error listener's is lost), and the emitter's state stays whole.
 */
export class Emitter<E extends { error: ClientError }> {
  private readonly listeners = new Map<keyof E, Set<(value: never) => void>>();

  on<K extends keyof E>(event: K, listener: (value: E[K]) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set.add(listener));
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: (value: E[K]) => void): void {
    this.listeners.get(event)?.delete(listener);
  }

  protected emit<K extends keyof E>(event: K, value: E[K]): void {
    const set = this.listeners.get(event) as Set<(value: E[K]) => void> | undefined;
    for (const listener of [...(set ?? [])]) this.call(() => listener(value), event === 'error');
  }

  /** Runs application code. */
  protected call(fn: () => void, quiet = false): void {
    try {
      fn();
    } catch (error) {
      if (!quiet) this.emit('error', new ClientError(ErrorCode.HandlerError, String(error), { cause: error }) as E['error']);
    }
  }
}

// ---- Payloads: standard base64 (RFC 4648 §4) written by hand, because WeChat has no atob/btoa.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
// The URL alphabet (§5) too, so one decoder reads a JWT's payload as well.
VALUE[45] = 62; // -
VALUE[95] = 63; // _

export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    parts.push(ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63]);
  }
  if (i < bytes.length) {
    const two = i + 1 < bytes.length;
    const n = (bytes[i] << 16) | (two ? bytes[i + 1] << 8 : 0);
    parts.push(ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + (two ? ALPHABET[(n >> 6) & 63] : '=') + '=');
  }
  return parts.join('');
}

/** Padded or not, standard or URL alphabet; anything else is the server breaking the protocol. */
export function decodeBase64(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  if (text.length - end > 2 || end % 4 === 1) throw new ClientError(ErrorCode.ProtocolError, 'malformed base64');
  const out = new Uint8Array((end * 3) >> 2);
  let bits = 0;
  let acc = 0;
  let j = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? VALUE[c] : -1;
    if (v < 0) throw new ClientError(ErrorCode.ProtocolError, 'malformed base64');
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 255;
    }
  }
  return out;
}

/** The fields a command carries for application data. */
export function encodeData(data: Data): { data: string } | { data_base64: string } {
  if (typeof data === 'string') return { data };
  const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  return { data_base64: encodeBase64(bytes) };
}

/** The application data of a reply or push; undefined when it carries none. */
export function decodeData(fields: Record<string, unknown>): Payload | undefined {
  if (typeof fields.data === 'string') return fields.data;
  if (typeof fields.data_base64 === 'string') return decodeBase64(fields.data_base64);
  return undefined;
}

// ---- Frames

export type Incoming =
  | { kind: 'reply'; id: number | null; result?: Record<string, unknown>; error?: ClientError }
  | { kind: 'push'; push: string; fields: Record<string, unknown> };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One text frame from the server; throws a protocol_error ClientError when it is not wssd.v1. */
export function parseFrame(text: string): Incoming {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ClientError(ErrorCode.ProtocolError, 'a frame that is not JSON');
  }
  if (!isRecord(value)) throw new ClientError(ErrorCode.ProtocolError, 'a frame that is not a JSON object');
  if (typeof value.push === 'string') return { kind: 'push', push: value.push, fields: value };
  if (typeof value.id === 'number' || value.id === null) {
    const id = value.id;
    if (isRecord(value.error)) {
      const { code, message } = value.error;
      const error = new ClientError(typeof code === 'string' ? code : ErrorCode.Internal, typeof message === 'string' ? message : String(code));
      return { kind: 'reply', id, error };
    }
    return { kind: 'reply', id, result: isRecord(value.result) ? value.result : {} };
  }
  throw new ClientError(ErrorCode.ProtocolError, 'a frame that is neither a reply nor a push');
}

export function readPosition(value: unknown): Position | undefined {
  if (!isRecord(value) || typeof value.offset !== 'number' || typeof value.epoch !== 'string') return undefined;
  return { offset: value.offset, epoch: value.epoch };
}

export function readSubscribeResult(result: Record<string, unknown>): SubscribeResult {
  const out: SubscribeResult = { recovered: result.recovered !== false, replayed: typeof result.replayed === 'number' ? result.replayed : 0 };
  if (typeof result.reason === 'string') out.reason = result.reason;
  const position = readPosition(result.position);
  if (position !== undefined) out.position = position;
  return out;
}

export function readPublication(topic: string, fields: Record<string, unknown>): Publication {
  const pub: Publication = { topic, data: decodeData(fields) ?? '' };
  if (typeof fields.offset === 'number' && typeof fields.epoch === 'string') {
    pub.offset = fields.offset;
    pub.epoch = fields.epoch;
  }
  return pub;
}

export function readPresenceChange(topic: string, fields: Record<string, unknown>): PresenceChange {
  const change: PresenceChange = { topic, client: String(fields.client) };
  if (typeof fields.user === 'string') change.user = fields.user;
  if ('info' in fields) change.info = fields.info;
  return change;
}

export function readPresence(result: Record<string, unknown>): PresenceResult {
  const members = Array.isArray(result.members) ? (result.members as PresenceResult['members']) : [];
  const out: PresenceResult = { members, total: typeof result.total === 'number' ? result.total : members.length };
  if (typeof result.next === 'string') out.next = result.next;
  return out;
}

/** History's publications carry no epoch of their own: it is the position's. */
export function readHistory(topic: string, result: Record<string, unknown>): HistoryResult {
  const position = readPosition(result.position);
  const raw = Array.isArray(result.publications) ? result.publications.filter(isRecord) : [];
  const publications = raw.map((p) => readPublication(topic, position === undefined ? p : { epoch: position.epoch, ...p }));
  const out: HistoryResult = { publications, recovered: result.recovered !== false };
  if (position !== undefined) out.position = position;
  if (typeof result.reason === 'string') out.reason = result.reason;
  return out;
}

// ---- Commands

/**
 * One command. The application's (`user`) are bounded, timed, and fail when the connection ends;
 * the client's own (subscribe, unsubscribe, refresh, ping) are rebuilt after a reconnect instead.
 */
export interface Command {
  frame: Record<string, unknown>;
  user: boolean;
  resolve(result: Record<string, unknown>): void;
  reject(error: ClientError): void;
  timer?: unknown;
  settled?: boolean;
}

const MAX_ID = 2 ** 31 - 1;

/**
 * The commands waiting to be sent and those on the wire: never more than `maxPending` of these,
 * the server's own bound, so none is refused for being one too many.
 */
export class CommandWindow {
  readonly inflight = new Map<number, Command>();
  outbox: Command[] = [];
  private nextId = 1;

  constructor(private readonly maxPending: number, private readonly maxQueued: number, private readonly clearTimer: (timer: unknown) => void) {}

  /** Why an application command is refused now; undefined when it may wait its turn. */
  refusal(connected: boolean): ClientError | undefined {
    let count = 0;
    for (const cmd of this.outbox) if (cmd.user) count++;
    if (!connected) return count < this.maxQueued ? undefined : new ClientError(ErrorCode.Unavailable, `offline queue full (${this.maxQueued})`);
    for (const cmd of this.inflight.values()) if (cmd.user) count++;
    return count < this.maxPending ? undefined : new ClientError(ErrorCode.LimitExceeded, `at most ${this.maxPending} commands wait for a reply`);
  }

  get full(): boolean {
    return this.inflight.size >= this.maxPending;
  }

  /** Puts a command on the wire: the text to send. Ids are reused only once answered. */
  take(cmd: Command): string {
    while (this.inflight.has(this.nextId)) this.nextId = (this.nextId % MAX_ID) + 1;
    const id = this.nextId;
    this.nextId = (id % MAX_ID) + 1;
    this.inflight.set(id, cmd);
    return JSON.stringify({ id, ...cmd.frame });
  }

  /** The next waiting command's text, when the window has room. */
  next(): string | undefined {
    const cmd = this.full ? undefined : this.outbox.shift();
    return cmd === undefined ? undefined : this.take(cmd);
  }

  /** A reply: false when it answers nothing waiting (an id of null, or a stranger's). */
  answer(id: number | null, error: ClientError | undefined, result: Record<string, unknown> | undefined): boolean {
    const cmd = id === null ? undefined : this.inflight.get(id);
    if (cmd === undefined) return false;
    this.inflight.delete(id as number);
    this.settle(cmd, error, result);
    return true;
  }

  /** Takes a command out of the queue; false when it was sent already. */
  unqueue(cmd: Command): boolean {
    const at = this.outbox.indexOf(cmd);
    if (at >= 0) this.outbox.splice(at, 1);
    return at >= 0;
  }

  /** Its time is up. Still queued, it never reached a server; sent, its id stays taken until the reply or the close (the server counts it). */
  expire(cmd: Command): void {
    this.settle(cmd, this.unqueue(cmd) ? new ClientError(ErrorCode.Unavailable, 'not connected in time') : new ClientError(ErrorCode.Timeout, 'no reply in time'));
  }

  settle(cmd: Command, error: ClientError | undefined, result: Record<string, unknown> = {}): void {
    if (cmd.settled === true) return;
    cmd.settled = true;
    this.clearTimer(cmd.timer);
    if (error === undefined) cmd.resolve(result);
    else cmd.reject(error);
  }

  /** The connection ended: what was on the wire fails, the client's own queued ones go; `stop` fails the rest. */
  reset(stop: boolean): void {
    const sent = [...this.inflight.values()];
    this.inflight.clear();
    for (const cmd of sent) this.settle(cmd, new ClientError(ErrorCode.Disconnected, 'the connection closed before the reply'));
    this.outbox = this.outbox.filter((cmd) => cmd.user);
    if (!stop) return;
    const queued = this.outbox;
    this.outbox = [];
    for (const cmd of queued) this.settle(cmd, new ClientError(ErrorCode.Disconnected, 'the client stopped'));
  }
}

// ---- Tokens and timing

/**
 * The `exp` and `iat` (seconds) of a JWT, read without verifying: only the server can, and the
 * client needs no more than when to refresh. Undefined for anything that is not a JWT with exp.
 */
export function tokenTimes(token: string): { exp: number; iat?: number } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    // Read as Latin-1: UTF-8's multi-byte sequences hold only bytes ≥ 0x80, so the JSON's
    // structure and its ASCII numbers come through intact, with no TextDecoder (WeChat lacks one).
    let json = '';
    for (const byte of decodeBase64(parts[1])) json += String.fromCharCode(byte);
    const claims: unknown = JSON.parse(json);
    if (!isRecord(claims) || typeof claims.exp !== 'number') return undefined;
    return typeof claims.iat === 'number' ? { exp: claims.exp, iat: claims.iat } : { exp: claims.exp };
  } catch {
    return undefined;
  }
}

/**
 * Milliseconds until a token expiring at `expMs` should be refreshed: 10% of its lifetime or 30 s
 * before expiry, whichever comes first, but never earlier than halfway (a 20 s token would
 * otherwise be refreshed the moment it arrives, and again, and again).
 */
export function refreshDelay(expMs: number, nowMs: number, issuedMs?: number): number {
  const remaining = expMs - nowMs;
  const lifetime = issuedMs !== undefined && issuedMs < expMs ? expMs - issuedMs : remaining;
  const lead = Math.min(Math.max(lifetime * 0.1, 30_000), lifetime / 2);
  return Math.max(0, remaining - lead);
}

/** Full jitter (the page's "Closing codes"): uniform in [0, min(max, base·2^attempt)). */
export function backoffDelay(attempt: number, random: () => number, base: number, max: number): number {
  return random() * Math.min(max, base * 2 ** Math.min(attempt, 30));
}

// ---- Exactly once, in order

export type Delivery = { kind: 'pub'; pub: Publication } | { kind: 'gap'; gap: Gap };

const after = (pub: Publication): Position => ({ offset: (pub.offset ?? 1) - 1, epoch: pub.epoch ?? '' });

/**
 * The last processed position of one topic, and the rules that turn pushed publications into
 * deliveries: each offset once, in order, every gap reported before what follows it. While a
 * `subscribe` with `since` waits for its reply, a publication that does not follow on is held,
 * because only the reply says whether the jump is a gap (and why) or not.
 */
export class TopicCursor {
  position: Position | undefined;
  private held: Publication[] | undefined;
  private since: Position | undefined;

  constructor(readonly topic: string) {}

  /** A subscribe with `since` is on its way. */
  recover(since: Position): void {
    this.held = [];
    this.since = since;
  }

  /** Gives up recovering without a reply (the connection ended): what was held comes again. */
  abandon(): void {
    this.held = undefined;
  }

  accept(pub: Publication, out: Delivery[]): void {
    const { offset, epoch } = pub;
    const at = this.position;
    if (offset === undefined || epoch === undefined || at === undefined) {
      if (offset !== undefined && epoch !== undefined) this.position = { offset, epoch };
      out.push({ kind: 'pub', pub });
      return;
    }
    if (epoch === at.epoch && offset <= at.offset) return; // already processed: a replay overlapping the live ones
    // {0, ''}: the topic had no history yet (a subscribe's reply says so): its first epoch follows on.
    const sameEpoch = epoch === at.epoch || (at.epoch === '' && at.offset === 0);
    if (!sameEpoch || offset !== at.offset + 1) {
      if (this.held !== undefined) {
        this.held.push(pub);
        return;
      }
      out.push({ kind: 'gap', gap: { topic: this.topic, reason: sameEpoch ? 'missed' : 'epoch', from: at, to: after(pub) } });
    }
    this.position = { offset, epoch };
    out.push({ kind: 'pub', pub });
  }

  /** The subscribe's reply: the gap it names (unless `since` asked for the oldest kept), then what was held. */
  settle(result: SubscribeResult, out: Delivery[]): void {
    const held = this.held ?? [];
    this.held = undefined;
    // The server pushes in order; grouping by epoch and sorting by offset only guards the rule.
    const epochs = [...new Set(held.map((p) => p.epoch))];
    const ordered = epochs.flatMap((e) => held.filter((p) => p.epoch === e).sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0)));
    if (result.recovered === false) {
      const reason = result.reason ?? 'unavailable';
      const to = ordered.length > 0 ? after(ordered[0]) : result.position;
      const fromOldest = this.since?.epoch === '' && (reason === 'trimmed' || reason === 'epoch');
      const gap: Gap = { topic: this.topic, reason };
      if (this.position !== undefined && this.position.epoch !== '') gap.from = this.position;
      if (to !== undefined) gap.to = to;
      if (!fromOldest) out.push({ kind: 'gap', gap });
      this.position = to;
    } else if (this.position === undefined || this.position.epoch === '') {
      this.position = ordered.length > 0 ? after(ordered[0]) : result.position;
    }
    for (const pub of ordered) this.accept(pub, out);
  }

  /**
   * Subscribed again on a new connection with no replay (the server's own subscription, or a topic
   * that had no position): whatever was published meanwhile is lost, and said so.
   */
  rejoin(position: Position | undefined, out: Delivery[]): void {
    const at = this.position;
    let reason: Gap['reason'] | undefined;
    if (at === undefined || position === undefined) reason = 'no-history';
    else if (position.epoch !== at.epoch) reason = 'epoch';
    else if (position.offset > at.offset) reason = 'missed';
    if (reason !== undefined) {
      const gap: Gap = { topic: this.topic, reason };
      if (at !== undefined) gap.from = at;
      if (position !== undefined) gap.to = position;
      out.push({ kind: 'gap', gap });
    }
    if (position !== undefined && (at === undefined || reason !== undefined)) this.position = position;
  }
}
