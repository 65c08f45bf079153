// JSON as PHP 8.2 reads and writes it (GatewayWorker spec §2.5, §10.2, §12.3):
// json_decode($s, true) on the inputs of fixtures/json-decode.json (values,
// or the same error class as PHP), json_encode($v, JSON_UNESCAPED_UNICODE) and
// Workerman's client text of the 320 values of fixtures/serialize.json, and a
// hostile battery for the decoder.
import { describe, expect, it } from 'vitest';
import { clientMessage, decodeBody, jsonDecode, jsonEncode, type JsonDecodeOptions } from '../../../src/gatewayworker/json-php.js';
import { serialize, unserialize } from '../../../src/gatewayworker/php-serialize.js';
import { phpArray, phpString, PhpDataError } from '../../../src/gatewayworker/php-value.js';
import { rng } from '../helpers/prng.js';
import { bin, fixture, unhex } from './fixtures.js';

function refusal(input: string | Buffer, options?: JsonDecodeOptions): PhpDataError {
  let error: unknown;
  try {
    jsonDecode(typeof input === 'string' ? bin(input) : input, options);
  } catch (e) {
    error = e;
  }
  expect(error, `${String(input).slice(0, 60)} should be refused`).toBeInstanceOf(PhpDataError);
  return error as PhpDataError;
}

const PHP_ERRORS: Record<string, string> = {
  'Syntax error': 'JSON_ERR_SYNTAX',
  'Malformed UTF-8 characters, possibly incorrectly encoded': 'JSON_ERR_UTF8',
  'Single unpaired UTF-16 surrogate in unicode escape': 'JSON_ERR_UTF16',
  'Control character error, possibly incorrectly encoded': 'JSON_ERR_CTRL_CHAR',
};

describe('json_decode($s, true) (fixtures/json-decode.json)', () => {
  for (const [inputHex, phpResult, message] of fixture<Array<[string, string | null, string]>>('json-decode.json')) {
    const input = unhex(inputHex);
    it(JSON.stringify(input.toString('latin1')), () => {
      if (phpResult === null) {
        expect(refusal(input).code).toBe(PHP_ERRORS[message]);
      } else {
        expect(serialize(jsonDecode(input)).toString('hex')).toBe(phpResult);
      }
    });
  }

  it('what GatewayClient writes', () => {
    expect(serialize(jsonDecode(bin('{"group":["watchers"],"exclude":null}'))).toString()).toBe('a:2:{s:5:"group";a:1:{i:0;s:8:"watchers";}s:7:"exclude";N;}');
    expect(serialize(jsonDecode(bin('{"fields":["uid"],"where":{"connection_id":{"1":1}}}'))).toString()).toBe(
      'a:2:{s:6:"fields";a:1:{i:0;s:3:"uid";}s:5:"where";a:1:{s:13:"connection_id";a:1:{i:1;i:1;}}}',
    );
  });
});

describe('json_decode: bounds and hostile input', () => {
  it('nesting past maxDepth, elements past maxElements, input past maxBytes: refused as limits', () => {
    expect(() => jsonDecode(bin('['.repeat(64) + ']'.repeat(64)))).not.toThrow();
    const deep = refusal('['.repeat(65) + ']'.repeat(65));
    expect([deep.code, deep.limit, deep.offset]).toEqual(['PHP_ERR_TOO_DEEP', true, 64]);
    expect(refusal('['.repeat(100_000)).code).toBe('PHP_ERR_TOO_DEEP');
    expect(refusal(`[${'1,'.repeat(99)}1]`, { maxElements: 99 }).code).toBe('PHP_ERR_TOO_MANY');
    expect(refusal('[1]', { maxBytes: 2 }).code).toBe('PHP_ERR_TOO_BIG');
  });

  it('a million levels with no depth limit: no recursion', () => {
    const n = 200_000;
    expect(() => jsonDecode(bin('['.repeat(n) + ']'.repeat(n)), { maxDepth: Infinity })).not.toThrow();
  });

  it('every truncation of valid JSON is a syntax error', () => {
    const input = '{"a":[1,-2.5e3,"x\\u00e9\\ud83d\\ude00",true,false,null,{"b":{}}],"c":"\\/"}';
    expect(() => jsonDecode(bin(input))).not.toThrow();
    for (let n = 0; n < input.length; n++) expect(refusal(input.slice(0, n)).limit, String(n)).toBe(false);
  });

  it('seeded random bytes and mutations: a value or a PhpDataError', () => {
    const r = rng(0x150);
    const base = bin('{"a":[1,-2.5e3,"x\\u00e9",true,false,null,{"b":{}}],"c":"\\/"}');
    for (let run = 0; run < 3000; run++) {
      const input = run % 2 === 0 ? Buffer.from(base) : Buffer.from(Array.from({ length: r.int(0, 24) }, () => '{}[],:"\\u0123e.-+tfn '.charCodeAt(r.int(0, 20))));
      if (run % 2 === 0) for (let k = r.int(1, 3); k > 0; k--) input[r.int(0, input.length - 1)] = r.int(0, 255);
      try {
        jsonDecode(input);
      } catch (error) {
        expect(error).toBeInstanceOf(PhpDataError);
      }
    }
  });
});

describe('json_encode($v, JSON_UNESCAPED_UNICODE) and the client text (fixtures/serialize.json)', () => {
  const cases = fixture<Array<{ name: string; serialized: string; json: string | null; client: string | null }>>('serialize.json');

  it(`${cases.length} values, as PHP encodes them (or refused where PHP returns false)`, () => {
    const wrong: string[] = [];
    for (const { name, serialized, json } of cases) {
      let got: string | null;
      try {
        got = jsonEncode(unserialize(unhex(serialized))).toString('hex');
      } catch (error) {
        if (!(error instanceof PhpDataError)) throw error;
        got = null;
      }
      if (got !== json) wrong.push(`${name}: ${got === null ? 'refused' : unhex(got).toString()} != ${json === null ? 'false' : unhex(json).toString()}`);
    }
    expect(wrong).toEqual([]);
  });

  it('the text a client gets for each of them (empty where json_encode fails: Workerman sends 81 00)', () => {
    const wrong: string[] = [];
    for (const { name, serialized, client } of cases) {
      const got = clientMessage(decodeBody({ flag: 0, body: unhex(serialized) })).toString('hex');
      if (got !== (client ?? '')) wrong.push(`${name}: ${unhex(got).toString()} != ${client === null ? '' : unhex(client).toString()}`);
    }
    expect(wrong).toEqual([]);
  });

  it("the verified message: ['arr'=>'x/y','n'=>1.0] → {\"arr\":\"x\\/y\",\"n\":1}", () => {
    expect(jsonEncode(phpArray([['arr', phpString('x/y')], ['n', 1.0]])).toString()).toBe('{"arr":"x\\/y","n":1}');
  });

  it('U+2028/2029 escaped, other non-ASCII raw, control characters escaped, DEL raw', () => {
    const s = phpString('\u2028\u2029é中\u0001\b\f\n\r\t\u007f"\\/');
    expect(jsonEncode(s).toString()).toBe('"\\u2028\\u2029é中\\u0001\\b\\f\\n\\r\\t\u007f\\"\\\\\\/"');
  });

  it('refusals where PHP returns false: invalid UTF-8 (also in a key), INF, NAN', () => {
    for (const value of [Buffer.from([0xff]), phpArray([['\xff', null]]), Infinity, phpArray([['x', NaN]])]) {
      expect(() => jsonEncode(value)).toThrow(PhpDataError);
    }
  });
});

describe('send and kick bodies (§2.4, §9, §10.2)', () => {
  it('a scalar body is its bytes; a serialized one its value, PHP false when unreadable, bytes after it ignored', () => {
    expect(decodeBody({ flag: 1, body: bin('a:0:{}') })).toEqual(bin('a:0:{}'));
    expect(decodeBody({ flag: 3, body: bin('x') })).toEqual(bin('x'));
    expect(decodeBody({ flag: 0, body: bin('N;') })).toBeNull();
    expect(decodeBody({ flag: 2, body: bin('a:1:{s:1:"x";i:1;}') })).toEqual(phpArray([['x', 1n]]));
    expect(decodeBody({ flag: 0, body: bin('a:0:{}junk') })).toEqual(new Map());
    for (const bad of ['', 'a:1:{', 'R:1;', 'E:7:"Foo:Bar";']) expect(decodeBody({ flag: 0, body: bin(bad) }), bad).toBe(false);
    expect(() => decodeBody({ flag: 0, body: bin(`${'a:1:{i:0;'.repeat(70)}N;${'}'.repeat(70)}`) })).toThrow(PhpDataError);
  });

  it('what the client reads: null is "null" when sent (a kick sends nothing for it), false is empty, a string itself', () => {
    expect(clientMessage(null).toString()).toBe('null');
    expect(clientMessage(false).toString()).toBe('');
    expect(clientMessage(bin('hé')).equals(bin('hé'))).toBe(true);
    expect(clientMessage(Buffer.from([0xff])).equals(Buffer.from([0xff]))).toBe(true);
    expect(clientMessage(phpArray([['x', Buffer.from([0xff])]])).length).toBe(0);
  });
});
