// array_replace_recursive (GatewayWorker spec §7.2) against PHP 8.2 on 160
// pairs of arrays (fixtures/array-replace.json), CMD_UPDATE_SESSION end to
// end, and the serialized query replies of §3.1 with the spec's verified bytes.
import { describe, expect, it } from 'vitest';
import {
  arrayReplaceRecursive,
  keyValue,
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
} from '../../../src/gatewayworker/php-array.js';
import { serialize, unserialize } from '../../../src/gatewayworker/php-serialize.js';
import { phpArray, PhpDataError, phpString, type PhpArray } from '../../../src/gatewayworker/php-value.js';
import { bin, fixture, unhex } from './fixtures.js';

function arrayOf(bytes: Buffer): PhpArray {
  const value = unserialize(bytes);
  if (!(value instanceof Map)) throw new Error('not an array');
  return value;
}

describe('array_replace_recursive (§7.2)', () => {
  const cases = fixture<Array<[string, string, string]>>('array-replace.json');

  it(`${cases.length} pairs merged as PHP merges them`, () => {
    const wrong: string[] = [];
    for (const [base, replacement, want] of cases) {
      const got = serialize(arrayReplaceRecursive(arrayOf(unhex(base)), arrayOf(unhex(replacement)))).toString('hex');
      if (got !== want) wrong.push(`${unhex(base).toString('latin1')} ⊕ ${unhex(replacement).toString('latin1')}`);
    }
    expect(wrong).toEqual([]);
  });

  it("integer keys are merged by key, not appended: ['y'=>[1,2,3]] ⊕ ['y'=>[9]] = ['y'=>[9,2,3]]", () => {
    const merged = arrayReplaceRecursive(arrayOf(bin('a:1:{s:1:"y";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}}')), arrayOf(bin('a:1:{s:1:"y";a:1:{i:0;i:9;}}')));
    expect(serialize(merged).toString()).toBe('a:1:{s:1:"y";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}}');
  });

  it('neither input is modified', () => {
    const base = bin('a:2:{s:1:"k";a:1:{s:1:"a";i:1;}s:1:"n";i:1;}');
    const replacement = bin('a:2:{s:1:"k";a:1:{s:1:"b";i:2;}s:1:"m";i:3;}');
    const a = arrayOf(base);
    const b = arrayOf(replacement);
    arrayReplaceRecursive(a, b);
    expect([serialize(a).equals(base), serialize(b).equals(replacement)]).toEqual([true, true]);
  });

});

describe('CMD_UPDATE_SESSION (§7.2)', () => {
  it('$_SESSION["k"]=1 then updateSession(["z"=>["a"=>1]]) (Appendix B)', () => {
    expect(updateSession(bin('a:1:{s:1:"k";i:1;}'), bin('a:1:{s:1:"z";a:1:{s:1:"a";i:1;}}')).toString()).toBe('a:2:{s:1:"k";i:1;s:1:"z";a:1:{s:1:"a";i:1;}}');
  });

  it("an empty session ('' or '0') takes the update's bytes as they are", () => {
    expect(updateSession(bin(''), bin('whatever')).toString()).toBe('whatever');
    expect(updateSession(bin('0'), bin('a:0:{}')).toString()).toBe('a:0:{}');
  });

  it('where PHP throws, a PhpDataError: keep the stored session', () => {
    expect(() => updateSession(bin('i:5;'), bin('a:0:{}'))).toThrow(PhpDataError);
    expect(() => updateSession(bin('a:0:{}'), bin('N;'))).toThrow(PhpDataError);
    expect(() => updateSession(bin('a:0:{}'), bin(''))).toThrow(PhpDataError);
    expect(() => updateSession(bin('a:1:{'), bin('a:0:{}'))).toThrow(PhpDataError);
  });

  it('bytes after a session are ignored, as PHP 8.2 does', () => {
    expect(updateSession(bin('a:1:{s:1:"k";i:1;}junk'), bin('a:0:{}')).toString()).toBe('a:1:{s:1:"k";i:1;}');
  });
});

describe('query replies (§3.1, §7.3)', () => {
  it('10/23: sessions as PHP strings, serialized twice', () => {
    expect(serializeSessions([[1, bin('a:1:{s:3:"uid";s:2:"42";}')]]).toString()).toBe('a:1:{i:1;s:25:"a:1:{s:3:"uid";s:2:"42";}";}');
    expect(serializeSessions([[5, bin('a:0:{}')], [7, Buffer.alloc(0)]]).toString()).toBe('a:2:{i:5;s:6:"a:0:{}";i:7;s:0:"";}');
    expect(serializeSessions([]).equals(SERIALIZED_EMPTY_ARRAY)).toBe(true);
  });

  it('11/24: i:N;  15: a list of int connection ids', () => {
    expect([serializeInt(1).toString(), serializeInt(0n).toString()]).toEqual(['i:1;', 'i:0;']);
    expect(serializeIntList([1]).toString()).toBe('a:1:{i:0;i:1;}');
    expect(serializeIntList([]).toString()).toBe('a:0:{}');
  });

  it('16: uid => [ids], numeric uids as int keys; 28: group => count', () => {
    expect(serializeIdsByKey([['42', [2, 4]], ['nope', []]]).toString()).toBe('a:2:{i:42;a:2:{i:0;i:2;i:1;i:4;}s:4:"nope";a:0:{}}');
    expect(serializeCountsByKey([['room', 2], ['5', 2], ['05', 0]]).toString()).toBe('a:3:{s:4:"room";i:2;i:5;i:2;s:2:"05";i:0;}');
  });

  it('25: [connId => [field => value]] (Appendix B)', () => {
    const row = phpArray([['uid', phpString('7')]]);
    expect(serializeSelect([[1, row]]).toString()).toBe('a:1:{i:1;a:1:{s:3:"uid";s:1:"7";}}');
    const spec = phpArray([
      ['uid', phpString('42')],
      ['groups', phpArray([['room', phpString('room')], ['5', phpString('5')]])],
      ['session', phpString('')],
    ]);
    expect(serialize(spec).toString()).toBe('a:3:{s:3:"uid";s:2:"42";s:6:"groups";a:2:{s:4:"room";s:4:"room";i:5;s:1:"5";}s:7:"session";s:0:"";}');
  });

  it('26: group keys, numeric ones as ints (verified: room, 5)', () => {
    expect(serializeKeyList(['room', '5']).toString()).toBe('a:2:{i:0;s:4:"room";i:1;i:5;}');
    expect(keyValue('05')).toEqual(bin('05'));
    expect(keyValue('-7')).toBe(-7n);
  });

  it('203: N; or a:0:{}', () => {
    expect([SERIALIZED_NULL.toString(), SERIALIZED_EMPTY_ARRAY.toString()]).toEqual(['N;', 'a:0:{}']);
  });
});
