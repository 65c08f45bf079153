// The PHP value model (GatewayWorker spec §12): array keys canonicalized as
// PHP does (§12.1), floats printed with PHP's digits (§12.2, §12.3) for
// serialize, json_encode and (string), checked against 2,000+ floats PHP 8.2
// printed (fixtures/floats.json), and floats as array keys.
import { describe, expect, it } from 'vitest';
import { ByteWriter, bytesKey, isEmptyString, isIntKey, keyBytes, phpArray, phpFloat, phpKey, phpList, phpString, textKey } from '../../../src/gatewayworker/php-value.js';
import { fixture } from './fixtures.js';

/** [IEEE 754 bits (big-endian hex, PHP's pack('E')), serialize, json_encode, (string), serialize(array_keys([$d => 1]))]. */
type FloatCase = [string, string, string | false, string, string];

function double(bitsHex: string): number {
  return Buffer.from(bitsHex, 'hex').readDoubleBE(0);
}

describe('array keys (§12.1)', () => {
  it('a canonical decimal within int64 is an int key; anything else stays a string', () => {
    for (const k of ['0', '5', '-3', '9223372036854775807', '-9223372036854775808', '123']) expect(isIntKey(k), k).toBe(true);
    for (const k of ['05', '+5', '-0', ' 5', '5 ', '5.0', '', 'a', '9223372036854775808', '-9223372036854775809', '1e3', '00', '99999999999999999999']) {
      expect(isIntKey(k), k).toBe(false);
    }
  });

  it('values as keys: strings as themselves, ints, bools, null, floats truncated; arrays are illegal', () => {
    expect(phpKey(phpString('room'))).toBe('room');
    expect(phpKey(Buffer.from([0xff, 0x00]))).toBe('\xff\x00');
    expect(phpKey(5n)).toBe('5');
    expect([phpKey(true), phpKey(false), phpKey(null)]).toEqual(['1', '0', '']);
    expect([phpKey(1.9), phpKey(-1.9), phpKey(-0), phpKey(NaN), phpKey(Infinity)]).toEqual(['1', '-1', '0', '0', '0']);
    expect(phpKey(new Map())).toBeUndefined();
  });

  it('keys from ext_data bytes, from text (UTF-8), and back to bytes', () => {
    expect(bytesKey(Buffer.from([0x72, 0xff, 0x00]).subarray(1))).toBe('\xff\x00');
    expect(textKey('中')).toBe('\xe4\xb8\xad');
    expect(keyBytes(textKey('中')).toString('utf8')).toBe('中');
  });

  it('builders: a later key replaces in place, numbers are int keys', () => {
    const a = phpArray([
      ['a', 1n],
      [5, 2n],
      ['5', 3n],
      [7n, null],
    ]);
    expect([...a.entries()]).toEqual([
      ['a', 1n],
      ['5', 3n],
      ['7', null],
    ]);
    expect([...phpList([null, true]).keys()]).toEqual(['0', '1']);
  });

  it("empty(): '' and '0'", () => {
    expect([isEmptyString(Buffer.from('')), isEmptyString(Buffer.from('0')), isEmptyString(Buffer.from('00')), isEmptyString(Buffer.from(' '))]).toEqual([true, true, false, false]);
  });
});

describe('floats as PHP prints them (§12.2, §12.3)', () => {
  const cases = fixture<FloatCase[]>('floats.json');

  it(`${cases.length} floats: serialize's d:, json_encode's, (string)'s, and as array keys`, () => {
    expect(cases.length).toBeGreaterThan(2000);
    const wrong: string[] = [];
    for (const [bits, ser, json, str, key] of cases) {
      const d = double(bits);
      const got = [`d:${phpFloat(d, 'serialize')};`, Number.isFinite(d) ? phpFloat(d, 'json') : false, phpFloat(d, 'string'), `a:1:{i:0;i:${phpKey(d)};}`];
      const want = [ser, json, str, key];
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${d}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('the spec examples', () => {
    expect(['1.0E+25', '1.5E+17', '1.0E-5', '1.2345678901234568E+17', '0.1', '1', '100', '10000000000000000', '0.0001', '-0', 'INF', '-INF', 'NAN']).toEqual(
      [1e25, 1.5e17, 1e-5, 123456789012345678, 0.1, 1, 100, 1e16, 0.0001, -0, Infinity, -Infinity, NaN].map((d) => phpFloat(d, 'serialize')),
    );
    expect([phpFloat(1e25, 'json'), phpFloat(1.0, 'json'), phpFloat(0.1 + 0.2, 'string')]).toEqual(['1.0e+25', '1', '0.3']);
  });
});

describe('ByteWriter', () => {
  it('grows past its first allocation, keeps every byte', () => {
    const w = new ByteWriter(4);
    const parts: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const part = Buffer.from([i & 0xff, 0xff - (i & 0xff)]);
      parts.push(Buffer.from('ab\xe9', 'latin1'), part);
      w.latin1('ab\xe9');
      w.bytes(part);
    }
    w.byte(0x7d);
    expect(w.finish().equals(Buffer.concat([...parts, Buffer.from([0x7d])]))).toBe(true);
  });
});
