// wssd in place of GatewayWorker's own Gateway, against the real thing. The
// same scenarios run three times, each on its own Register and BusinessWorker
// (php/Events.php): with PHP's Gateway (the reference, ws://), with wssd over
// ws:// (--plain) and with wssd over wss:// (certs/, clients trusting
// certs/dev-ca.pem). Each scenario states what every client receives, in
// order, and how it ends; where wssd differs from PHP on purpose the
// expectation says so, per Gateway (DEVIATIONS below). At the end, every
// client's whole transcript under wssd is compared with PHP's, once those
// deviations are mapped back; the two scenarios whose answers differ by
// design (LIMITS, RAW_AS_FRAMES) state each difference themselves and run in
// parity-differences.test.ts, out of the comparison.
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/poll.js';
import { Op } from '../../helpers/raw-client.js';
import { runOnEachGateway, transcripts, type Scenario } from './parity-scene.js';
import {
  CMD,
  gatewayPacket,
  lanPrefix,
  lanQuery,
  type Entry,
  type GatewayKind,
  type GwClient,
} from './support.js';

/**
 * Where wssd differs from PHP's Gateway on purpose, as a client sees it:
 * - a kick (closeClient, closeCurrentClient) sends its message, then closes
 *   with a Close frame 4000 ("disconnected by the server"); PHP ends TCP with
 *   no Close frame;
 * - a message that is not UTF-8 goes as a binary frame; PHP sends every
 *   message as a text frame (one a browser must fail);
 * - a client's Close is answered with its own code (none for none); PHP
 *   answers 1000 to any.
 * (ON_CONNECT is sent after the upgrade rather than at TCP accept: no client
 * sees that.) `asPhpSends` maps a wssd transcript back to what PHP sends.
 */
const DEVIATIONS = {
  /** How a kicked client's connection ends after the kick's message. */
  kickEnd: (kind: GatewayKind): Entry[] => (kind === 'php' ? ['<end>'] : ['<close 4000>', '<end>']),
  /** The Close a Gateway answers a client's Close with (`code` undefined: a Close with no code). */
  closeAnswer: (kind: GatewayKind, code: number | undefined): Entry => (kind === 'php' ? '<close 1000>' : code === undefined ? '<close>' : `<close ${code}>`),
  /** How a message of these bytes (not UTF-8) arrives. */
  notUtf8: (kind: GatewayKind, hex: string): Entry => (kind === 'php' ? `<text 0x${hex}>` : `<binary 0x${hex}>`),
};

function asPhpSends(entries: readonly Entry[]): Entry[] {
  return entries
    .filter((entry, i) => !(entry === '<close 4000>' && entries[i + 1] === '<end>'))
    .map((entry, i, kept) => {
      if (/^<close( \d+)?>$/.test(entry) && kept[i + 1] === '<end>') return '<close 1000>';
      const binary = /^<binary 0x([0-9a-f]*)>$/.exec(entry);
      return binary !== null && !isUtf8(Buffer.from(binary[1], 'hex')) ? `<text 0x${binary[1]}>` : entry;
    });
}

const scenarios: [string, Scenario][] = [
  [
    'the sample flow: hello, uids, groups, counts and lists, sendToUid/Group/All with and without lists and excludes',
    async (s) => {
      const a = await s.open('a');
      const b = await s.open('b');
      const c = await s.open('c');
      // A client id is the LAN address and port, then the connection id.
      for (const x of [a, b, c]) expect(x.id.slice(0, 12)).toBe(lanPrefix(s.gateway.lanPort));
      expect(await a.call('server')).toEqual({ remote: '127.0.0.1', gatewayPort: s.gateway.port, clientId: a.id });

      // uids: two clients of 42, one of 7.
      expect(await a.call('bindUid', '@me', '42')).toBeNull();
      await b.call('bindUid', '@me', '42');
      await c.call('bindUid', '@me', '7');
      expect(await a.call('isUidOnline', '42')).toBe(1);
      expect(await a.call('isUidOnline', 'nobody')).toBe(0);
      expect(await a.call('getClientIdByUid', '42')).toEqual([a.id, b.id]);
      expect(await c.call('getUidByClientId', a.id)).toBe('42');
      await c.call('sendToUid', '42', 'to-42');
      await c.call('sendToUid', ['42', '7'], 'to-42-and-7');
      expect(c.take()).toEqual(['to-42-and-7']);
      expect(await a.inboxAfterSync()).toEqual(['to-42', 'to-42-and-7']);
      expect(await b.inboxAfterSync()).toEqual(['to-42', 'to-42-and-7']);
      await b.call('unbindUid', '@me', '42');
      expect(await a.call('getClientIdByUid', '42')).toEqual([a.id]);
      expect(await a.call('isOnline', b.id)).toBe(1);
      expect(await a.call('getAllUidList')).toEqual({ 42: '42', 7: '7' });

      // Groups: "room" (a, b) and "5" (b, c), a numeric name.
      await a.call('joinGroup', '@me', 'room');
      await b.call('joinGroup', '@me', 'room');
      await b.call('joinGroup', '@me', '5');
      await c.call('joinGroup', '@me', '5');
      expect(await a.call('getClientIdCountByGroup', 'room')).toBe(2);
      expect(await a.call('getClientIdCountByGroup', '5')).toBe(2);
      expect(await a.call('getClientIdCountByGroup', 'none')).toBe(0);
      expect(await a.call('getAllClientIdCount')).toBe(3);
      // A numeric group name comes back as an int (PHP array keys).
      expect(await a.call('getAllGroupIdList')).toEqual({ room: 'room', 5: 5 });
      expect(await a.call('getClientIdListByGroup', '5')).toEqual({ [b.id]: b.id, [c.id]: c.id });
      expect(await a.call('getAllClientIdList')).toEqual({ [a.id]: a.id, [b.id]: b.id, [c.id]: c.id });
      expect(await a.call('getUidListByGroup', 'room')).toEqual({ 42: '42' });
      expect(await a.call('getUidCountByGroup', '5')).toBe(1);
      expect(await a.call('getAllGroupClientIdCount')).toEqual({ room: 2, 5: 2 });
      expect(await a.call('getAllGroupClientIdList')).toEqual({ room: { [a.id]: a.id, [b.id]: b.id }, 5: { [b.id]: b.id, [c.id]: c.id } });
      // GatewayWorker's Lib stops at the first client without a uid (b): the order of SELECT's rows shows.
      expect(await a.call('getAllGroupUidList')).toEqual({ room: { 42: '42' } });

      await a.call('sendToGroup', 'room', 'g1');
      await a.call('sendToGroup', ['room', '5'], 'g2');
      await a.call('sendToGroup', 'room', 'g3', [a.id]);
      await a.call('leaveGroup', '@me', 'room');
      expect(await a.call('getClientIdCountByGroup', 'room')).toBe(1);
      await a.call('ungroup', '5');
      expect(await a.call('getClientIdCountByGroup', '5')).toBe(0);
      expect(await a.call('getAllGroupIdList')).toEqual({ room: 'room' });
      await a.call('sendToGroup', '5', 'g4');

      await a.call('sendToAll', 'all1');
      await a.call('sendToAll', 'all2', [a.id, c.id]);
      await a.call('sendToAll', 'all3', null, [b.id]);
      await a.call('sendToAll', 'all4', [a.id, b.id], [a.id]);
      await a.call('sendToAll', 'all5', []);
      expect(await a.inboxAfterSync()).toEqual(['g1', 'g2', 'all1', 'all2', 'all3']);
      // b is in both groups of g2: it gets it twice.
      expect(await b.inboxAfterSync()).toEqual(['g1', 'g2', 'g2', 'g3', 'all1', 'all4']);
      expect(await c.inboxAfterSync()).toEqual(['g2', 'all1', 'all2', 'all3']);
    },
  ],
  [
    'sessions: $_SESSION across messages, setSession, updateSession merging, getSession, getAllClientSessions, getClientSessionsByGroup, the upgrade request',
    async (s) => {
      const a = await s.open('a');
      const b = await s.open('b');
      expect(await a.call('session')).toBeNull();
      expect(await a.call('sessionSet', { name: 'ann' })).toEqual({ name: 'ann' });
      // The next event carries the session the BusinessWorker set.
      expect(await a.call('session')).toEqual({ name: 'ann' });
      expect(await a.call('sessionSet', { n: 2 })).toEqual({ name: 'ann', n: 2 });
      expect(await b.call('getSession', a.id)).toEqual({ name: 'ann', n: 2 });
      await b.call('setSession', a.id, { k: 'v' });
      expect(await a.call('session')).toEqual({ k: 'v' });
      // updateSession of another client: the Gateway merges (array_replace_recursive).
      await b.call('updateSession', a.id, { z: { a: 1 }, k: 'w' });
      expect(await a.call('session')).toEqual({ k: 'w', z: { a: 1 } });
      await b.call('updateSession', a.id, { z: { b: 2 }, list: [1, 2, 3] });
      await b.call('updateSession', a.id, { list: [9] });
      const merged = { k: 'w', z: { a: 1, b: 2 }, list: [9, 2, 3] };
      expect(await b.call('getSession', a.id)).toEqual(merged);
      expect(await a.call('session')).toEqual(merged);
      // An empty session takes an update as it is.
      await a.call('updateSession', b.id, { u: 1 });
      expect(await b.call('session')).toEqual({ u: 1 });
      // A client id of this Gateway that is not connected: null.
      expect(await a.call('getSession', `${a.id.slice(0, 12)}fffffff0`)).toBeNull();
      expect(await a.call('getAllClientSessions')).toEqual({ [a.id]: merged, [b.id]: { u: 1 } });
      await a.call('joinGroup', '@me', 'club');
      expect(await b.call('getClientSessionsByGroup', 'club')).toEqual({ [a.id]: merged });
      expect(await b.call('getClientSessionsByGroup', 'nobody-here')).toEqual([]);
      expect(await b.call('getAllClientSessions', 'club')).toEqual({ [a.id]: merged });

      // The Gateway merges with its own PHP unserialize, array_replace_recursive and serialize: every PHP type.
      const e = await s.open('e');
      await e.call('sessionSet', { base: { keep: 0, list: [1, 2, 3], old: 'o' }, top: 'x' });
      await b.callJson(
        'updateSession',
        `["${e.id}",{"f":0.1,"sum":0.30000000000000004,"g":1e25,"h":-1.5e-7,"tiny":5e-324,"negz":-0.0,"i":9223372036854775807,"j":-9223372036854775808,` +
          `"t":true,"u":false,"n":null,"s":"é\\u0000x","5":"five","05":"zero-five","nested":{"1":"b","0":"a"},"bin":{"hex":"ff00fe"},"base":{"keep":1,"list":[9]}}]`,
      );
      const merged18 =
        'a:18:{s:4:"base";a:3:{s:4:"keep";i:1;s:4:"list";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:3:"old";s:1:"o";}s:3:"top";s:1:"x";' +
        's:1:"f";d:0.1;s:3:"sum";d:0.30000000000000004;s:1:"g";d:1.0E+25;s:1:"h";d:-1.5E-7;s:4:"tiny";d:5.0E-324;s:4:"negz";d:-0;' +
        's:1:"i";i:9223372036854775807;s:1:"j";i:-9223372036854775808;s:1:"t";b:1;s:1:"u";b:0;s:1:"n";N;s:1:"s";s:4:"\xc3\xa9\x00x";' +
        'i:5;s:4:"five";s:2:"05";s:9:"zero-five";s:6:"nested";a:2:{i:1;s:1:"b";i:0;s:1:"a";}s:3:"bin";s:3:"\xff\x00\xfe";}';
      // What the Gateway holds, as it answers a GET_SESSION_BY_CLIENT_ID on its LAN port (PHP would unserialize it)…
      const held = await lanQuery(s.gateway.lanPort, gatewayPacket(CMD.GET_SESSION_BY_CLIENT_ID, '', { connectionId: parseInt(e.id.slice(12), 16) }));
      expect(held.toString('latin1')).toBe(merged18);
      // …and what the BusinessWorker made of it with the client's next message.
      expect(Buffer.from((await e.call('sessionBytes')) as string, 'hex').toString('latin1')).toBe(merged18);

      // What onWebSocketConnect was given of the upgrade request.
      const path = '/ws/path?a=1&b[]=2&b[]=3&c.d=4';
      const d = await s.open('d', { path, headers: { Cookie: 'sid=ab%20c; x = y', 'X-App': 'hello' } });
      expect(await d.call('session')).toEqual({
        ws: { get: { a: '1', b: ['2', '3'], c_d: '4' }, cookie: { sid: 'ab%20c', x: ' y' }, uri: path, query: 'a=1&b[]=2&b[]=3&c.d=4', x: 'hello' },
      });
      // All of $data['server'], its keys in order (a repeated header joined with ",").
      const host = `127.0.0.1:${s.gateway.port}`;
      const f = await s.open('f', { path: '/full?all=1', headers: { 'X-Dup': '1', 'Content-Type': 'text/plain', 'x-dup': '2' } });
      const full = (await f.call('session')) as { server: Record<string, unknown>; keys: string[] };
      expect(full.server).toEqual({
        QUERY_STRING: 'all=1',
        REQUEST_METHOD: 'GET',
        REQUEST_URI: '/full?all=1',
        SERVER_PROTOCOL: 'HTTP/1.1',
        SERVER_NAME: host,
        CONTENT_TYPE: 'text/plain',
        REMOTE_ADDR: '127.0.0.1',
        SERVER_PORT: s.gateway.port,
        HTTP_HOST: host,
        HTTP_UPGRADE: 'websocket',
        HTTP_CONNECTION: 'Upgrade',
        HTTP_SEC_WEBSOCKET_VERSION: '13',
        HTTP_X_DUP: '1,2',
        HTTP_CONTENT_TYPE: 'text/plain',
      });
      expect(full.keys).toEqual([
        'QUERY_STRING',
        'REQUEST_METHOD',
        'REQUEST_URI',
        'SERVER_PROTOCOL',
        'SERVER_NAME',
        'CONTENT_TYPE',
        'REMOTE_ADDR',
        'REMOTE_PORT',
        'SERVER_PORT',
        'HTTP_HOST',
        'HTTP_UPGRADE',
        'HTTP_CONNECTION',
        'HTTP_SEC_WEBSOCKET_KEY',
        'HTTP_SEC_WEBSOCKET_VERSION',
        'HTTP_X_DUP',
        'HTTP_CONTENT_TYPE',
      ]);
      for (const x of [a, b, d, e, f]) expect(await x.inboxAfterSync()).toEqual([]);
    },
  ],
  [
    'kicks: closeClient with and without a message, closeCurrentClient, destroyClient, a client closing; onClose has the last session',
    async (s) => {
      const w = await s.open('w');
      await w.call('joinGroup', '@me', 'watchers');
      const left = async (who: GwClient): Promise<Entry> => w.waitFor((e) => e.startsWith(`left:${who.id}:`), 8000, `left:${who.name}`);

      const k1 = await s.open('k1');
      await k1.call('sessionSet', { who: 'k1' });
      await w.call('closeClient', k1.id, 'bye');
      expect(await k1.ending()).toEqual(['bye', ...DEVIATIONS.kickEnd(s.kind)]);
      expect(await left(k1)).toBe(`left:${k1.id}:{"who":"k1"}`);
      expect(await w.call('isOnline', k1.id)).toBe(0);

      // Without a message: nothing before the end.
      const k2 = await s.open('k2');
      await w.call('closeClient', k2.id);
      expect(await k2.ending()).toEqual(DEVIATIONS.kickEnd(s.kind));
      expect(await left(k2)).toBe(`left:${k2.id}:null`);

      // An empty message is an empty text frame; an array is its JSON.
      const k3 = await s.open('k3');
      await w.call('closeClient', k3.id, '');
      expect(await k3.ending()).toEqual(['', ...DEVIATIONS.kickEnd(s.kind)]);
      await left(k3);
      const k4 = await s.open('k4');
      await w.call('closeClient', k4.id, { bye: [1, 'x/y'] });
      expect(await k4.ending()).toEqual(['{"bye":[1,"x\\/y"]}', ...DEVIATIONS.kickEnd(s.kind)]);
      await left(k4);

      // The client kicks itself: the answer that follows the kick is not sent.
      const k5 = await s.open('k5');
      await k5.call('sessionSet', { who: 'k5' });
      k5.send(JSON.stringify({ call: 'closeCurrentClient', args: ['self'] }));
      expect(await k5.ending()).toEqual(['self', ...DEVIATIONS.kickEnd(s.kind)]);
      expect(await left(k5)).toBe(`left:${k5.id}:{"who":"k5"}`);

      // Destroyed: the connection ends with nothing, from either Gateway.
      const k6 = await s.open('k6');
      await k6.call('sessionSet', { who: 'k6' });
      await w.call('destoryClient', k6.id);
      expect(await k6.ending()).toEqual(['<end>']);
      expect(await left(k6)).toBe(`left:${k6.id}:{"who":"k6"}`);

      // The client closes: the closing handshake (code 1000), then onClose.
      const k7 = await s.open('k7');
      await k7.call('sessionSet', { who: 'k7', n: 7 });
      // The BusinessWorker sets the session after it answered: one more round trip and the Gateway has it.
      await k7.sync();
      expect(await k7.close()).toEqual(['<close 1000>', '<end>']);
      expect(await left(k7)).toBe(`left:${k7.id}:{"who":"k7","n":7}`);

      // Other Close codes from the client: Workerman answers 1000 whatever it got; wssd echoes the code (RFC 6455 §5.5.1).
      const k8 = await s.open('k8');
      expect(await k8.close(null)).toEqual([DEVIATIONS.closeAnswer(s.kind, undefined), '<end>']);
      await left(k8);
      const k9 = await s.open('k9');
      expect(await k9.close(4001, 'going')).toEqual([DEVIATIONS.closeAnswer(s.kind, 4001), '<end>']);
      await left(k9);
      expect(await w.inboxAfterSync()).toEqual([]);
    },
  ],
  [
    'raw sends (binary frames, several frames), non-scalar bodies as JSON, scalars as text, bytes that are not UTF-8, binary messages from the client',
    async (s) => {
      const a = await s.open('a');
      await a.call('bindUid', '@me', 'raw-uid');
      await a.call('joinGroup', '@me', 'raw-group');
      const sent = async (call: string, ...args: unknown[]): Promise<Entry[]> => {
        expect(await a.call(call, ...args)).not.toBe(false);
        return a.take();
      };
      // Raw: the bytes are the frames.
      expect(await sent('sendToClient', '@me', { hex: '8203616263' }, true)).toEqual(['<binary 0x616263>']);
      expect(await sent('sendToClient', '@me', { hex: '81026869820121' }, true)).toEqual(['hi', '<binary 0x21>']);
      expect(await sent('sendToUid', 'raw-uid', { hex: '8203646566' }, true)).toEqual(['<binary 0x646566>']);
      expect(await sent('sendToGroup', 'raw-group', { hex: '8203676869' }, null, true)).toEqual(['<binary 0x676869>']);
      expect(await sent('sendToAll', { hex: '82036a6b6c' }, null, null, true)).toEqual(['<binary 0x6a6b6c>']);
      // Not raw: an array is sent as PHP's json_encode makes it (JSON_UNESCAPED_UNICODE), scalars as PHP strings.
      expect(await sent('sendToClient', '@me', { arr: 'x/y', n: 1, f: 1.5, u: 'é', list: [1, 2], none: null })).toEqual(['{"arr":"x\\/y","n":1,"f":1.5,"u":"é","list":[1,2],"none":null}']);
      expect(await sent('sendToClient', '@me', 123)).toEqual(['123']);
      expect(await sent('sendToClient', '@me', true)).toEqual(['1']);
      expect(await sent('sendToClient', '@me', '')).toEqual(['']);
      expect(await sent('sendToClient', '@me', 'é ✓')).toEqual(['é ✓']);
      expect(await sent('sendToClient', '@me', { hex: 'fffe61' })).toEqual([DEVIATIONS.notUtf8(s.kind, 'fffe61')]);
      expect(await sent('sendToGroup', 'raw-group', { hex: 'c328' })).toEqual([DEVIATIONS.notUtf8(s.kind, 'c328')]);

      // From the client: a binary message reaches onMessage like a text one.
      a.raw.send({ opcode: Op.Binary, payload: Buffer.from('hi') });
      expect(await a.waitFor((e) => e.includes('echo:'))).toBe('echo:hi');
      a.raw.send({ opcode: Op.Binary, payload: Buffer.from([0xff, 0x01]) });
      expect(await a.waitFor((e) => e.includes('6563686f3a') || e.startsWith('echo:'))).toBe(DEVIATIONS.notUtf8(s.kind, '6563686f3aff01'));
      a.send('');
      expect(await a.waitFor((e) => e.startsWith('echo'))).toBe('echo:');
      // A fragmented message is one message.
      a.raw.send({ opcode: Op.Text, payload: 'frag', fin: false });
      a.raw.send({ opcode: Op.Continuation, payload: 'mented' });
      expect(await a.waitFor((e) => e.startsWith('echo'))).toBe('echo:fragmented');
      expect(await a.inboxAfterSync()).toEqual([]);
    },
  ],
  [
    'a GatewayClient in another PHP process: sendToUid, sendToGroup, sendToClient, sendToAll with exclude, isUidOnline, counts, sessions, closeClient, destroyClient',
    async (s) => {
      const a = await s.open('a');
      const b = await s.open('b');
      await a.call('bindUid', '@me', 'gc-42');
      await a.call('joinGroup', '@me', 'gc-room');
      await b.call('bindUid', '@me', 'gc-7');
      await b.call('joinGroup', '@me', 'gc-room');

      // Each GatewayClient call is a process of its own, on connections of its own: what it sends is awaited where it arrives.
      expect(await s.gc('sendToUid', 'gc-42', 'push:hi')).toBeNull();
      await a.expectNext('push:hi');
      expect(await s.gc('isUidOnline', 'gc-42')).toBe(1);
      expect(await s.gc('isUidOnline', 'nobody')).toBe(0);
      expect(await s.gc('getClientIdCountByGroup', 'gc-room')).toBe(2);
      expect(await s.gc('batchGetClientIdCountByGroup', ['gc-room', 'none'])).toEqual({ 'gc-room': 2, none: 0 });
      expect(await s.gc('getClientIdByUid', 'gc-42')).toEqual([a.id]);
      expect(await s.gc('batchGetClientIdByUid', ['gc-42', 'gc-7'])).toEqual({ 'gc-42': [a.id], 'gc-7': [b.id] });
      expect(await s.gc('getUidListByGroup', 'gc-room')).toEqual({ 'gc-42': 'gc-42', 'gc-7': 'gc-7' });
      await s.gc('sendToGroup', 'gc-room', 'gc:group');
      await a.expectNext('gc:group');
      await b.expectNext('gc:group');
      await s.gc('sendToClient', b.id, 'gc:one');
      await b.expectNext('gc:one');
      await s.gc('sendToAll', 'gc:all', null, [a.id]);
      await b.expectNext('gc:all');
      await s.gc('setSession', a.id, { from: 'gc' });
      await eventually(async () => JSON.stringify(await s.gc('getSession', a.id)) === '{"from":"gc"}', 5000, 'the session GatewayClient set');
      expect(await a.call('session')).toEqual({ from: 'gc' });
      expect(await a.inboxAfterSync()).toEqual([]);
      expect(await b.inboxAfterSync()).toEqual([]);

      await s.gc('closeClient', a.id, 'gc-bye');
      expect(await a.ending()).toEqual(['gc-bye', ...DEVIATIONS.kickEnd(s.kind)]);
      await eventually(async () => (await s.gc('isOnline', a.id)) === 0, 5000, 'a offline for GatewayClient');
      await s.gc('destoryClient', b.id);
      expect(await b.ending()).toEqual(['<end>']);
      await eventually(async () => (await s.gc('getClientIdCountByGroup', 'gc-room')) === 0, 5000, 'gc-room empty');
    },
  ],
];

runOnEachGateway(scenarios);

describe('wssd and PHP side by side', () => {
  it('every client received under wssd what it received under PHP, once the documented deviations are mapped back', () => {
    let compared = 0;
    for (const [title, byKind] of transcripts) {
      const php = byKind.get('php');
      if (php === undefined) continue;
      for (const kind of ['wssd-ws', 'wssd-wss'] as const) {
        const wssd = byKind.get(kind);
        if (wssd === undefined) continue;
        const mapped = Object.fromEntries(Object.entries(wssd).map(([name, entries]) => [name, asPhpSends(entries)]));
        expect(mapped, `${title}: ${kind} vs php`).toEqual(php);
        compared++;
      }
    }
    // Run alone (-t), this test has nothing to compare; with the file, every scenario under both wssd transports.
    expect(compared).toBeGreaterThan(0);
  });
});
