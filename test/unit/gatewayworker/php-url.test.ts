// parse_str() and parse_url()'s query (GatewayWorker spec §10.3) against PHP
// 8.2 (fixtures/parse-str.json, fixtures/parse-url.json): nesting, name
// mangling, decoding, canonical keys, max_input_vars, max_input_nesting_level,
// and the URLs parse_url() refuses.
import { describe, expect, it } from 'vitest';
import { parseStr, phpUrlQuery, urlDecode } from '../../../src/gatewayworker/php-url.js';
import { serialize } from '../../../src/gatewayworker/php-serialize.js';
import { fixture, unhex } from './fixtures.js';

describe('parse_str (fixtures/parse-str.json)', () => {
  for (const [queryHex, want] of fixture<Array<[string, string]>>('parse-str.json')) {
    const query = unhex(queryHex).toString('latin1');
    it(JSON.stringify(query.length > 70 ? `${query.slice(0, 70)}…` : query), () => {
      expect(serialize(parseStr(query)).toString('latin1')).toBe(unhex(want).toString('latin1'));
    });
  }

  it('the limits are options', () => {
    expect(parseStr('a=1&b=2&c=3', { maxInputVars: 2 }).size).toBe(2);
    expect(parseStr('a[x][y]=1&b[x]=2', { maxNestingLevel: 1 }).has('a')).toBe(false);
  });

  it('a long query stays linear', () => {
    const query = Array.from({ length: 1000 }, (_, i) => `k${i}[a][b][]=${'%41'.repeat(20)}`).join('&');
    const started = performance.now();
    expect(parseStr(query).size).toBe(1000);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('urlDecode', () => {
  it("'+' is a space, %XX a byte, a broken escape stays", () => {
    expect(urlDecode('a+b%41%4a%zz%4%')).toBe('a bAJ%zz%4%');
    expect(urlDecode('%ff%E4')).toBe('\xff\xe4');
  });
});

describe('parse_url($target)["query"] (fixtures/parse-url.json)', () => {
  for (const [target, query] of fixture<Array<[string, string | null]>>('parse-url.json')) {
    it(JSON.stringify(target), () => {
      expect(phpUrlQuery(target)).toBe(query ?? '');
    });
  }
});
