// The gateway's verbs over the whole fleet — every worker of --workers and
// every node joined by Redis — whichever process is asked: send to a user or
// a client, subscribe or unsubscribe them, disconnect them, and the questions
// (a user's connections, a topic's members, the nodes). What changes
// something travels through the broker on a route (a user's, or the process
// that holds a client), in order with what else was sent there; a question is
// asked of every process (gather) and the answers merged, so nothing is kept
// per user or per topic anywhere but in the process that holds the
// connection.
import { PublicationKind } from '../pubsub/broker.js';
import type { PubSub, Subscriber } from '../pubsub/pubsub.js';
import { nodeOfClient } from './client-ids.js';
import { decodeFleetCommand, encodeFleetCommand, type FleetCommand } from './fleet-command.js';
import { decodePresence, encodePresence, type PresenceEvent, type PresenceRule } from './presence.js';
import { checkUser, nodeRoute, userOfRoute, userRoute } from './routes.js';

/** A connection as the fleet acts on it (Connection implements it). */
export interface FleetMember extends Subscriber {
  readonly id: string;
  /** ReadyState: only an open connection (1) is online and a member. */
  readonly readyState: number;
  readonly user: string | undefined;
  readonly info: Record<string, unknown> | undefined;
  /** Something sent to this client (a send by client id): as a message, or a `message` push to a wssd.v1 client. */
  sendMessage(data: Buffer, binary: boolean): boolean;
  /** Closed by the server for the backend, with this code and reason. */
  kick(code: number, reason: string): void;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  /** A member joined or left a topic this one is in. */
  presence?(topic: string, event: PresenceEvent): void;
}

/** Whom a verb is for: every connection of a user, or one client. */
export type Target = { user: string } | { client: string };

/** What this process holds, as the fleet needs it. */
export interface FleetHost<M extends FleetMember> {
  /** This process's 12 hex digits (the first 12 of its client ids). */
  readonly node: string;
  /** A connection of this process, by client id. */
  member(client: string): M | undefined;
  /** This process, for GET /api/info. */
  nodeInfo(): NodeInfo;
}

export interface NodeInfo {
  node: string;
  connections: number;
  uptimeSeconds: number;
  version: string;
  pid: number;
}

export interface Member {
  client: string;
  user: string | undefined;
  info: Record<string, unknown> | undefined;
}

/** A page of a topic's members, in client id order; `next` continues it. */
export interface PresencePage {
  members: Member[];
  /** Members in every process that answered (all of them, not only this page). */
  total: number;
  /** The client id to continue after, when there are more. */
  next: string | undefined;
}

/** Most members or connections one answer holds. */
export const MAX_PAGE = 1000;

/** The closing code and reason of a backend's disconnect when it gives none: do not reconnect. */
export const KICKED = { code: 4000, reason: 'disconnected by the server' } as const;

export class Fleet<M extends FleetMember> {
  constructor(
    private readonly pubsub: PubSub<M>,
    private readonly host: FleetHost<M>,
    private readonly presenceRule: PresenceRule,
  ) {}

  /** This process's route, where commands for its clients arrive; listened to for as long as it runs. */
  get route(): string {
    return nodeRoute(this.host.node);
  }

  /** Sends `data` to every connection of the user, or to the client, wherever it is; returns how many in this process got it. */
  send(target: Target, data: string | Buffer, binary = typeof data !== 'string'): number {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if ('user' in target) return this.pubsub.signal(userRoute(checkUser(target.user)), bytes, PublicationKind.Data, binary);
    return this.command({ op: 'send', client: target.client, binary, data: bytes });
  }

  disconnect(target: Target, code: number = KICKED.code, reason: string = KICKED.reason): number {
    return this.toTarget(target, { op: 'disconnect', code, reason });
  }

  subscribe(target: Target, topic: string): number {
    return this.toTarget(target, { op: 'subscribe', topic });
  }

  unsubscribe(target: Target, topic: string): number {
    return this.toTarget(target, { op: 'unsubscribe', topic });
  }

  private toTarget(target: Target, command: { op: 'disconnect'; code: number; reason: string } | { op: 'subscribe' | 'unsubscribe'; topic: string }): number {
    if ('user' in target) return this.pubsub.signal(userRoute(checkUser(target.user)), encodeFleetCommand(command), PublicationKind.Command);
    return this.command({ ...command, client: target.client });
  }

  /** A command for one client: carried out here when it is ours, else sent to the process its id names. */
  private command(command: FleetCommand & { client: string }): number {
    const node = nodeOfClient(command.client);
    if (node === undefined) return 0;
    if (node === this.host.node) {
      const member = this.host.member(command.client);
      return member === undefined ? 0 : this.apply([member], command);
    }
    this.pubsub.signal(nodeRoute(node), encodeFleetCommand(command), PublicationKind.Command);
    return 0;
  }

  /** A command that came through the broker on a route: for one client of ours, or for the route's user. */
  received(route: string, payload: Buffer): void {
    const command = decodeFleetCommand(payload);
    if (command === undefined) return;
    if (command.client !== undefined) {
      const member = this.host.member(command.client);
      if (member !== undefined) this.apply([member], command);
      return;
    }
    const user = userOfRoute(route);
    if (user === undefined) return;
    const members = this.pubsub.routes.subscribers(route);
    if (members !== undefined) this.apply([...members].filter((m) => m.user === user), command);
  }

  private apply(members: readonly M[], command: FleetCommand): number {
    let done = 0;
    for (const member of members) {
      switch (command.op) {
        case 'send':
          if (member.sendMessage(command.data, command.binary)) done++;
          break;
        case 'disconnect':
          member.kick(command.code, command.reason);
          done++;
          break;
        case 'subscribe':
          if (member.subscribe(command.topic)) done++;
          break;
        case 'unsubscribe':
          if (member.unsubscribe(command.topic)) done++;
          break;
      }
    }
    return done;
  }

  /** A member joined or left `topic`: announced to the topic's subscribers everywhere, where presence is on. */
  membership(member: M, topic: string, joined: boolean): void {
    if (!this.presenceRule.covers(topic) || this.pubsub.count(topic) > this.presenceRule.maxMembers) return;
    const event: PresenceEvent = { type: joined ? 'join' : 'leave', client: member.id, user: member.user, info: member.info };
    this.pubsub.signal(topic, encodePresence(event), PublicationKind.Presence);
  }

  /** A join or leave of `topic`, from this process or another: to its subscribers here, but the member itself. */
  announced(topic: string, payload: Buffer): void {
    const event = decodePresence(payload);
    const subscribers = event === undefined ? undefined : this.pubsub.registry.subscribers(topic);
    if (event === undefined || subscribers === undefined) return;
    for (const member of subscribers) if (member.id !== event.client) member.presence?.(topic, event);
  }

  /** Every connection of `user` in the fleet (at most MAX_PAGE), with the process that holds it. */
  async userConnections(user: string): Promise<{ online: boolean; connections: { client: string; node: string }[] }> {
    const answers = await this.pubsub.gather({ kind: 'user', user: checkUser(user) });
    const connections = answers.flatMap((a) => (isList(a, 'connections') ? (a.connections as { client: string; node: string }[]) : [])).slice(0, MAX_PAGE);
    return { online: connections.length > 0, connections };
  }

  /** A page of the members of `topic` over the fleet, in client id order, after `after`. */
  async presence(topic: string, options: { after?: string; limit?: number } = {}): Promise<PresencePage> {
    const limit = Math.max(1, Math.min(MAX_PAGE, options.limit ?? MAX_PAGE));
    const answers = await this.pubsub.gather({ kind: 'presence', topic, after: options.after ?? '', limit });
    let total = 0;
    const members: Member[] = [];
    for (const a of answers) {
      if (!isList(a, 'members')) continue;
      total += typeof a.total === 'number' ? a.total : 0;
      members.push(...(a.members as Member[]));
    }
    members.sort((x, y) => (x.client < y.client ? -1 : x.client > y.client ? 1 : 0));
    const page = members.slice(0, limit);
    const more = members.length > limit || page.length === limit;
    return { members: page, total, next: more && page.length > 0 ? page[page.length - 1].client : undefined };
  }

  /** Every process of the fleet: its node, connections, uptime, version. */
  async nodes(): Promise<NodeInfo[]> {
    const answers = await this.pubsub.gather({ kind: 'info' });
    return answers.filter((a): a is NodeInfo => typeof a === 'object' && a !== null && typeof (a as NodeInfo).node === 'string');
  }

  /** This process's answer to a fleet question, or undefined when it is not one. */
  answer(question: { kind: string; [field: string]: unknown }): unknown {
    switch (question.kind) {
      case 'user': {
        if (typeof question.user !== 'string') return undefined;
        const members = this.pubsub.routes.subscribers(userRoute(question.user));
        const connections = members === undefined ? [] : [...members].filter(isOpen).slice(0, MAX_PAGE).map((m) => ({ client: m.id, node: this.host.node }));
        return { connections };
      }
      case 'presence': {
        if (typeof question.topic !== 'string') return undefined;
        const after = typeof question.after === 'string' ? question.after : '';
        const limit = typeof question.limit === 'number' ? Math.min(MAX_PAGE, question.limit) : MAX_PAGE;
        const subscribers = this.pubsub.registry.subscribers(question.topic);
        if (subscribers === undefined) return { members: [], total: 0 };
        // This process's page: its members after `after`, the lowest ids first.
        const members = [...subscribers]
          .filter((m) => m.id > after && isOpen(m))
          .sort((x, y) => (x.id < y.id ? -1 : 1))
          .slice(0, limit)
          .map((m): Member => ({ client: m.id, user: m.user, info: m.info }));
        return { members, total: subscribers.size };
      }
      case 'info':
        return this.host.nodeInfo();
      default:
        return undefined;
    }
  }
}

function isOpen(member: FleetMember): boolean {
  return member.readyState === 1;
}

function isList(answer: unknown, field: string): answer is Record<string, unknown> {
  return typeof answer === 'object' && answer !== null && Array.isArray((answer as Record<string, unknown>)[field]);
}
