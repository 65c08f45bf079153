// The Gateway as a table from command to action (spec §3.1): what each
// GatewayProtocol command from a BusinessWorker or GatewayClient does to the
// clients of this process, and the reply a query gets. Semantics are PHP's
// Gateway's, command by command — unknown connection ids ignored, '' and '0'
// refused as a uid or group, SEND_TO_ALL's `connections` by value and
// `exclude` by key, lists walked in order with repeats kept — over wssd's
// own state: a bound uid is the connection's user, a group is a topic.
//
// Where wssd cannot do what PHP does, the command is refused with a reason
// (logged and counted, the link kept): a uid or group that is not UTF-8 text
// (a user and a topic are text), a group a topic limit refuses, a raw send
// that is not whole frames, a body or JSON past our bounds.
import { isUtf8 } from '../protocol/utf8.js';
import { checkUser } from '../gateway/routes.js';
import { isValidWireCloseCode } from '../protocol/close.js';
import { CloseCode } from '../protocol/constants.js';
import { rawSends, RawFrameError, messageOf, type ClientSend } from './client-sends.js';
import type { ClientState, ClientTable, RoleConnection } from './client-table.js';
import { ConnectionFilter, listKeys, selectQuery, selectRows, sendToAllTargets, type SelectProperty, type SelectView } from './ext-data.js';
import * as cmd from './gateway-protocol.js';
import type { GatewayPacket } from './gateway-protocol.js';
import { clientMessage, decodeBody } from './json-php.js';
import {
  SERIALIZED_EMPTY_ARRAY,
  SERIALIZED_NULL,
  serializeCountsByKey,
  serializeIdsByKey,
  serializeInt,
  serializeIntList,
  serializeKeyList,
  serializeSelect,
  serializeSessions,
  updateSession,
} from './php-array.js';
import { bytesKey, isEmptyString, keyBytes, PhpDataError, textKey, type DataLimits, type PhpArray, type PhpKey, type PhpValue } from './php-value.js';

/** The connection a command came on: where a query's answer goes. */
export interface CommandLink {
  reply(payload: Buffer): void;
}

/** What the commands act on: the role (gateway-role.ts). */
export interface GatewayState<C extends RoleConnection, L extends CommandLink = CommandLink> {
  readonly clients: ClientTable<C>;
  /** Bounds on the PHP data read (bodies, sessions, JSON). */
  readonly limits: DataLimits;
  /** Largest message a raw send may hold. */
  readonly maxPayload: number;
  /** The members here of a group (a topic), in the order they joined. */
  groupMembers(topic: string): Iterable<ClientState<C>> | undefined;
  /** The clients here bound to a uid (a user), in the order they were bound. */
  uidMembers(user: string): Iterable<ClientState<C>> | undefined;
  /** Every group with a member here. */
  groups(): Iterable<string>;
  /** SEND_TO_GROUP's ext_data read (remembered: the same bytes come again and again). */
  readonly groupTargets: { get(extData: Buffer): { groups: PhpKey[]; exclude: ConnectionFilter } };
  /** One message to the members here of a group, but `exclude`: encoded once for all of them. */
  sendToGroup(topic: string, message: Extract<ClientSend, { kind: 'message' }>, exclude: ConnectionFilter): void;
  /** CMD_WORKER_CONNECT and CMD_GATEWAY_CLIENT_CONNECT: the secret checked, the link authorized or closed. */
  authorize(link: L, packet: GatewayPacket, asWorker: boolean): void;
  /** A command wssd does not carry out, with why (logged, counted; the link stays). */
  refused(command: string, reason: string): void;
}

type Action = <C extends RoleConnection, L extends CommandLink>(state: GatewayState<C, L>, packet: GatewayPacket, link: L) => void;

/** The table. Commands not in it (and ON_* events sent to a Gateway) are refused and the link kept, as PHP's `default:` branch does. */
export const COMMANDS: ReadonlyMap<number, Action> = new Map<number, Action>([
  [cmd.CMD_WORKER_CONNECT, (state, packet, link) => state.authorize(link, packet, true)],
  [cmd.CMD_GATEWAY_CLIENT_CONNECT, (state, packet, link) => state.authorize(link, packet, false)],

  [cmd.CMD_SEND_TO_ONE, (state, packet) => {
    const client = state.clients.get(packet.connectionId);
    if (client !== undefined) deliver(client, sendsOf(state, packet));
  }],
  [cmd.CMD_SEND_TO_ALL, (state, packet) => {
    const sends = sendsOf(state, packet);
    const targets = sendToAllTargets(packet.extData, state.limits);
    if ('connections' in targets) {
      for (const id of targets.connections) {
        const client = state.clients.get(id);
        if (client !== undefined) deliver(client, sends);
      }
    } else {
      for (const client of state.clients.all()) if (!targets.exclude.has(client.connectionId)) deliver(client, sends);
    }
  }],
  [cmd.CMD_SEND_TO_UID, (state, packet) => {
    const sends = sendsOf(state, packet);
    for (const key of listKeys(packet.extData, state.limits)) {
      const user = nameOf(key);
      for (const client of user === undefined ? [] : (state.uidMembers(user) ?? [])) deliver(client, sends);
    }
  }],
  [cmd.CMD_SEND_TO_GROUP, (state, packet) => {
    const sends = sendsOf(state, packet);
    const { groups, exclude } = state.groupTargets.get(packet.extData);
    for (const key of groups) {
      const topic = nameOf(key);
      if (topic === undefined) continue;
      const only = sends.length === 1 ? sends[0] : undefined;
      if (only?.kind === 'message') state.sendToGroup(topic, only, exclude);
      else for (const client of state.groupMembers(topic) ?? []) if (!exclude.has(client.connectionId)) deliver(client, sends);
    }
  }],
  [cmd.CMD_KICK, (state, packet) => {
    const client = state.clients.get(packet.connectionId);
    if (client === undefined) return;
    // The body goes through the encoder whatever the raw flag says; null (closeClient without a message) sends nothing.
    const body = decodeBody(packet, state.limits);
    if (body !== null) {
      const data = clientMessage(body);
      client.connection.sendMessage(data, !isUtf8(data));
    }
    client.connection.kick(KICK.code, KICK.reason);
  }],
  [cmd.CMD_DESTROY, (state, packet) => state.clients.get(packet.connectionId)?.connection.terminate()],

  [cmd.CMD_BIND_UID, (state, packet) => {
    const user = checkedName(state, 'BIND_UID', packet.extData, 'uid');
    const client = state.clients.get(packet.connectionId);
    if (user === undefined || client === undefined) return;
    try {
      client.connection.setUser(checkUser(user));
    } catch (error) {
      state.refused('BIND_UID', `uid ${JSON.stringify(user.slice(0, 64))}: ${(error as Error).message}`);
    }
  }],
  // GatewayWorker unbinds whatever uid the client has, whichever one is named.
  [cmd.CMD_UNBIND_UID, (state, packet) => state.clients.get(packet.connectionId)?.connection.setUser(undefined)],
  [cmd.CMD_JOIN_GROUP, (state, packet) => {
    const topic = checkedName(state, 'JOIN_GROUP', packet.extData, 'group');
    const client = state.clients.get(packet.connectionId);
    if (topic === undefined || client === undefined) return;
    let status: string;
    try {
      status = client.connection.trySubscribe(topic);
    } catch (error) {
      return state.refused('JOIN_GROUP', `group ${JSON.stringify(topic.slice(0, 64))} cannot be a topic: ${(error as Error).message}`);
    }
    if (status === 'subscribed' || status === 'already') client.grouped = true;
    else if (status !== 'closed') state.refused('JOIN_GROUP', `group ${JSON.stringify(topic.slice(0, 64))}: ${status}`);
  }],
  [cmd.CMD_LEAVE_GROUP, (state, packet) => {
    const topic = checkedName(state, 'LEAVE_GROUP', packet.extData, 'group');
    if (topic !== undefined) state.clients.get(packet.connectionId)?.connection.unsubscribe(topic);
  }],
  [cmd.CMD_UNGROUP, (state, packet) => {
    const topic = checkedName(state, 'UNGROUP', packet.extData, 'group');
    if (topic === undefined) return;
    for (const client of [...(state.groupMembers(topic) ?? [])]) client.connection.unsubscribe(topic);
  }],

  [cmd.CMD_SET_SESSION, (state, packet) => {
    const client = state.clients.get(packet.connectionId);
    if (client !== undefined) client.session = Buffer.from(packet.extData);
  }],
  [cmd.CMD_UPDATE_SESSION, (state, packet) => {
    const client = state.clients.get(packet.connectionId);
    if (client === undefined) return;
    // A session PHP finds empty ('' or '0') is replaced by the update as it is.
    if (isEmptyString(client.session)) client.session = Buffer.from(packet.extData);
    else client.session = updateSession(client.session, packet.extData, state.limits);
  }],

  // Queries: each answers on the link it came on, in order.
  [cmd.CMD_GET_SESSION_BY_CLIENT_ID, (state, packet, link) => {
    const client = state.clients.get(packet.connectionId);
    link.reply(client === undefined ? SERIALIZED_NULL : isEmptyString(client.session) ? SERIALIZED_EMPTY_ARRAY : client.session);
  }],
  [cmd.CMD_GET_ALL_CLIENT_SESSIONS, (state, _packet, link) => {
    link.reply(serializeSessions([...state.clients.all()].map((c) => [c.connectionId, c.session] as const)));
  }],
  [cmd.CMD_IS_ONLINE, (state, packet, link) => link.reply(serializeInt(state.clients.get(packet.connectionId) === undefined ? 0 : 1))],
  [cmd.CMD_GET_CLIENT_ID_BY_UID, (state, packet, link) => link.reply(serializeIntList(idsOf(uidMembersOf(state, bytesKey(packet.extData)))))],
  [cmd.CMD_BATCH_GET_CLIENT_ID_BY_UID, (state, packet, link) => {
    const keys = listKeys(packet.extData, state.limits);
    link.reply(serializeIdsByKey(keys.map((key) => [key, idsOf(uidMembersOf(state, key))] as const)));
  }],
  [cmd.CMD_GET_CLIENT_SESSIONS_BY_GROUP, (state, packet, link) => {
    const members = groupMembersOf(state, bytesKey(packet.extData));
    link.reply(serializeSessions(members.map((c) => [c.connectionId, c.session] as const)));
  }],
  [cmd.CMD_GET_CLIENT_COUNT_BY_GROUP, (state, packet, link) => {
    // '' counts every client of this Gateway ('0' is a group like any other here).
    const count = packet.extData.length === 0 ? state.clients.size : groupMembersOf(state, bytesKey(packet.extData)).length;
    link.reply(serializeInt(count));
  }],
  [cmd.CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP, (state, packet, link) => {
    const keys = listKeys(packet.extData, state.limits);
    link.reply(serializeCountsByKey(keys.map((key) => [key, groupMembersOf(state, key).length] as const)));
  }],
  [cmd.CMD_GET_GROUP_ID_LIST, (state, _packet, link) => link.reply(serializeKeyList([...state.groups()].map(textKey)))],
  [cmd.CMD_SELECT, (state, packet, link) => link.reply(serializeSelect(selectRows(selectQuery(packet.extData, state.limits), selectView(state))))],
]);

/** A GatewayWorker kick closes with the code and reason of every kick from a backend. */
const KICK = { code: 4000, reason: 'disconnected by the server' } as const;

/** Runs one command; throws PhpDataError or RawFrameError when its data is refused (nothing was done). */
export function runCommand<C extends RoleConnection, L extends CommandLink>(state: GatewayState<C, L>, packet: GatewayPacket, link: L): boolean {
  const action = COMMANDS.get(packet.cmd);
  if (action === undefined) return false;
  action(state, packet, link);
  return true;
}

/** What a send command's body means for a client: one message, or the frames of a raw send. */
function sendsOf<C extends RoleConnection>(state: GatewayState<C>, packet: GatewayPacket): ClientSend[] {
  return cmd.isRawSend(packet) ? rawSends(packet.body, state.maxPayload) : [messageOf(packet, state.limits)];
}

function deliver<C extends RoleConnection>(client: ClientState<C>, sends: readonly ClientSend[]): void {
  for (const send of sends) {
    if (send.kind === 'message') client.connection.sendMessage(send.data, send.binary);
    else client.connection.kick(isValidWireCloseCode(send.code) ? send.code : CloseCode.Normal, send.reason);
  }
}

/** A uid or group from its key: its bytes as text; undefined when they are not UTF-8 (no user or topic can be named so). */
function nameOf(key: PhpKey): string | undefined {
  const bytes = keyBytes(key);
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

/** ext_data as a uid or group for 12, 20, 21, 27: '' and '0' refused as PHP refuses them, and bytes that are not text. */
function checkedName<C extends RoleConnection>(state: GatewayState<C>, command: string, extData: Buffer, what: 'uid' | 'group'): string | undefined {
  if (isEmptyString(extData)) {
    state.refused(command, `${what} empty`);
    return undefined;
  }
  const name = nameOf(bytesKey(extData));
  if (name === undefined) state.refused(command, `a ${what} that is not UTF-8 text`);
  return name;
}

function uidMembersOf<C extends RoleConnection>(state: GatewayState<C>, key: PhpKey): ClientState<C>[] {
  const user = nameOf(key);
  return user === undefined || user === '' ? [] : [...(state.uidMembers(user) ?? [])];
}

function groupMembersOf<C extends RoleConnection>(state: GatewayState<C>, key: PhpKey): ClientState<C>[] {
  const topic = nameOf(key);
  return topic === undefined || topic === '' ? [] : [...(state.groupMembers(topic) ?? [])];
}

function idsOf<C extends RoleConnection>(clients: readonly ClientState<C>[]): number[] {
  return clients.map((c) => c.connectionId);
}

/** The state as SELECT reads it (ext-data.ts): uid as the user, groups as the client's topics, the session bytes. */
function selectView<C extends RoleConnection>(state: GatewayState<C>): SelectView {
  return {
    clients: () => state.clients.ids(),
    has: (id) => state.clients.get(id) !== undefined,
    members: (by, key) => {
      const members = by === 'groups' ? groupMembersOf(state, key) : uidMembersOf(state, key);
      return members.length === 0 ? undefined : idsOf(members);
    },
    property: (id, name: SelectProperty): PhpValue => {
      const client = state.clients.get(id);
      if (client === undefined) return null;
      if (name === 'session') return client.session;
      if (name === 'uid') return client.connection.user === undefined ? null : Buffer.from(client.connection.user, 'utf8');
      const topics = client.connection.topics;
      if (topics.length === 0 && !client.grouped) return null;
      const groups: PhpArray = new Map();
      for (const topic of topics) groups.set(textKey(topic), Buffer.from(topic, 'utf8'));
      return groups;
    },
  };
}

export { PhpDataError, RawFrameError };
