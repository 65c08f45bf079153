// What a command's ext_data JSON means (GatewayWorker spec §3.1), against the
// PHP Gateway's own code: fixtures/ext-data.php ran Gateway::onWorkerMessage's
// branches for cmds 6, 14, 16, 22, 25 and 28 over six clients and recorded
// whom each message reached, each query's reply, or that PHP threw. Here the
// same state is driven through ext-data.ts and the replies of php-array.ts.
import { describe, expect, it } from 'vitest';
import { ConnectionFilter, isTruthy, listKeys, selectQuery, selectRows, sendToAllTargets, sendToGroupTargets, type SelectView } from '../../../src/gatewayworker/ext-data.js';
import { serializeCountsByKey, serializeIdsByKey, serializeSelect } from '../../../src/gatewayworker/php-array.js';
import { phpArray, phpString, PhpDataError, type PhpArray, type PhpValue } from '../../../src/gatewayworker/php-value.js';
import { bin, fixture, unhex } from './fixtures.js';

// The state of ext-data.php: six clients, in this order.
const clients = [1, 2, 3, 4, 5, 6];
const uids = new Map<number, string | null>([
  [2, '42'],
  [3, '7'],
  [4, '42'],
  [5, 'abc'],
  [6, null],
]);
const groupsOf = new Map<number, PhpArray>([
  [1, phpArray([['room', phpString('room')]])],
  [2, phpArray([['5', phpString('5')]])],
  [3, phpArray([['room', phpString('room')]])],
  [4, phpArray([['x', phpString('x')]])],
  [5, phpArray([['5', phpString('5')]])],
  [6, new Map()],
]);
const groupMap = new Map<string, number[]>([
  ['room', [1, 3]],
  ['5', [2, 5]],
  ['x', [4]],
]);
const uidMap = new Map<string, number[]>([
  ['42', [2, 4]],
  ['7', [3]],
  ['abc', [5]],
]);
const view: SelectView = {
  clients: () => clients,
  has: (id) => clients.includes(id),
  members: (by, key) => (by === 'groups' ? groupMap : uidMap).get(key),
  property(id, name): PhpValue {
    if (name === 'session') return id === 3 ? bin('a:1:{s:3:"uid";s:1:"7";}') : Buffer.alloc(0);
    if (name === 'uid') return uids.has(id) && uids.get(id) !== null ? phpString(uids.get(id) as string) : null;
    return groupsOf.get(id) ?? null;
  },
};

/** What our side makes of one fixture case: the ids reached, or the reply's hex. */
function run(cmd: number, ext: Buffer): { sent: number[] } | { reply: string } {
  switch (cmd) {
    case 6: {
      const targets = sendToAllTargets(ext);
      if ('connections' in targets) return { sent: targets.connections.filter((id) => clients.includes(id)) };
      return { sent: clients.filter((id) => !targets.exclude.has(id)) };
    }
    case 14:
      return { sent: listKeys(ext).flatMap((uid) => uidMap.get(uid) ?? []) };
    case 16:
      return { reply: serializeIdsByKey(listKeys(ext).map((uid) => [uid, uidMap.get(uid) ?? []] as const)).toString('hex') };
    case 22: {
      const { groups, exclude } = sendToGroupTargets(ext);
      return { sent: groups.flatMap((group) => (groupMap.get(group) ?? []).filter((id) => !exclude.has(id))) };
    }
    case 25:
      return { reply: serializeSelect(selectRows(selectQuery(ext), view)).toString('hex') };
    case 28:
      return { reply: serializeCountsByKey(listKeys(ext).map((group) => [group, groupMap.get(group)?.length ?? 0] as const)).toString('hex') };
    default:
      throw new Error(`no case for ${cmd}`);
  }
}

type Case = { cmd: number; ext: string } & ({ sent: number[] } | { reply: string } | { throws: string });

describe('ext_data as PHP reads it (fixtures/ext-data.json)', () => {
  for (const c of fixture<Case[]>('ext-data.json')) {
    const ext = unhex(c.ext);
    it(`${c.cmd} ${ext.toString('latin1')}`, () => {
      if ('throws' in c) {
        // PHP's process dies of it; here the command is refused whole.
        expect(() => run(c.cmd, ext)).toThrow(PhpDataError);
        try {
          run(c.cmd, ext);
        } catch (error) {
          expect((error as PhpDataError).code).toBe('PHP_ERR_ILLEGAL_OFFSET');
        }
        return;
      }
      const { cmd: _cmd, ext: _ext, ...want } = c;
      expect(run(c.cmd, ext)).toEqual(want);
    });
  }
});

describe('what GatewayClient and the Lib send (§3.2)', () => {
  it('sendToAll with client ids, with exclude; sendToGroup; getUidByClientId', () => {
    expect(sendToAllTargets(bin('{"connections":{"3":3,"9":9}}'))).toEqual({ connections: [3, 9] });
    const { exclude } = sendToAllTargets(bin('{"exclude":{"2":2}}')) as { exclude: ConnectionFilter };
    expect([exclude.has(1), exclude.has(2)]).toEqual([false, true]);
    const group = sendToGroupTargets(bin('{"group":["watchers",5],"exclude":null}'));
    expect(group.groups).toEqual(['watchers', '5']);
    expect(group.exclude).toBe(ConnectionFilter.none);
    expect(selectQuery(bin('{"fields":["uid"],"where":{"connection_id":{"7":7}}}'))).toEqual({
      fields: [{ key: 'uid', property: 'uid' }],
      where: [{ by: 'connection_id', ids: [7] }],
    });
    expect(selectQuery(bin('{"fields":["uid","groups"],"where":[]}')).where).toBeUndefined();
  });

  it('connection ids are ints in 1…2^32−1; other values reach nobody', () => {
    expect(sendToAllTargets(bin('{"connections":[0,-1,4294967295,4294967296,"1e3",1.5e3]}'))).toEqual({ connections: [4294967295, 1500] });
  });

  it('JSON past the bounds is refused, not read as null', () => {
    const deep = bin(`{"connections":${'['.repeat(70)}${']'.repeat(70)}}`);
    expect(() => sendToAllTargets(deep)).toThrow(PhpDataError);
    expect(() => listKeys(bin('[1,2,3]'), { maxElements: 2 })).toThrow(PhpDataError);
  });

  it("PHP's truthiness", () => {
    const falsy: PhpValue[] = [null, false, 0n, 0, -0, bin(''), bin('0'), new Map()];
    const truthy: PhpValue[] = [true, 1n, 0.5, NaN, bin('00'), bin(' '), phpArray([['0', null]])];
    expect(falsy.map(isTruthy)).toEqual(falsy.map(() => false));
    expect(truthy.map(isTruthy)).toEqual(truthy.map(() => true));
  });
});
