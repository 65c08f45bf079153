// The Gateway's command table (commands.ts) over an in-memory state: each
// command's effect on clients, users and groups, and each query's reply
// bytes, as GatewayWorker's Gateway::onWorkerMessage does them (spec §3.1).
// The real socket path (BusinessWorkers in PHP) is the e2e tier's.
import { describe, expect, it } from 'vitest';
import { ClientState, ClientTable, type RoleConnection } from '../../../src/gatewayworker/client-table.js';
import { runCommand, type CommandLink, type GatewayState } from '../../../src/gatewayworker/commands.js';
import { sendToGroupTargets, type ConnectionFilter } from '../../../src/gatewayworker/ext-data.js';
import { ExtDataMemo } from '../../../src/gatewayworker/ext-data-memo.js';
import * as gp from '../../../src/gatewayworker/gateway-protocol.js';
import type { ClientSend } from '../../../src/gatewayworker/client-sends.js';
import type { SubscribeStatus } from '../../../src/pubsub/pubsub.js';

type Sent = { data: string; binary: boolean } | { closed: number };

class FakeConnection implements RoleConnection {
  user: string | undefined;
  readonly topicSet = new Set<string>();
  readonly sent: Sent[] = [];
  terminated = false;
  constructor(
    readonly id: string,
    private readonly world: World,
  ) {}
  setUser(user: string | undefined): void {
    if (this.user !== undefined) this.world.users.get(this.user)?.delete(this);
    this.user = user;
    if (user !== undefined) {
      const set = this.world.users.get(user) ?? new Set();
      set.add(this);
      this.world.users.set(user, set);
    }
  }
  get topics(): string[] {
    return [...this.topicSet];
  }
  trySubscribe(topic: string): SubscribeStatus {
    if (topic.length > 16) throw new RangeError('topic too long');
    if (this.topicSet.has(topic)) return 'already';
    this.topicSet.add(topic);
    const set = this.world.groupSets.get(topic) ?? new Set();
    set.add(this);
    this.world.groupSets.set(topic, set);
    return 'subscribed';
  }
  unsubscribe(topic: string): boolean {
    const set = this.world.groupSets.get(topic);
    set?.delete(this);
    if (set?.size === 0) this.world.groupSets.delete(topic);
    return this.topicSet.delete(topic);
  }
  sendMessage(data: Buffer, binary: boolean): boolean {
    this.sent.push({ data: data.toString('latin1'), binary });
    return true;
  }
  kick(code: number): void {
    this.sent.push({ closed: code });
  }
  terminate(): void {
    this.terminated = true;
  }
  deliver(): boolean {
    return true;
  }
}

class World implements GatewayState<FakeConnection> {
  readonly clients = new ClientTable<FakeConnection>();
  readonly limits = {};
  readonly maxPayload = 1024;
  readonly users = new Map<string, Set<FakeConnection>>();
  readonly groupSets = new Map<string, Set<FakeConnection>>();
  readonly refusals: string[] = [];
  readonly connections: FakeConnection[] = [];
  readonly groupTargets = new ExtDataMemo((ext) => sendToGroupTargets(ext));

  constructor(count: number) {
    for (let id = 1; id <= count; id++) {
      const connection = new FakeConnection(gp.clientId('127.0.0.1', 2000, id), this);
      this.connections.push(connection);
      this.clients.add(new ClientState(connection, { localIp: 0x7f000001, localPort: 2000, clientIp: 0, clientPort: 0, connectionId: id, gatewayPort: 8282 }));
    }
  }
  private states(set: Set<FakeConnection> | undefined): ClientState<FakeConnection>[] | undefined {
    return set === undefined ? undefined : [...set].map((c) => this.clients.of(c)).filter((s): s is ClientState<FakeConnection> => s !== undefined);
  }
  groupMembers(topic: string) {
    return this.states(this.groupSets.get(topic));
  }
  uidMembers(user: string) {
    return this.states(this.users.get(user));
  }
  groups(): Iterable<string> {
    return this.groupSets.keys();
  }
  sendToGroup(topic: string, message: Extract<ClientSend, { kind: 'message' }>, exclude: ConnectionFilter): void {
    for (const c of this.groupSets.get(topic) ?? []) if (!exclude.has(this.clients.of(c)?.connectionId ?? 0)) c.sendMessage(message.data, message.binary);
  }
  authorize(): void {}
  refused(command: string, reason: string): void {
    this.refusals.push(`${command}: ${reason}`);
  }
  sentTo(id: number): Sent[] {
    return this.connections[id - 1].sent;
  }
}

class Link implements CommandLink {
  readonly replies: string[] = [];
  reply(payload: Buffer): void {
    this.replies.push(payload.toString('latin1'));
  }
}

function world(count: number): World {
  return new World(count);
}

function run(w: World, cmd: number, fields: { connectionId?: number; ext?: string; body?: string | Buffer; flag?: number } = {}): Link {
  const link = new Link();
  const body = typeof fields.body === 'string' ? Buffer.from(fields.body, 'latin1') : (fields.body ?? Buffer.alloc(0));
  const packet: gp.GatewayPacket = {
    cmd,
    localIp: 0,
    localPort: 0,
    clientIp: 0,
    clientPort: 0,
    connectionId: fields.connectionId ?? 0,
    flag: fields.flag ?? gp.FLAG_BODY_IS_SCALAR,
    gatewayPort: 0,
    extData: Buffer.from(fields.ext ?? '', 'latin1'),
    body,
  };
  expect(runCommand(w, packet, link)).toBe(true);
  return link;
}

const text = (data: string): Sent => ({ data, binary: false });

describe('sends', () => {
  it('SEND_TO_ONE: the raw string as text; an unknown id is ignored', () => {
    const w = world(2);
    run(w, gp.CMD_SEND_TO_ONE, { connectionId: 2, body: 'hi' });
    run(w, gp.CMD_SEND_TO_ONE, { connectionId: 9, body: 'nobody' });
    expect(w.sentTo(2)).toEqual([text('hi')]);
    expect(w.sentTo(1)).toEqual([]);
  });

  it('a body that is not UTF-8 goes as binary; a serialized array as its JSON (§10.2)', () => {
    const w = world(1);
    run(w, gp.CMD_SEND_TO_ONE, { connectionId: 1, body: Buffer.from([0xff, 0x00]) });
    run(w, gp.CMD_SEND_TO_ONE, { connectionId: 1, body: 'a:2:{s:3:"arr";s:3:"x/y";s:1:"n";d:1;}', flag: 0 });
    expect(w.sentTo(1)).toEqual([{ data: '\xff\x00', binary: true }, text('{"arr":"x\\/y","n":1}')]);
  });

  it('a raw body is read as frames: a binary frame stays binary, fragments are joined, a Close frame closes', () => {
    const w = world(1);
    run(w, gp.CMD_SEND_TO_ONE, { connectionId: 1, body: Buffer.from([0x82, 0x03, 0x61, 0x62, 0x63]), flag: gp.FLAG_BODY_IS_SCALAR | gp.FLAG_NOT_CALL_ENCODE });
    run(w, gp.CMD_SEND_TO_ONE, { connectionId: 1, body: Buffer.from([0x01, 0x02, 0x68, 0x65, 0x80, 0x01, 0x79, 0x88, 0x02, 0x0f, 0xa0]), flag: gp.FLAG_BODY_IS_SCALAR | gp.FLAG_NOT_CALL_ENCODE });
    expect(w.sentTo(1)).toEqual([{ data: 'abc', binary: true }, text('hey'), { closed: 4000 }]);
  });

  it('a raw body that is not whole frames is refused whole: nothing of it is sent', () => {
    const w = world(1);
    expect(() => run(w, gp.CMD_SEND_TO_ONE, { connectionId: 1, body: Buffer.from([0x81, 0x05, 0x61]), flag: gp.FLAG_NOT_CALL_ENCODE | 1 })).toThrow(/not whole WebSocket frames/);
    expect(w.sentTo(1)).toEqual([]);
  });

  it('SEND_TO_ALL: everyone; `connections` by value, in order, repeats kept; `exclude` by key', () => {
    const w = world(3);
    run(w, gp.CMD_SEND_TO_ALL, { body: 'all' });
    run(w, gp.CMD_SEND_TO_ALL, { ext: '{"connections":{"3":3,"x":1,"y":3}}', body: 'some' });
    run(w, gp.CMD_SEND_TO_ALL, { ext: '{"exclude":{"2":2}}', body: 'but2' });
    expect(w.sentTo(1)).toEqual([text('all'), text('some'), text('but2')]);
    expect(w.sentTo(2)).toEqual([text('all')]);
    expect(w.sentTo(3)).toEqual([text('all'), text('some'), text('some'), text('but2')]);
  });

  it('SEND_TO_UID: each uid of the list, in order, to every client bound to it; numbers are uids too', () => {
    const w = world(3);
    run(w, gp.CMD_BIND_UID, { connectionId: 1, ext: '42' });
    run(w, gp.CMD_BIND_UID, { connectionId: 3, ext: '42' });
    run(w, gp.CMD_BIND_UID, { connectionId: 2, ext: '7' });
    run(w, gp.CMD_SEND_TO_UID, { ext: '[42,"7","nobody"]', body: 'u' });
    expect(w.sentTo(1)).toEqual([text('u')]);
    expect(w.sentTo(2)).toEqual([text('u')]);
    expect(w.sentTo(3)).toEqual([text('u')]);
  });

  it('SEND_TO_GROUP: each group, `exclude` by key, a client in two listed groups gets it twice', () => {
    const w = world(3);
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: 'a' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: 'b' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 2, ext: 'a' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 3, ext: 'a' });
    run(w, gp.CMD_SEND_TO_GROUP, { ext: '{"group":["a","b"],"exclude":{"3":3}}', body: 'g' });
    expect(w.sentTo(1)).toEqual([text('g'), text('g')]);
    expect(w.sentTo(2)).toEqual([text('g')]);
    expect(w.sentTo(3)).toEqual([]);
  });

  it('SEND_TO_GROUP with the same ext_data again: read once, the same targets (and a bad one refused every time)', () => {
    const w = world(2);
    let reads = 0;
    const counted = new ExtDataMemo((ext) => {
      reads++;
      return sendToGroupTargets(ext);
    });
    Object.assign(w, { groupTargets: counted });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: 'a' });
    for (let i = 0; i < 3; i++) run(w, gp.CMD_SEND_TO_GROUP, { ext: '{"group":["a"],"exclude":null}', body: `m${i}` });
    expect(reads).toBe(1);
    expect(w.sentTo(1)).toEqual([text('m0'), text('m1'), text('m2')]);
    for (let i = 0; i < 2; i++) expect(() => run(w, gp.CMD_SEND_TO_GROUP, { ext: '"x"', body: 'no' })).toThrow();
    expect(reads).toBe(3);
  });

  it('KICK: the message, then closed with 4000; a null body (closeClient without a message) sends nothing first', () => {
    const w = world(2);
    run(w, gp.CMD_KICK, { connectionId: 1, body: 'bye' });
    run(w, gp.CMD_KICK, { connectionId: 2, body: 'N;', flag: 0 });
    expect(w.sentTo(1)).toEqual([text('bye'), { closed: 4000 }]);
    expect(w.sentTo(2)).toEqual([{ closed: 4000 }]);
  });

  it('DESTROY terminates', () => {
    const w = world(1);
    run(w, gp.CMD_DESTROY, { connectionId: 1 });
    expect(w.connections[0].terminated).toBe(true);
  });
});

describe('uids and groups', () => {
  it("BIND_UID sets the user, rebinding moves it; UNBIND_UID unbinds whichever uid is named; '' and '0' are refused", () => {
    const w = world(1);
    run(w, gp.CMD_BIND_UID, { connectionId: 1, ext: '42' });
    run(w, gp.CMD_BIND_UID, { connectionId: 1, ext: '43' });
    expect(w.connections[0].user).toBe('43');
    expect(w.uidMembers('42')).toEqual([]);
    run(w, gp.CMD_UNBIND_UID, { connectionId: 1, ext: 'other' });
    expect(w.connections[0].user).toBeUndefined();
    run(w, gp.CMD_BIND_UID, { connectionId: 1, ext: '0' });
    run(w, gp.CMD_BIND_UID, { connectionId: 1, ext: '' });
    expect(w.connections[0].user).toBeUndefined();
    expect(w.refusals).toEqual(['BIND_UID: uid empty', 'BIND_UID: uid empty']);
  });

  it('a uid or group that is not UTF-8 text, or that a topic cannot be, is refused with the reason', () => {
    const w = world(1);
    run(w, gp.CMD_BIND_UID, { connectionId: 1, ext: '\xff' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: 'a-group-name-longer-than-16' });
    expect(w.refusals).toEqual(['BIND_UID: a uid that is not UTF-8 text', 'JOIN_GROUP: group "a-group-name-longer-than-16" cannot be a topic: topic too long']);
  });

  it('LEAVE_GROUP and UNGROUP', () => {
    const w = world(2);
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: 'a' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 2, ext: 'a' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 2, ext: 'b' });
    run(w, gp.CMD_LEAVE_GROUP, { connectionId: 2, ext: 'b' });
    expect(w.connections[1].topics).toEqual(['a']);
    run(w, gp.CMD_UNGROUP, { ext: 'a' });
    expect(w.connections.map((c) => c.topics)).toEqual([[], []]);
  });
});

describe('sessions', () => {
  it('SET_SESSION replaces byte for byte; UPDATE_SESSION merges with array_replace_recursive, or stores the update on an empty session', () => {
    const w = world(1);
    run(w, gp.CMD_UPDATE_SESSION, { connectionId: 1, ext: 'a:1:{s:1:"y";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}}' });
    run(w, gp.CMD_UPDATE_SESSION, { connectionId: 1, ext: 'a:2:{s:1:"y";a:1:{i:0;i:9;}s:1:"z";b:1;}' });
    expect(run(w, gp.CMD_GET_SESSION_BY_CLIENT_ID, { connectionId: 1 }).replies).toEqual(['a:2:{s:1:"y";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:1:"z";b:1;}']);
    run(w, gp.CMD_SET_SESSION, { connectionId: 1, ext: 'raw \xff bytes' });
    expect(w.clients.get(1)?.session.toString('latin1')).toBe('raw \xff bytes');
  });

  it('GET_SESSION_BY_CLIENT_ID: N; for no such client, a:0:{} for an empty session', () => {
    const w = world(1);
    expect(run(w, gp.CMD_GET_SESSION_BY_CLIENT_ID, { connectionId: 5 }).replies).toEqual(['N;']);
    expect(run(w, gp.CMD_GET_SESSION_BY_CLIENT_ID, { connectionId: 1 }).replies).toEqual(['a:0:{}']);
  });

  it('an update of a session that is not an array is refused, the session kept', () => {
    const w = world(1);
    run(w, gp.CMD_SET_SESSION, { connectionId: 1, ext: 's:1:"x";' });
    expect(() => run(w, gp.CMD_UPDATE_SESSION, { connectionId: 1, ext: 'a:0:{}' })).toThrow();
    expect(w.clients.get(1)?.session.toString()).toBe('s:1:"x";');
  });
});

describe('queries', () => {
  // The link frames it (InnerLink.reply): here the serialized value itself.
  const reply = (payload: string): string => payload;

  it('IS_ONLINE, counts by group ("" = every client), ids by uid, batches, the group list with numeric names as ints', () => {
    const w = world(3);
    run(w, gp.CMD_BIND_UID, { connectionId: 2, ext: '42' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: 'room' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 3, ext: '5' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 1, ext: '5' });
    expect(run(w, gp.CMD_IS_ONLINE, { connectionId: 3 }).replies).toEqual([reply('i:1;')]);
    expect(run(w, gp.CMD_IS_ONLINE, { connectionId: 4 }).replies).toEqual([reply('i:0;')]);
    expect(run(w, gp.CMD_GET_CLIENT_COUNT_BY_GROUP, { ext: '' }).replies).toEqual([reply('i:3;')]);
    expect(run(w, gp.CMD_GET_CLIENT_COUNT_BY_GROUP, { ext: '5' }).replies).toEqual([reply('i:2;')]);
    expect(run(w, gp.CMD_GET_CLIENT_ID_BY_UID, { ext: '42' }).replies).toEqual([reply('a:1:{i:0;i:2;}')]);
    expect(run(w, gp.CMD_BATCH_GET_CLIENT_ID_BY_UID, { ext: '["42","x"]' }).replies).toEqual([reply('a:2:{i:42;a:1:{i:0;i:2;}s:1:"x";a:0:{}}')]);
    expect(run(w, gp.CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP, { ext: '["room","5"]' }).replies).toEqual([reply('a:2:{s:4:"room";i:1;i:5;i:2;}')]);
    expect(run(w, gp.CMD_GET_GROUP_ID_LIST).replies).toEqual([reply('a:2:{i:0;s:4:"room";i:1;i:5;}')]);
  });

  it('sessions of every client and of a group: each a PHP string of the stored bytes', () => {
    const w = world(2);
    run(w, gp.CMD_SET_SESSION, { connectionId: 2, ext: 'a:0:{}' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 2, ext: 'g' });
    expect(run(w, gp.CMD_GET_ALL_CLIENT_SESSIONS).replies).toEqual([reply('a:2:{i:1;s:0:"";i:2;s:6:"a:0:{}";}')]);
    expect(run(w, gp.CMD_GET_CLIENT_SESSIONS_BY_GROUP, { ext: 'g' }).replies).toEqual([reply('a:1:{i:2;s:6:"a:0:{}";}')]);
    expect(run(w, gp.CMD_GET_CLIENT_SESSIONS_BY_GROUP, { ext: 'none' }).replies).toEqual([reply('a:0:{}')]);
  });

  it('SELECT: uid as the user, groups as the topics (null before any join), rows in order of first match', () => {
    const w = world(3);
    run(w, gp.CMD_BIND_UID, { connectionId: 3, ext: '7' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 3, ext: 'room' });
    run(w, gp.CMD_JOIN_GROUP, { connectionId: 2, ext: 'x' });
    run(w, gp.CMD_LEAVE_GROUP, { connectionId: 2, ext: 'x' });
    expect(run(w, gp.CMD_SELECT, { ext: '{"fields":["uid","groups"],"where":[]}' }).replies).toEqual([
      reply('a:3:{i:1;a:2:{s:3:"uid";N;s:6:"groups";N;}i:2;a:2:{s:3:"uid";N;s:6:"groups";a:0:{}}i:3;a:2:{s:3:"uid";s:1:"7";s:6:"groups";a:1:{s:4:"room";s:4:"room";}}}'),
    ]);
    expect(run(w, gp.CMD_SELECT, { ext: '{"fields":["uid"],"where":{"groups":["room"],"connection_id":{"1":1}}}' }).replies).toEqual([reply('a:2:{i:3;a:1:{s:3:"uid";s:1:"7";}i:1;a:1:{s:3:"uid";N;}}')]);
  });
});
