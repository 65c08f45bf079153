// A connection as the server knows it: the `ws`-like WebSocketConnection
// (websocket-connection.ts) plus its client id, user and info, its topics
// (subscribe, publish, deliveries encoded once for every subscriber) and,
// when the client speaks it, the wssd.v1 protocol.
import type { Socket } from 'node:net';
import { connectionExits } from '../protocol/errors.js';
import { SessionState, type MessageCompression } from '../protocol/session.js';
import type { ClientIdentity, UpgradeRequest } from '../http/upgrade.js';
import { checkUser, userRoute } from '../gateway/routes.js';
import { MAX_INFO_BYTES, type PresenceEvent } from '../gateway/presence.js';
import { disconnectPush, messagePush, reconnects, subscribedPush, unsubscribedPush, V1, v1Form } from '../gateway/v1/frames.js';
import type { V1Session } from '../gateway/v1/session.js';
import type { Publication, PublishData } from '../pubsub/publication.js';
import type { StreamPosition } from '../pubsub/history.js';
import type { PublishOptions, PubSub, ResumeResult, SlowSubscriberPolicy, SubscribeStatus, Subscriber } from '../pubsub/pubsub.js';
import { WebSocketConnection, type WebSocketOptions } from './websocket-connection.js';

export type { UpgradeRequest } from '../http/upgrade.js';
export { ReadyState, type ConnectionEvents, type SendOptions } from './websocket-connection.js';

/** What every connection of a server shares: one object, not a copy each. */
export interface ConnectionOptions extends WebSocketOptions {
  /** The server's topics. */
  topics: PubSub<Connection>;
  /** Called once when the connection is gone, before its 'close' event (the server's bookkeeping). */
  onGone: (connection: Connection, code: number, reason: string) => void;
  /** Every message a client sends, before the 'message' event (the message proxy); undefined: none. */
  onClientMessage: ((connection: Connection, data: Buffer, binary: boolean) => void) | undefined;
}

export interface SubscribeOptions {
  /** Replay what was published after this position (from the topic's history) before the live publications. */
  since?: StreamPosition;
}

export class Connection extends WebSocketConnection implements Subscriber {
  /** The client id: 20 hex digits, unique across the fleet; its first 12 name the process that holds it. */
  readonly id: string;
  /** What the client's token or the connect proxy said about it; undefined for an anonymous client. */
  readonly identity: ClientIdentity | undefined;
  private userName: string | undefined;
  private infoObject: Record<string, unknown> | undefined;
  /** The wssd.v1 side of the connection, when the client speaks it. */
  private v1: V1Session | undefined;
  private readonly options: ConnectionOptions;

  constructor(socket: Socket, request: UpgradeRequest, protocol: string, options: ConnectionOptions, compression?: MessageCompression) {
    super(socket, request, protocol, options, compression);
    this.id = request.client;
    this.identity = request.identity;
    this.infoObject = request.identity?.info;
    this.options = options;
  }

  /** The user this connection is bound to (its token's sub, the connect proxy's user, or setUser()); undefined: none. */
  get user(): string | undefined {
    return this.userName;
  }

  /**
   * Binds the connection to a user, or unbinds it (undefined): a send,
   * subscribe or disconnect for that user, from anywhere in the fleet,
   * then reaches it. A user is a non-empty string of at most 256 bytes.
   */
  setUser(user: string | undefined): void {
    if (user === this.userName || this.closed) return;
    const topics = this.options.topics;
    if (this.userName !== undefined) topics.unsubscribeRoute(this, userRoute(this.userName));
    this.userName = user === undefined ? undefined : checkUser(user);
    if (this.userName !== undefined) topics.subscribeRoute(this, userRoute(this.userName));
  }

  /** A small JSON object about the connection, shown in presence and backend events. */
  get info(): Record<string, unknown> | undefined {
    return this.infoObject;
  }

  /** Replaces the info object; it must serialize to at most 2,048 bytes of JSON. */
  setInfo(info: Record<string, unknown> | undefined): void {
    if (info !== undefined && (typeof info !== 'object' || info === null || Array.isArray(info) || Buffer.byteLength(JSON.stringify(info), 'utf8') > MAX_INFO_BYTES)) {
      throw new RangeError(`info is a JSON object of at most ${MAX_INFO_BYTES} bytes`);
    }
    this.infoObject = info;
  }

  /** A wssd.v1 client hears why it is closed, and whether to come back, before the Close. */
  protected override closing(code: number, reason: string): void {
    if (this.v1 !== undefined && this.session.state === SessionState.Open) this.sendFrame(disconnectPush(code, reason, reconnects(code)));
  }

  /** @internal This connection speaks wssd.v1: its messages are the protocol's commands, its deliveries wrapped. */
  speakV1(session: V1Session): void {
    this.v1 = session;
  }

  /** @internal Sent to this client by id (server.send, the API): a message, or a `message` push for wssd.v1. */
  sendMessage(data: Buffer, binary: boolean): boolean {
    return this.v1 === undefined ? this.send(data, { binary }) : this.send(messagePush(data, binary));
  }

  /** @internal One frame of wssd.v1 (a reply or a push). */
  sendFrame(text: string): void {
    this.send(text);
  }

  /** @internal The token expired without a refresh (wssd.v1): closed with 4001. */
  expired(): void {
    this.closeFor(connectionExits.tokenExpired());
  }

  /** @internal The backend disconnected it (the API, server.disconnect(), a GatewayWorker kick). */
  kick(code: number, reason: string): void {
    this.closeFor(connectionExits.kicked(code, reason));
  }

  /** @internal A member of a topic with presence joined or left (emitted only while listened to). */
  presence(topic: string, event: PresenceEvent): void {
    this.v1?.presenceEvent(topic, event);
    if (this.listenerCount('presence') > 0) this.emit('presence', topic, event);
  }

  /**
   * Subscribes to `topic` (a string of at most maxTopicLength bytes of
   * UTF-8): every publication of it, from anywhere in the server, is sent
   * here. Returns false if already subscribed, closed, or refused by a topic
   * limit (trySubscribe() tells which). A connection leaves all its topics
   * when it closes.
   */
  subscribe(topic: string, options?: SubscribeOptions): boolean {
    return this.trySubscribe(topic, options) === 'subscribed';
  }

  /**
   * subscribe() with the outcome spelled out: 'subscribed', 'already',
   * 'connection-limit' (maxTopicsPerConnection), 'server-limit' (maxTopics)
   * or 'closed'. A refusal is counted (/stats `losses`).
   */
  trySubscribe(topic: string, options?: SubscribeOptions): SubscribeStatus {
    const status = this.subscribeForClient(topic, options);
    // A wssd.v1 client hears of a subscription the server made for it, with where the topic stands (to resume from later).
    if (status === 'subscribed' && this.v1 !== undefined) {
      const topics = this.options.topics;
      if (!topics.hasHistory(topic)) this.sendFrame(subscribedPush(topic));
      else {
        topics.history(topic, { offset: 0, epoch: '' }, 0).then(
          (read) => this.sendFrame(subscribedPush(topic, read?.position)),
          () => this.sendFrame(subscribedPush(topic)),
        );
      }
    }
    return status;
  }

  /** @internal A subscription the wssd.v1 client asked for itself (its reply says so; no push). */
  subscribeForClient(topic: string, options?: { since?: StreamPosition | 'now' }): SubscribeStatus {
    if (this.closed) return 'closed';
    return this.options.topics.subscribe(this, topic, options?.since);
  }

  /** @internal subscribe(topic, { since }) caught up. */
  resumed(topic: string, result: ResumeResult): void {
    this.v1?.resumed(topic, result);
    this.emit('resume', topic, result);
  }

  /** Leaves `topic`; false if it was not subscribed. */
  unsubscribe(topic: string): boolean {
    const left = this.unsubscribeForClient(topic);
    if (left && this.v1 !== undefined) this.sendFrame(unsubscribedPush(topic));
    return left;
  }

  /** @internal The wssd.v1 client left a topic itself. */
  unsubscribeForClient(topic: string): boolean {
    const left = this.options.topics.unsubscribe(this, topic);
    if (left) this.v1?.left(topic);
    return left;
  }

  isSubscribed(topic: string): boolean {
    return this.options.topics.registry.isSubscribed(this, topic);
  }

  /** The topics this connection is subscribed to, in the order it joined them. */
  get topics(): readonly string[] {
    return this.options.topics.registry.topicsOf(this);
  }

  /**
   * Publishes to every subscriber of `topic` in the server but this
   * connection. Returns how many subscribers in this process it reached.
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    return this.options.topics.publish(topic, data, options, this);
  }

  /** @internal A publication, encoded once for every subscriber: sent unless closing, or too slow (then `policy`). */
  deliver(publication: Publication, maxBackpressure: number, policy: SlowSubscriberPolicy): boolean {
    if (!this.session.canSend || this.writer.destroyed) return false;
    // A wssd.v1 client gets the publication in its envelope (made once for all of them): that is what is sent and counted.
    const sent = this.v1 === undefined ? publication : publication.variant(V1, v1Form);
    const length = sent.payload.length;
    const buffered = this.writer.bufferedAmount;
    if (buffered > maxBackpressure) {
      if (policy === 'close') {
        this.closeFor(connectionExits.slowSubscriber());
      } else {
        this.options.counters.dropped++;
        this.options.counters.lost('slow-subscriber');
        this.emit('drop', publication.topic, publication.binary ? publication.payload : publication.payload.toString('utf8'));
      }
      return false;
    }
    if (buffered + length > this.options.maxBuffered) {
      this.overflow();
      return false;
    }
    this.session.sendShared(sent);
    const counters = this.options.counters;
    counters.messagesOut++;
    counters.bytesOut += length;
    if (publication.position !== undefined && this.listenerCount('publication') > 0) this.emit('publication', publication.topic, publication.position);
    return true;
  }

  protected override received(data: Buffer, binary: boolean): void {
    // A wssd.v1 client's frames are commands of the protocol, not the application's messages.
    if (this.v1 !== undefined) return this.v1.receive(data, binary);
    this.options.onClientMessage?.(this, data, binary);
    super.received(data, binary);
  }

  protected override gone(code: number, reason: string): void {
    this.options.topics.unsubscribeAll(this);
    this.v1?.close();
    this.options.onGone(this, code, reason);
  }
}
