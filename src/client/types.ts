// The client's public types, in a module of their own that holds nothing else: every import of
// it is `import type`, erased when compiled, so browsers never load it (wssd-client.js loads only
// wssd-protocol.js at run time).

/**
 * An error the client reports: a ClientError (wssd-protocol.ts), named here by its shape so this
 * module imports nothing (the protocol module imports these types).
 */
export interface ClientError extends Error {
  readonly name: 'ClientError';
  /** A code of the protocol (`permission_denied`, `timeout`, `protocol_error`…), or the client's own. */
  readonly code: string;
}

/** Where a publication stands in a topic with history. An empty epoch with offset 0 means "from the oldest kept". */
export interface Position {
  offset: number;
  epoch: string;
}

/** Application data as received: text as a string, bytes (sent as `data_base64`) as a Uint8Array. */
export type Payload = string | Uint8Array;
/** Application data as given: a string goes as text, anything else as bytes. */
export type Data = string | ArrayBuffer | ArrayBufferView;

export interface Publication {
  topic: string;
  data: Payload;
  /** Present for a topic with history, with `epoch`. */
  offset?: number;
  epoch?: string;
}

/** A `join` or `leave` push. */
export interface PresenceChange {
  topic: string;
  client: string;
  user?: string;
  info?: unknown;
}

/**
 * Publications that will never be delivered: after `from` (the last processed; absent when none
 * was known) up to `to` included (absent when unknown). Besides the server's reasons, `no-history`
 * also when a topic without history is subscribed again after a reconnect (what was published
 * meanwhile is lost), and the client's own `missed`: the offsets jumped, or moved on while it was
 * away from a subscription the server made, and the server named no reason.
 */
export interface Gap {
  topic: string;
  reason: 'trimmed' | 'epoch' | 'no-history' | 'unavailable' | 'missed' | (string & {});
  from?: Position;
  to?: Position;
}

/** The result of a `subscribe` command. */
export interface SubscribeResult {
  recovered: boolean;
  reason?: string;
  replayed: number;
  position?: Position;
}

/** The socket as the client sees it; the client sets the hooks right after the factory returns. */
export interface Transport {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  /** With the subprotocol the server chose, when the socket tells it: anything but wssd.v1 is refused. */
  onopen: ((protocol?: string) => void) | null;
  onmessage: ((text: string) => void) | null;
  onclose: ((code: number, reason: string) => void) | null;
  /** A ClientError with code `protocol_error` makes the client drop the connection; others are reported. */
  onerror: ((error: ClientError) => void) | null;
}

export type TransportFactory = (url: string, protocols: string[]) => Transport;

/** What the default transport needs of a WebSocket: the browser's, Node ≥ 22's global one, or `ws`'s. */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  /**
   * Still 0 (CONNECTING) at an error: the opening failed and no close will follow (Node 20's
   * WebSocket, nodejs/undici#3546; browsers and `ws` close first), so the transport reports the close.
   */
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
/** Typed loosely on purpose: each implementation types its events its own way; all fit WebSocketLike. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => object;

/** Wall-clock milliseconds (a token's exp is wall-clock) and timers; tests pass a manual one. */
export interface ClientClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export interface ClientOptions {
  token?: string;
  /** Asked for a first token, after close 4001 or a `token_invalid`, and before a JWT's exp. */
  getToken?: () => Promise<string>;
  /** Default: globalThis.WebSocket. */
  websocket?: WebSocketConstructor;
  /** Replaces `websocket`: WeChat's (wssd/client/wechat), or a test's. */
  transport?: TransportFactory;
  clock?: ClientClock;
  random?: () => number;
  /** Milliseconds a command may wait for its reply, queued and sent (10 s; rpc() takes its own). */
  timeout?: number;
  /** Silence before a ping (25 s), then the wait for anything at all (10 s). */
  pingInterval?: number;
  pongTimeout?: number;
  /** How long a connection may take to open (20 s). */
  connectTimeout?: number;
  /** Full-jitter backoff: up to base·2^attempt, at most max (0.5 s, 20 s), from base again after `stableAfter` connected (10 s). */
  backoffBase?: number;
  backoffMax?: number;
  stableAfter?: number;
  /** Commands on the wire waiting for a reply, the server's bound (64); past it, limit_exceeded. */
  maxPending?: number;
  /** Commands made while disconnected that wait for a connection (100); past it, unavailable. */
  maxQueued?: number;
  maxSubscriptions?: number;
}

export interface SubscribeOptions {
  /** Resume from here (a position from an earlier session); `{offset: 0, epoch: ''}`: from the oldest kept. */
  since?: Position;
  presence?: boolean;
  onPublication?(pub: Publication): void;
  onJoin?(change: PresenceChange): void;
  onLeave?(change: PresenceChange): void;
  onGap?(gap: Gap): void;
  onSubscribed?(result: SubscribeResult): void;
  /** The server unsubscribed the client (an `unsubscribe` push): it will not be resubscribed. */
  onUnsubscribed?(): void;
  onError?(error: ClientError): void;
}

export interface Subscription {
  readonly topic: string;
  /** The last publication processed: what a resubscribe resumes from. */
  readonly position: Position | undefined;
  readonly state: 'subscribing' | 'subscribed' | 'unsubscribed';
  unsubscribe(): void;
}

export interface ClientEvents {
  connecting: { url: string; attempt: number };
  connected: { url: string };
  /** `delay`: milliseconds until the next attempt, when `reconnect`. */
  disconnected: { code: number; reason: string; reconnect: boolean; delay?: number };
  error: ClientError;
  message: { data: Payload };
  /** The server subscribed the client; the topic's pushes come as the events below unless subscribe() took it. */
  subscribed: { topic: string; position?: Position };
  unsubscribed: { topic: string };
  publication: Publication;
  join: PresenceChange;
  leave: PresenceChange;
  gap: Gap;
}

export interface PresenceResult {
  members: { client: string; user?: string; info?: unknown }[];
  total: number;
  next?: string;
}

export interface HistoryResult {
  publications: Publication[];
  position?: Position;
  recovered: boolean;
  reason?: string;
}
