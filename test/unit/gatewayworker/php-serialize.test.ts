// serialize() and the bounded unserialize() (GatewayWorker spec §12.2) against
// PHP 8.2: every value PHP serialized (fixtures/serialize.json: fixed cases,
// 300 random nested values, objects) reads back and writes back byte for
// byte; PHP's odd-but-accepted input (fixtures/unserialize.json) gives PHP's
// value; our deliberate refusals are listed with their reason; a hostile
// battery only ever gets a PhpDataError, within its bounds and without recursion.
import { describe, expect, it } from 'vitest';
import { serialize, unserialize, type UnserializeOptions } from '../../../src/gatewayworker/php-serialize.js';
import { PhpDataError, PhpObject, PhpSerializable, type PhpValue } from '../../../src/gatewayworker/php-value.js';
import { thrownBy } from '../helpers/errors.js';
import { rng } from '../helpers/prng.js';
import { bin, fixture, unhex } from './fixtures.js';

function refusal(input: Uint8Array, options?: UnserializeOptions): PhpDataError {
  const error = thrownBy(() => unserialize(input, options));
  expect(error, `${Buffer.from(input).toString('latin1').slice(0, 80)} should be refused`).toBeInstanceOf(PhpDataError);
  return error as PhpDataError;
}

const values = fixture<Array<{ name: string; serialized: string }>>('serialize.json');

describe('round trip of what PHP serialize() writes', () => {
  it(`${values.length} values: unserialize, serialize, the same bytes`, () => {
    const wrong: string[] = [];
    for (const { name, serialized } of values) {
      const bytes = unhex(serialized);
      const again = serialize(unserialize(bytes));
      if (!again.equals(bytes)) wrong.push(`${name}: ${bytes.toString('latin1')} -> ${again.toString('latin1')}`);
    }
    expect(wrong).toEqual([]);
  });

  it('the model: ints as bigint (exact past 2^53), floats as numbers, strings as bytes, keys canonical', () => {
    const v = unserialize(bin('a:5:{i:0;i:9007199254740993;i:1;d:0.5;i:2;s:2:"\xff\x00";s:1:"5";b:1;s:2:"05";N;}')) as Map<string, PhpValue>;
    expect([...v.keys()]).toEqual(['0', '1', '2', '5', '05']);
    expect([...v.values()]).toEqual([9007199254740993n, 0.5, Buffer.from([0xff, 0]), true, null]);
  });

  it('objects keep their class and properties; C: keeps its payload', () => {
    const o = unserialize(bin('O:3:"Foo":1:{s:1:"a";i:1;}'));
    expect(o).toBeInstanceOf(PhpObject);
    expect((o as PhpObject).className.toString()).toBe('Foo');
    const c = unserialize(bin('C:3:"Foo":5:{hello}'));
    expect(c).toEqual(new PhpSerializable(bin('Foo'), bin('hello')));
    expect(serialize(c).toString('latin1')).toBe('C:3:"Foo":5:{hello}');
  });

  it('the spec examples (§12.2)', () => {
    expect(serialize(new Map()).toString()).toBe('a:0:{}');
    expect(serialize(null).toString()).toBe('N;');
    expect(serialize(5n).toString()).toBe('i:5;');
  });
});

/** Where we answer otherwise than PHP 8.2, and why (see php-serialize.ts). */
const deviations = new Map<string, string>([
  ['i:5;garbage', 'PHP_ERR_TRAILING'],
  ['N;N;', 'PHP_ERR_TRAILING'],
  ['a:1:{i:0;i:1;};', 'PHP_ERR_TRAILING'],
  ['a:1:{s:1:"a";i:1;}x', 'PHP_ERR_TRAILING'],
  ['a:0:{}}', 'PHP_ERR_TRAILING'],
  ['a:2:{i:0;i:5;i:1;R:2;}', 'PHP_ERR_UNSUPPORTED'],
  ['S:3:"\\61bc";', 'PHP_ERR_UNSUPPORTED'],
  // PHP, without the class, writes it back as O:3:"Foo":0:{} and loses the payload.
  ['C:3:"Foo":5:{hello}', 'kept'],
]);

describe("PHP's unserialize() on odd input (fixtures/unserialize.json)", () => {
  const cases = fixture<Array<[string, string | null]>>('unserialize.json');

  for (const [inputHex, phpResult] of cases) {
    const input = unhex(inputHex);
    const text = input.toString('latin1');
    it(JSON.stringify(text), () => {
      const deviation = deviations.get(text);
      if (deviation === 'kept') {
        expect(serialize(unserialize(input)).equals(input)).toBe(true);
      } else if (deviation !== undefined) {
        expect(refusal(input).code).toBe(deviation);
        if (deviation === 'PHP_ERR_TRAILING') expect(serialize(unserialize(input, { allowTrailingBytes: true })).toString('hex')).toBe(phpResult);
      } else if (phpResult === null) {
        expect(refusal(input).limit).toBe(false);
      } else {
        expect(serialize(unserialize(input)).toString('hex')).toBe(phpResult);
      }
    });
  }
});

describe('hostile input: a PhpDataError with its offset, never another exception, never unbounded', () => {
  it('every truncation of every PHP value is refused as truncated or malformed', () => {
    for (const { serialized } of values.slice(0, 80)) {
      const bytes = unhex(serialized);
      for (let n = 0; n < bytes.length; n++) {
        const error = refusal(bytes.subarray(0, n));
        expect(['PHP_ERR_TRUNCATED', 'PHP_ERR_MALFORMED', 'PHP_ERR_LENGTH']).toContain(error.code);
        expect(error.offset).toBeLessThanOrEqual(n);
      }
    }
  });

  it('declared lengths and counts larger than the input are refused before anything is allocated', () => {
    expect(refusal(bin('s:999999999999999999999999:"a";')).code).toBe('PHP_ERR_LENGTH');
    expect(refusal(bin('s:50:"abc";')).code).toBe('PHP_ERR_LENGTH');
    expect(refusal(bin('s:5:"abc";')).code).toBe('PHP_ERR_TRUNCATED');
    expect(refusal(bin('a:99999999:{i:0;N;}')).code).toBe('PHP_ERR_LENGTH');
    expect(refusal(bin('a:2:{i:0;N;}')).code).toBe('PHP_ERR_LENGTH');
    expect(refusal(bin('O:3:"Foo":4294967296:{}')).code).toBe('PHP_ERR_LENGTH');
    expect(refusal(bin('C:3:"Foo":99:{x}')).code).toBe('PHP_ERR_LENGTH');
    expect(refusal(bin('s:3:"abc"x')).offset).toBe(9);
  });

  it('non-numeric lengths, counts and ints', () => {
    for (const input of ['s:x:"";', 's::"";', 'a:x:{}', 'a:-1:{}', 'i:x;', 'i:-;', 'd:x;', 'b:x;', 'O:x:"A":0:{}', 'O:1:"A":x:{}', 'C:1:"A":x:{}']) {
      expect(refusal(bin(input)).code, input).toBe('PHP_ERR_MALFORMED');
    }
  });

  it('nesting: maxDepth levels pass, one more is refused; 50,000 levels cost no recursion', () => {
    const nested = (n: number): Buffer => bin(`${'a:1:{i:0;'.repeat(n)}N;${'}'.repeat(n)}`);
    expect(() => unserialize(nested(64))).not.toThrow();
    expect(refusal(nested(65)).code).toBe('PHP_ERR_TOO_DEEP');
    expect(() => unserialize(nested(50_000), { maxDepth: Infinity })).not.toThrow();
    expect(refusal(nested(1000), { maxDepth: 10 }).offset).toBe(90);
  });

  it('elements over maxElements, input over maxBytes', () => {
    const list = (n: number): Buffer => bin(`a:${n}:{${Array.from({ length: n }, (_, i) => `i:${i};N;`).join('')}}`);
    expect(() => unserialize(list(100), { maxElements: 100 })).not.toThrow();
    expect(refusal(list(101), { maxElements: 100 }).code).toBe('PHP_ERR_TOO_MANY');
    expect(refusal(bin(`a:2:{i:0;${'a:1:{i:0;N;}'}i:1;N;}`), { maxElements: 2 }).limit).toBe(true);
    expect(refusal(list(10), { maxBytes: 20 }).code).toBe('PHP_ERR_TOO_BIG');
  });

  it('trailing bytes are refused unless allowed', () => {
    expect(refusal(bin('a:0:{}a:0:{}')).code).toBe('PHP_ERR_TRAILING');
    expect(unserialize(bin('a:0:{}a:0:{}'), { allowTrailingBytes: true })).toEqual(new Map());
  });

  it('references, enums, escaped strings: refused as unsupported, wherever they sit', () => {
    for (const input of ['r:1;', 'R:1;', 'E:7:"Foo:Bar";', 'S:1:"a";', 'a:1:{i:0;r:1;}', 'a:1:{s:1:"x";O:3:"Foo":1:{s:1:"a";R:2;}}']) {
      expect(refusal(bin(input)).code, input).toBe('PHP_ERR_UNSUPPORTED');
    }
  });

  it('class names are checked as PHP checks them', () => {
    for (const input of ['O:0:"":0:{}', 'O:3:"F-o":0:{}', 'O:3:"F o":0:{}', 'C:2:"a;":0:{}']) expect(refusal(bin(input)).code, input).toBe('PHP_ERR_MALFORMED');
    expect(() => unserialize(bin('O:7:"App\\Bar":0:{}'))).not.toThrow();
    expect(() => unserialize(Buffer.from('O:2:"\xc3\xa9":0:{}', 'latin1'))).not.toThrow();
  });

  it('seeded random bytes and mutations of real values: a value or a PhpDataError', () => {
    const r = rng(0x5e41);
    const seeds = values.slice(0, 60).map((v) => unhex(v.serialized));
    for (let run = 0; run < 3000; run++) {
      let input: Buffer;
      if (run % 2 === 0) {
        input = Buffer.from(seeds[run % seeds.length]);
        for (let k = r.int(1, 3); k > 0 && input.length > 0; k--) input[r.int(0, input.length - 1)] = r.int(0, 255);
      } else {
        input = Buffer.from(Array.from({ length: r.int(0, 30) }, () => 'aisdbNO:;{}"01-9.EC'.charCodeAt(r.int(0, 18))));
      }
      const error = thrownBy(() => serialize(unserialize(input)));
      if (error !== undefined) expect(error, input.toString('latin1')).toBeInstanceOf(PhpDataError);
    }
  });
});

describe('serialize() of values built in JavaScript', () => {
  it('a Map that contains itself is refused, not a stack overflow', () => {
    const loop = new Map<string, PhpValue>();
    loop.set('self', loop);
    expect(thrownBy(() => serialize(loop))).toBeInstanceOf(PhpDataError);
  });

  it('object properties stay strings even when they read as ints', () => {
    const o = new PhpObject(bin('stdClass'), new Map([['0', 1n]]));
    expect(serialize(o).toString()).toBe('O:8:"stdClass":1:{s:1:"0";i:1;}');
  });
});
