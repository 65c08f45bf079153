// RFC 7692 §5–§7 negotiation, one rule per test, no sockets: header values in,
// the agreed parameters and the response out.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseExtensions } from '../../../src/extensions/extension-header.js';
import {
  deflateDefaults,
  deflateWindowBits,
  negotiateDeflate,
  parseDeflateOffer,
  resolveDeflateOptions,
  type PerMessageDeflateOptions,
} from '../../../src/extensions/permessage-deflate.js';

const options = (o: PerMessageDeflateOptions = {}): Required<PerMessageDeflateOptions> => ({ ...deflateDefaults, clientNoContextTakeover: false, ...o });
const respond = (header: string | undefined, o?: PerMessageDeflateOptions): string | undefined => negotiateDeflate(header, options(o))?.response;

describe('RFC 6455 §9.1: the Sec-WebSocket-Extensions grammar, in one pass', () => {
  it('offers separated by commas, parameters by semicolons, spaces around them', () => {
    expect(parseExtensions('permessage-deflate; client_max_window_bits, x-webkit-deflate-frame ,foo;a=1 ; b')).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]], valid: true },
      { name: 'x-webkit-deflate-frame', params: [], valid: true },
      { name: 'foo', params: [['a', '1'], ['b', true]], valid: true },
    ]);
  });

  it('repeated header lines arrive joined with ", ", which is the same list', () => {
    expect(parseExtensions('a, b;x=2').map((o) => o.name)).toEqual(['a', 'b']);
  });

  it('quoted values are unquoted, with backslash escapes, commas and semicolons inside quotes', () => {
    expect(parseExtensions('e; a="10"; b="x,\\"y;"')).toEqual([{ name: 'e', params: [['a', '10'], ['b', 'x,"y;']], valid: true }]);
  });

  it('empty list elements are skipped', () => {
    expect(parseExtensions(' , ,a,,').map((o) => o.name)).toEqual(['a']);
  });

  it('a broken offer is marked invalid and the next one still read', () => {
    const offers = parseExtensions('a; =1, b; c="unterminated, d, e;f=, g');
    expect(offers.map((o) => [o.name, o.valid])).toEqual([
      ['a', false],
      ['b', false],
    ]);
    expect(parseExtensions('a b, c').map((o) => [o.name, o.valid])).toEqual([
      ['a', false],
      ['c', true],
    ]);
    expect(parseExtensions('a;x=1, =b, c').map((o) => [o.name, o.valid])).toEqual([
      ['a', true],
      ['', false],
      ['c', true],
    ]);
  });

  it('is linear: hostile values as long as the whole head limit (16 KiB) parse in milliseconds', () => {
    const t = performance.now();
    parseExtensions('a;' + 'b="\\'.repeat(2_000) + ';'.repeat(2_000));
    parseExtensions(',;'.repeat(8_000));
    parseExtensions('a;b=1,'.repeat(2_700));
    parseExtensions('a;b="' + '\\"'.repeat(8_000));
    expect(performance.now() - t).toBeLessThan(500);
  });
});

describe('RFC 7692 §7.1: validating an offer', () => {
  it('accepts every parameter once, with valid values', () => {
    expect(parseDeflateOffer([['server_no_context_takeover', true], ['client_no_context_takeover', true], ['server_max_window_bits', '10'], ['client_max_window_bits', '8']])).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 8,
    });
  });

  it.each([
    ['an unknown parameter', [['foo', true]]],
    ['a repeated parameter', [['client_max_window_bits', true], ['client_max_window_bits', true]]],
    ['a value on server_no_context_takeover', [['server_no_context_takeover', '1']]],
    ['a value on client_no_context_takeover', [['client_no_context_takeover', 'x']]],
    ['server_max_window_bits without a value', [['server_max_window_bits', true]]],
    ['server_max_window_bits=7', [['server_max_window_bits', '7']]],
    ['server_max_window_bits=16', [['server_max_window_bits', '16']]],
    ['server_max_window_bits=010 (leading zero)', [['server_max_window_bits', '010']]],
    ['client_max_window_bits=16', [['client_max_window_bits', '16']]],
    ['client_max_window_bits=abc', [['client_max_window_bits', 'abc']]],
  ] as [string, [string, string | true][]][])('declines %s', (_name, params) => {
    expect(parseDeflateOffer(params)).toBeUndefined();
  });
});

describe('RFC 7692 §5, §7.1: choosing an offer and answering it', () => {
  it('no header, or no permessage-deflate offer: no compression', () => {
    expect(respond(undefined)).toBeUndefined();
    expect(respond('x-webkit-deflate-frame')).toBeUndefined();
  });

  it('a bare offer (Firefox, Safari) is accepted as is', () => {
    expect(respond('permessage-deflate')).toBe('permessage-deflate');
  });

  it('an invalid offer is declined and the next tried (never a 400)', () => {
    expect(respond('permessage-deflate; foo, permessage-deflate; server_max_window_bits=10')).toBe('permessage-deflate; server_max_window_bits=10');
    expect(respond('permessage-deflate; server_max_window_bits=20')).toBeUndefined();
    expect(respond('permessage-deflate; client_max_window_bits="10"')).toBe('permessage-deflate; client_max_window_bits=10');
  });

  it('the offer name is case-insensitive', () => {
    expect(respond('PerMessage-Deflate')).toBe('permessage-deflate');
  });

  it('§7.1.1.1: server_no_context_takeover offered is answered and binds us', () => {
    const n = negotiateDeflate('permessage-deflate; server_no_context_takeover', options())!;
    expect(n.response).toBe('permessage-deflate; server_no_context_takeover');
    expect(n.params.serverNoContextTakeover).toBe(true);
  });

  it('§7.1.1.2: client_no_context_takeover is asked for by default, offered or not', () => {
    const n = negotiateDeflate('permessage-deflate', { ...deflateDefaults })!;
    expect(n.response).toBe('permessage-deflate; client_no_context_takeover');
    expect(n.params.clientNoContextTakeover).toBe(true);
    expect(respond('permessage-deflate; client_no_context_takeover')).toBe('permessage-deflate; client_no_context_takeover');
  });

  it('§7.1.2.1: server_max_window_bits is answered with the same or a smaller value, never above the offer', () => {
    expect(respond('permessage-deflate; server_max_window_bits=10')).toBe('permessage-deflate; server_max_window_bits=10');
    expect(respond('permessage-deflate; server_max_window_bits=15', { serverMaxWindowBits: 12 })).toBe('permessage-deflate; server_max_window_bits=12');
    expect(negotiateDeflate('permessage-deflate; server_max_window_bits=11', options({ serverMaxWindowBits: 13 }))!.params.serverWindowBits).toBe(11);
  });

  it('§7.1.2.1: without the parameter offered it is not answered, and we compress with our own window', () => {
    const n = negotiateDeflate('permessage-deflate', options({ serverMaxWindowBits: 12 }))!;
    expect(n.response).toBe('permessage-deflate');
    expect(n.params.serverWindowBits).toBe(12);
  });

  it('server_max_window_bits=8: answered 8, deflated with 9', () => {
    const n = negotiateDeflate('permessage-deflate; server_max_window_bits=8', options())!;
    expect(n.response).toBe('permessage-deflate; server_max_window_bits=8');
    expect(n.params.serverWindowBits).toBe(9);
    expect(deflateWindowBits(8)).toBe(9);
  });

  it('§7.1.2.2: client_max_window_bits appears in the response only if offered', () => {
    expect(respond('permessage-deflate', { clientMaxWindowBits: 10 })).toBe('permessage-deflate');
    expect(respond('permessage-deflate; client_max_window_bits')).toBe('permessage-deflate');
    expect(respond('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 })).toBe('permessage-deflate; client_max_window_bits=10');
    expect(respond('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 })).toBe('permessage-deflate; client_max_window_bits=9');
    expect(negotiateDeflate('permessage-deflate; client_max_window_bits=9', options())!.params.clientWindowBits).toBe(9);
    expect(negotiateDeflate('permessage-deflate', options({ clientMaxWindowBits: 9 }))!.params.clientWindowBits).toBe(15);
  });

  it('Chrome\'s offer with the defaults', () => {
    expect(negotiateDeflate('permessage-deflate; client_max_window_bits', { ...deflateDefaults })!.response).toBe('permessage-deflate; client_no_context_takeover');
  });
});

describe('a 9-bit deflate decodes with an 8-bit window (what server_max_window_bits=8 gets)', () => {
  it('round trips through an 8-bit inflater, for repetitive and random data', () => {
    const inputs = [Buffer.from('abcdefgh'.repeat(5000)), Buffer.from(Array.from({ length: 20_000 }, (_, i) => ((i * 7919) % 251) & 0xff)), Buffer.from('x'.repeat(300) + 'y'.repeat(300) + 'x'.repeat(300))];
    // Text with repeats at every distance from 1 to 600: a 9-bit window could reach past 256 if zlib let it.
    let s = '';
    for (let d = 1; d < 600; d++) s += String(d).padStart(4, '0') + 'q'.repeat(d % 7);
    inputs.push(Buffer.from(s + s));
    for (const input of inputs) {
      const compressed = zlib.deflateRawSync(input, { windowBits: deflateWindowBits(8), finishFlush: zlib.constants.Z_SYNC_FLUSH });
      const back = zlib.inflateRawSync(compressed, { windowBits: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      expect(back.equals(input)).toBe(true);
    }
  });
});

describe('options', () => {
  it('true means the defaults, false or nothing means off', () => {
    expect(resolveDeflateOptions(true)).toEqual(deflateDefaults);
    expect(resolveDeflateOptions(false)).toBeUndefined();
    expect(resolveDeflateOptions(undefined)).toBeUndefined();
    expect(resolveDeflateOptions({ level: 6 })).toEqual({ ...deflateDefaults, level: 6 });
  });

  it.each([{ serverMaxWindowBits: 16 }, { clientMaxWindowBits: 7 }, { level: 10 }, { memLevel: 0 }, { threshold: -1 }, { idleRelease: 1.5 }, { maxContexts: -1 }])('refuses %o', (o) => {
    expect(() => resolveDeflateOptions(o)).toThrow(RangeError);
  });
});
