// The server's verbs for applications and backends, over its topics and the
// fleet: publish (and with an acknowledgement), counts, and the fleet-wide
// verbs by user or client — send, subscribe, unsubscribe, disconnect — and
// the questions (a user's connections, a topic's members, the nodes,
// history). WebSocketServer (websocket-server.ts) wires what they act on.
import { EventEmitter } from 'node:events';
import type { UpgradeRequest } from '../http/upgrade.js';
import type { ResolvedOptions } from '../options/server-options.js';
import { encodeClosePayload } from '../protocol/close.js';
import { KICKED, type Fleet, type NodeInfo, type PresencePage, type Target } from '../gateway/fleet.js';
import type { StreamPosition } from '../pubsub/history.js';
import { toBuffer, type PublishData } from '../pubsub/publication.js';
import type { HistoryRead, PublishOptions, PubSub } from '../pubsub/pubsub.js';
import { checkTopic } from '../pubsub/topic-name.js';
import type { ClientIds } from '../gateway/client-ids.js';
import type { Connection } from './connection.js';

export interface ServerEvents {
  connection: [connection: Connection, request: UpgradeRequest];
  /** A topic's subscriber count in this process changed (0 → 1 and 1 → 0 included). */
  subscription: [topic: string, count: number, previousCount: number];
  /** A publication reached the local subscribers but not the broker (Redis away past its queue, or lost in flight). */
  publishFailed: [topic: string, error: Error];
  /** After the broker came back, publications of `topic` missed meanwhile could not all be recovered from its history. */
  recoveryFailed: [topic: string, reason: 'epoch' | 'trimmed', had: StreamPosition, now: StreamPosition];
  /** A handshake was refused with an HTTP status. */
  refused: [status: number, reason: string, remoteAddress: string];
  /** A TLS handshake failed; `kind` is its class ('http_request', …). */
  tlsClientError: [kind: string, error: Error, remoteAddress: string];
  error: [error: Error];
}

export abstract class ServerVerbs extends EventEmitter<ServerEvents> {
  abstract readonly options: ResolvedOptions;
  protected abstract readonly pubsub: PubSub<Connection>;
  protected abstract readonly fleet: Fleet<Connection>;
  protected abstract readonly ids: ClientIds;

  /**
   * Publishes to every subscriber of `topic` in the whole server (every
   * worker, every node the broker reaches). Returns how many subscribers in
   * this process it was delivered to; never throws for a topic nobody wants.
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    return this.pubsub.publish(topic, data, options);
  }

  /**
   * publish(), resolved once the broker took the publication — with its
   * position when the topic keeps history — and rejected when it did not
   * (Redis away past its queue, or lost in flight). One process alone
   * resolves at once.
   */
  publishAcknowledged(topic: string, data: PublishData, options?: PublishOptions): Promise<StreamPosition | undefined> {
    return this.pubsub.publishAcknowledged(topic, data, options);
  }

  /** Subscribers of `topic` in this process, in O(1). */
  subscriberCount(topic: string): number {
    return this.pubsub.count(topic);
  }

  /** Subscribers of `topic` in every process of the server (asked through the broker). */
  totalSubscriberCount(topic: string): Promise<number> {
    return this.pubsub.countEverywhere(topic);
  }

  /**
   * Sends `data` to every connection of a user, or to one client, wherever
   * it is in the fleet (GatewayWorker's sendToUid / sendToClient). Strings go
   * as text, bytes as binary. Returns how many connections of this process got it.
   */
  send(target: Target, data: PublishData, options?: { binary?: boolean }): number {
    const bytes = typeof data === 'string' ? data : toBuffer(data);
    return this.fleet.send(target, bytes, options?.binary ?? typeof data !== 'string');
  }

  /** Closes every connection of a user, or one client, wherever it is (GatewayWorker's closeClient); 4000 by default. */
  disconnect(target: Target, code: number = KICKED.code, reason: string = KICKED.reason): number {
    encodeClosePayload(code, reason); // a code or reason that may not be sent throws here, not in another process
    return this.fleet.disconnect(target, code, reason);
  }

  /** Subscribes every connection of a user, or one client, to `topic`, wherever it is (GatewayWorker's joinGroup). */
  subscribe(target: Target, topic: string): number {
    return this.fleet.subscribe(target, checkTopic(topic, this.options.maxTopicLength));
  }

  unsubscribe(target: Target, topic: string): number {
    return this.fleet.unsubscribe(target, checkTopic(topic, this.options.maxTopicLength));
  }

  /** Whether a user is connected anywhere, and its connections with the process holding each (isUidOnline, getClientIdByUid). */
  userConnections(user: string): Promise<{ online: boolean; connections: { client: string; node: string }[] }> {
    return this.fleet.userConnections(user);
  }

  /** A page of the members of `topic` over the fleet (client, user, info), in client id order. */
  presence(topic: string, options?: { after?: string; limit?: number }): Promise<PresencePage> {
    return this.fleet.presence(checkTopic(topic, this.options.maxTopicLength), options);
  }

  /** Every process of the fleet: its node, connections, uptime, version. */
  nodes(): Promise<NodeInfo[]> {
    return this.fleet.nodes();
  }

  /**
   * A page of `topic`'s history after `since` (offset 0 of no epoch: from
   * the oldest kept), at most `limit` publications; undefined when the topic
   * keeps none. Only with Redis and --history-size.
   */
  history(topic: string, since: StreamPosition = { offset: 0, epoch: '' }, limit = 100): Promise<HistoryRead | undefined> {
    return this.pubsub.history(topic, since, Math.max(1, Math.min(1000, limit)));
  }

  /** This process's node: the first 12 hex digits of its client ids. */
  get node(): string {
    return this.ids.node;
  }
}
