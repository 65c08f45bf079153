// Connection tokens (src/gateway/jwt.ts), grouped by the RFC section that
// decides. Tokens are signed here by a small signer of the test's own (never
// by the code under test), with keys made for the run; hostile tokens are
// built by hand. Every refusal is checked for its code, 401, its challenge,
// and a reason that shows neither the token nor any key.
import { createHmac, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config-error.js';
import { readPublicKeys, verifyToken, type TokenKeys, type TokenRules } from '../../../src/gateway/jwt.js';
import type { HandshakeError } from '../../../src/protocol/errors.js';
import { expectHandshakeError } from '../helpers/errors.js';

const NOW = 1_700_000_000;
const rules = (over: Partial<TokenRules> = {}): TokenRules => ({ now: NOW, allowNoExp: false, ...over });

const secret = randomBytes(32);
const otherSecret = randomBytes(32);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecOther = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const edOther = generateKeyPairSync('ed25519');
const KEYS: TokenKeys = { secrets: [secret], publicKeys: [rsa.publicKey, ec.publicKey, ed.publicKey] };

type SigningKey = Buffer | KeyObject;
const ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'EdDSA'] as const;
type Alg = (typeof ALGS)[number];
const signingKey: Record<Alg, SigningKey> = { HS256: secret, HS384: secret, HS512: secret, RS256: rsa.privateKey, ES256: ec.privateKey, EdDSA: ed.privateKey };
const otherKey: Record<Alg, SigningKey> = { HS256: otherSecret, HS384: otherSecret, HS512: otherSecret, RS256: rsaOther.privateKey, ES256: ecOther.privateKey, EdDSA: edOther.privateKey };

/** The test's own signer: RFC 7518 §3.2–3.4, RFC 8037 §3.1. */
function signature(alg: string, input: string, key: SigningKey): Buffer {
  if (alg.startsWith('HS')) return createHmac(`sha${alg.slice(2)}`, key as Buffer).update(input).digest();
  const data = Buffer.from(input);
  if (alg === 'RS256') return sign('sha256', data, key as KeyObject);
  if (alg === 'ES256') return sign('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  return sign(null, data, key as KeyObject);
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** A compact JWS of these exact header and payload texts (RFC 7515 §7.1). */
function jws(headerText: string, payloadText: string, signer: (input: string) => Buffer): string {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  return `${input}.${b64(signer(input))}`;
}

const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ sub: 'ann', exp: NOW + 60, ...over });

function jwt(alg: string, key: SigningKey = signingKey[alg as Alg], payload: unknown = claims(), header: Record<string, unknown> = {}): string {
  return jws(JSON.stringify({ alg, typ: 'JWT', ...header }), JSON.stringify(payload), (input) => signature(alg, input, key));
}
const hs256 = (payload: unknown, header: Record<string, unknown> = {}): string => jwt('HS256', secret, payload, header);

/** What no reason may show: every secret and key in the spellings a log would carry. */
const pemLines = (key: KeyObject): string[] =>
  (key.type === 'public' ? key.export({ type: 'spki', format: 'pem' }) : key.export({ type: 'pkcs8', format: 'pem' })).toString().split('\n').filter((l) => l.length >= 16);
const KEY_TEXTS = [
  ...[secret, otherSecret].flatMap((s) => [s.toString('hex'), s.toString('base64'), s.toString('base64url')]),
  ...[rsa, rsaOther, ec, ecOther, ed, edOther].flatMap((pair) => [...pemLines(pair.publicKey), ...pemLines(pair.privateKey)]),
];

function refuse(token: string, code: string, keys: TokenKeys = KEYS, over: Partial<TokenRules> = {}): HandshakeError {
  const e = expectHandshakeError(() => verifyToken(token, keys, rules(over)), code, 401, token.slice(0, 60));
  expect(e.message).not.toMatch(/[\r\n]/);
  expect(e.headers['WWW-Authenticate']).toBe('Bearer error="invalid_token"');
  for (const part of [token, ...token.split('.')].filter((p) => p.length >= 12)) expect(e.message).not.toContain(part);
  for (const text of KEY_TEXTS) expect(e.message).not.toContain(text);
  return e;
}

describe('algorithms (RFC 7518 §3, RFC 8037 §3.1)', () => {
  it.each(ALGS)('%s: a token signed with a configured key verifies and gives its claims', (alg) => {
    const token = jwt(alg, signingKey[alg], claims({ info: { name: 'Ann' }, topics: ['news'], allow: ['room:*'], publish: ['room:1'] }));
    expect(verifyToken(token, KEYS, rules())).toEqual({ user: 'ann', exp: NOW + 60, info: { name: 'Ann' }, topics: ['news'], allow: ['room:*'], publish: ['room:1'] });
  });

  it.each(ALGS)('%s: a valid signature by another key is refused (RFC 7515 §5.2)', (alg) => {
    refuse(jwt(alg, otherKey[alg]), 'WS_HS_TOKEN_SIGNATURE');
  });

  it('every configured key of the right kind is tried', () => {
    const keys: TokenKeys = { secrets: [otherSecret, secret], publicKeys: [ecOther.publicKey, rsaOther.publicKey, rsa.publicKey, edOther.publicKey, ed.publicKey, ec.publicKey] };
    for (const alg of ALGS) expect(verifyToken(jwt(alg), keys, rules()).user, alg).toBe('ann');
  });

  it('RFC 7515 Appendix A.1: the HS256 example verifies with its key, before its exp (2011) and not at it', () => {
    const token =
      'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const key = Buffer.from('AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow', 'base64url');
    const keys: TokenKeys = { secrets: [key], publicKeys: [] };
    expect(verifyToken(token, keys, rules({ now: 1300819379, issuer: 'joe' }))).toEqual({ user: undefined, exp: 1300819380, info: undefined, topics: [], allow: [], publish: false });
    expectHandshakeError(() => verifyToken(token, keys, rules({ now: 1300819380 })), 'WS_HS_TOKEN_EXPIRED', 401);
  });
});

describe('the algorithm is chosen by the configured keys (RFC 8725 §2.1, §3.1)', () => {
  const none = (header: Record<string, unknown>, signed: boolean): string => {
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims()))}`;
    return `${input}.${signed ? b64(signature('HS256', input, secret)) : ''}`;
  };

  it.each(['none', 'NONE', 'nOnE'])('alg %s is refused, with a signature and without (RFC 7518 §3.6)', (alg) => {
    expect(refuse(none({ alg }, false), 'WS_HS_TOKEN_ALGORITHM').message).toContain('unsecured');
    refuse(none({ alg, typ: 'JWT' }, true), 'WS_HS_TOKEN_ALGORITHM');
  });

  it('alg missing, not a string, in the wrong case or not supported is refused', () => {
    for (const alg of [undefined, null, 256, ['HS256'], { HS256: true }, 'hs256', 'Hs256', 'RS512', 'PS256', 'ES384', 'ES256K', 'Ed25519', 'HS256 ', '']) {
      refuse(jwt('HS256', secret, claims(), { alg }), 'WS_HS_TOKEN_ALGORITHM');
    }
  });

  it('a long or strange alg is not quoted back', () => {
    const long = 'A'.repeat(5000);
    expect(refuse(jwt('HS256', secret, claims(), { alg: long }), 'WS_HS_TOKEN_ALGORITHM').message).not.toContain('AAAAAAAAAAAAAAAAA');
    expect(refuse(jwt('HS256', secret, claims(), { alg: 'x\r\ny' }), 'WS_HS_TOKEN_ALGORITHM').message).toContain('(unrecognised)');
  });

  it("HS256 signed with the RSA public key's bytes as secret is refused when only public keys are configured", () => {
    const spki = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' });
    const der = rsa.publicKey.export({ type: 'spki', format: 'der' });
    for (const bytes of [Buffer.from(spki), Buffer.from(pkcs1), der]) {
      const forged = jwt('HS256', bytes);
      const e = refuse(forged, 'WS_HS_TOKEN_ALGORITHM', { secrets: [], publicKeys: [rsa.publicKey] });
      expect(e.message).toContain('no HMAC secret');
      refuse(forged, 'WS_HS_TOKEN_ALGORITHM', { secrets: [], publicKeys: KEYS.publicKeys });
      // With a secret configured too, the public key is still never an HMAC key.
      refuse(forged, 'WS_HS_TOKEN_SIGNATURE', { secrets: [otherSecret], publicKeys: [rsa.publicKey] });
    }
  });

  it('RS256, ES256 and EdDSA tokens are refused when only secrets are configured', () => {
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) refuse(jwt(alg), 'WS_HS_TOKEN_ALGORITHM', { secrets: [secret], publicKeys: [] });
  });

  it('a public key serves one algorithm: RS256 needs RSA ≥ 2048 bits, ES256 P-256, EdDSA Ed25519 (not Ed448)', () => {
    refuse(jwt('RS256'), 'WS_HS_TOKEN_ALGORITHM', { secrets: [secret], publicKeys: [ec.publicKey, ed.publicKey] });
    refuse(jwt('ES256'), 'WS_HS_TOKEN_ALGORITHM', { secrets: [], publicKeys: [rsa.publicKey, ed.publicKey] });
    refuse(jwt('EdDSA'), 'WS_HS_TOKEN_ALGORITHM', { secrets: [], publicKeys: [rsa.publicKey, ec.publicKey] });
    const ed448 = generateKeyPairSync('ed448');
    refuse(jwt('EdDSA', ed448.privateKey), 'WS_HS_TOKEN_ALGORITHM', { secrets: [], publicKeys: [ed448.publicKey] });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    refuse(jws('{"alg":"ES256"}', JSON.stringify(claims()), (i) => sign('sha256', Buffer.from(i), { key: p384.privateKey, dsaEncoding: 'ieee-p1363' })), 'WS_HS_TOKEN_ALGORITHM', {
      secrets: [],
      publicKeys: [p384.publicKey],
    });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    refuse(jwt('RS256', small.privateKey), 'WS_HS_TOKEN_ALGORITHM', { secrets: [], publicKeys: [small.publicKey] });
  });

  it('an empty secret is never a key: anyone could sign with it', () => {
    refuse(jwt('HS256', Buffer.alloc(0)), 'WS_HS_TOKEN_ALGORITHM', { secrets: [Buffer.alloc(0)], publicKeys: [] });
  });
});

describe('signature (RFC 7515 §5.2)', () => {
  const [h, p, s] = hs256(claims()).split('.') as [string, string, string];

  it('a tampered payload or header is refused', () => {
    refuse(`${h}.${b64(JSON.stringify(claims({ sub: 'admin' })))}.${s}`, 'WS_HS_TOKEN_SIGNATURE');
    refuse(`${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'x' }))}.${p}.${s}`, 'WS_HS_TOKEN_SIGNATURE');
    const [, p2, s2] = hs256(claims({ sub: 'bob' })).split('.');
    refuse(`${h}.${p2}.${s}`, 'WS_HS_TOKEN_SIGNATURE');
    refuse(`${h}.${p}.${s2}`, 'WS_HS_TOKEN_SIGNATURE');
  });

  it.each(ALGS)('%s: a truncated, lengthened or empty signature is refused', (alg) => {
    const [th, tp, ts] = jwt(alg).split('.') as [string, string, string];
    const bytes = Buffer.from(ts, 'base64url');
    for (const wrong of [bytes.subarray(0, -1), bytes.subarray(1), Buffer.concat([bytes, Buffer.from([0])]), Buffer.alloc(0)]) {
      refuse(`${th}.${tp}.${b64(wrong)}`, 'WS_HS_TOKEN_SIGNATURE');
    }
  });

  it('ES256 with a DER signature (the X.509 form) is refused: RFC 7518 §3.4 wants R || S', () => {
    const der = jws('{"alg":"ES256"}', JSON.stringify(claims()), (input) => sign('sha256', Buffer.from(input), ec.privateKey));
    refuse(der, 'WS_HS_TOKEN_SIGNATURE');
  });

  it('nothing of the payload is read before the signature verifies', () => {
    const forge = (payload: string): string => `${h}.${b64(payload)}.${s}`;
    refuse(forge(JSON.stringify(claims({ exp: NOW - 1 }))), 'WS_HS_TOKEN_SIGNATURE');
    refuse(forge('not json'), 'WS_HS_TOKEN_SIGNATURE');
    refuse(`${h}.${p}x.${s}`, 'WS_HS_TOKEN_SIGNATURE');
  });
});

describe('compact serialization (RFC 7515 §7.1, §2)', () => {
  const token = hs256(claims());
  const [h, p, s] = token.split('.') as [string, string, string];
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  it('anything but three parts is refused: empty, 1, 2, 4, 5 (a JWE) parts', () => {
    for (const t of ['', h, `${h}.${p}`, `${token}.${s}`, `${token}..${s}`, `${h}.${p}.${s}.`]) refuse(t, 'WS_HS_TOKEN_MALFORMED');
  });

  it('empty parts are refused', () => {
    refuse('..', 'WS_HS_TOKEN_MALFORMED');
    refuse(`.${p}.${s}`, 'WS_HS_TOKEN_MALFORMED');
    refuse(`${h}..${s}`, 'WS_HS_TOKEN_SIGNATURE'); // a signature over an empty payload does not verify
    const emptyPayload = jws('{"alg":"HS256"}', '', (i) => signature('HS256', i, secret));
    expect(refuse(emptyPayload, 'WS_HS_TOKEN_MALFORMED').message).toContain('payload is not JSON');
  });

  it("padding, '+', '/', white space and non-ASCII are refused", () => {
    for (const t of [`${token}=`, `${h}=.${p}.${s}`, `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}`, `${h}.${p}.${s.slice(0, 10)}/${s.slice(11)}`, ` ${token}`, `${token}\n`, `${h}.${p}.${s}é`]) {
      refuse(t, 'WS_HS_TOKEN_MALFORMED');
    }
  });

  it('non-canonical base64url is refused: set trailing bits, a length of 4n+1', () => {
    const last = s.at(-1) ?? '';
    expect(s.length % 4).toBe(3); // 32 bytes: the last character carries 2 unused bits, all zero
    const sameBytes = s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(last) + 1];
    expect(Buffer.from(sameBytes, 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    refuse(`${h}.${p}.${sameBytes}`, 'WS_HS_TOKEN_MALFORMED');
    refuse(`${h}.${p}.${s}AA`, 'WS_HS_TOKEN_MALFORMED');
  });

  it('a header that is not a JSON object is refused', () => {
    for (const header of ['not json', '[]', 'null', '"HS256"', '{"alg":"HS256"', '\uFEFF{"alg":"HS256"}']) refuse(`${b64(header)}.${p}.${s}`, 'WS_HS_TOKEN_MALFORMED');
    // Malformed UTF-8 is refused, not replaced with U+FFFD.
    const badUtf8 = Buffer.concat([Buffer.from('{"alg":"HS256","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    refuse(`${b64(badUtf8)}.${p}.${s}`, 'WS_HS_TOKEN_MALFORMED');
  });

  it('a signed payload that is not a JSON object is refused', () => {
    for (const payload of ['not json', '[]', 'null', '42', '"ann"']) refuse(jws('{"alg":"HS256"}', payload, (i) => signature('HS256', i, secret)), 'WS_HS_TOKEN_MALFORMED');
  });

  it('crit is refused, understood or not (RFC 7515 §4.1.11)', () => {
    for (const crit of [['exp'], [], 'b64']) expect(refuse(hs256(claims(), { crit }), 'WS_HS_TOKEN_MALFORMED').message).toContain('crit');
  });

  it('typ, when present, is JWT in any case (RFC 7519 §5.1)', () => {
    for (const typ of ['JWT', 'jwt', 'Jwt']) expect(verifyToken(hs256(claims(), { typ }), KEYS, rules()).user).toBe('ann');
    expect(verifyToken(jws('{"alg":"HS256"}', JSON.stringify(claims()), (i) => signature('HS256', i, secret)), KEYS, rules()).user).toBe('ann');
    for (const typ of ['at+jwt', 'JOSE', 'JWS', '', 1, null]) refuse(hs256(claims(), { typ }), 'WS_HS_TOKEN_MALFORMED');
  });

  it('the size is checked before anything else: 100 KB, and one byte over maxBytes', () => {
    refuse('x'.repeat(100 * 1024), 'WS_HS_TOKEN_TOO_LARGE');
    refuse(hs256(claims({ info: { pad: 'x'.repeat(100 * 1024) } })), 'WS_HS_TOKEN_TOO_LARGE');
    expect(refuse(token, 'WS_HS_TOKEN_TOO_LARGE', KEYS, { maxBytes: token.length - 1 }).message).toBe(`token longer than ${token.length - 1} bytes`);
    expect(verifyToken(token, KEYS, rules({ maxBytes: token.length })).user).toBe('ann');
    const big = hs256(claims({ info: { pad: 'x'.repeat(1500) } }));
    expect(big.length).toBeLessThan(8192);
    expect(verifyToken(big, KEYS, rules()).user).toBe('ann');
  });
});

describe('time claims (RFC 7519 §4.1.4, §4.1.5)', () => {
  const at = (over: Record<string, unknown>, rulesOver: Partial<TokenRules> = {}) => verifyToken(hs256(claims(over)), KEYS, rules(rulesOver));

  it('exp = now is expired; a second (or a fraction) later is not; no leeway', () => {
    refuse(hs256(claims({ exp: NOW })), 'WS_HS_TOKEN_EXPIRED');
    refuse(hs256(claims({ exp: NOW - 1 })), 'WS_HS_TOKEN_EXPIRED');
    refuse(hs256(claims({ exp: 0 })), 'WS_HS_TOKEN_EXPIRED');
    expect(at({ exp: NOW + 1 }).exp).toBe(NOW + 1);
    expect(at({ exp: NOW + 0.5 }).exp).toBe(NOW + 0.5);
    refuse(hs256(claims({ exp: NOW + 0.5 })), 'WS_HS_TOKEN_EXPIRED', KEYS, { now: NOW + 0.5 });
  });

  it('nbf = now is valid; later is not yet', () => {
    expect(at({ nbf: NOW }).user).toBe('ann');
    expect(at({ nbf: NOW - 100 }).user).toBe('ann');
    refuse(hs256(claims({ nbf: NOW + 1 })), 'WS_HS_TOKEN_NOT_YET_VALID');
    refuse(hs256(claims({ nbf: NOW + 0.001 })), 'WS_HS_TOKEN_NOT_YET_VALID');
  });

  it('without exp a token is refused, unless allowNoExp', () => {
    refuse(hs256({ sub: 'ann' }), 'WS_HS_TOKEN_MISSING_EXP');
    expect(verifyToken(hs256({ sub: 'ann' }), KEYS, rules({ allowNoExp: true }))).toMatchObject({ user: 'ann', exp: undefined });
    // allowNoExp does not lift an exp that is there.
    refuse(hs256(claims({ exp: NOW })), 'WS_HS_TOKEN_EXPIRED', KEYS, { allowNoExp: true });
  });

  it('exp and nbf are numbers (NumericDate, RFC 7519 §2)', () => {
    for (const exp of [String(NOW + 60), null, true, [NOW + 60], { t: NOW + 60 }]) refuse(hs256(claims({ exp })), 'WS_HS_TOKEN_CLAIMS', KEYS, { allowNoExp: true });
    for (const nbf of [String(NOW), null, false]) refuse(hs256(claims({ nbf })), 'WS_HS_TOKEN_CLAIMS');
  });
});

describe('aud and iss (RFC 7519 §4.1.3, §4.1.1)', () => {
  const check = (over: Record<string, unknown>) => hs256(claims(over));

  it('aud is the configured audience, or an array that holds it', () => {
    const audience = 'wss://chat.example';
    expect(verifyToken(check({ aud: audience }), KEYS, rules({ audience })).user).toBe('ann');
    expect(verifyToken(check({ aud: ['api', audience] }), KEYS, rules({ audience })).user).toBe('ann');
    for (const aud of ['api', ['api', 'web'], [], undefined, null, 7, audience.toUpperCase(), [[audience]]]) refuse(check({ aud }), 'WS_HS_TOKEN_AUDIENCE', KEYS, { audience });
  });

  it('aud is not checked when no audience is configured', () => {
    expect(verifyToken(check({ aud: 'elsewhere' }), KEYS, rules()).user).toBe('ann');
  });

  it('iss is the configured issuer, compared case-sensitively', () => {
    const issuer = 'https://auth.example';
    expect(verifyToken(check({ iss: issuer }), KEYS, rules({ issuer })).user).toBe('ann');
    for (const iss of ['https://evil.example', issuer.toUpperCase(), undefined, [issuer], null]) refuse(check({ iss }), 'WS_HS_TOKEN_ISSUER', KEYS, { issuer });
    expect(verifyToken(check({ iss: 'anyone' }), KEYS, rules()).user).toBe('ann');
  });
});

describe('the gateway claims', () => {
  const accept = (over: Record<string, unknown>) => verifyToken(hs256(claims(over)), KEYS, rules());
  const refuseClaims = (over: Record<string, unknown>) => refuse(hs256(claims(over)), 'WS_HS_TOKEN_CLAIMS');

  it('absent claims take their defaults: anonymous, no info, no topics, no publishing', () => {
    expect(verifyToken(hs256({ exp: NOW + 60 }), KEYS, rules())).toEqual({ user: undefined, exp: NOW + 60, info: undefined, topics: [], allow: [], publish: false });
  });

  it('sub is a non-empty string of at most 256 bytes (RFC 7519 §4.1.2)', () => {
    expect(accept({ sub: 'é'.repeat(128) }).user).toBe('é'.repeat(128));
    for (const sub of [42, '', null, true, ['ann'], { id: 'ann' }, 'é'.repeat(129), 'a'.repeat(257)]) refuseClaims({ sub });
  });

  it('info is a JSON object of at most 2048 bytes serialized', () => {
    const fits = { t: 'x'.repeat(2048 - '{"t":""}'.length) };
    expect(accept({ info: fits }).info).toEqual(fits);
    for (const info of [[], 'Ann', 42, null, true, { t: 'x'.repeat(2048) }, { t: 'é'.repeat(1100) }]) refuseClaims({ info });
  });

  it('deeply nested info is refused without a stack overflow, however deep', () => {
    const nested = (depth: number): unknown => JSON.parse(`${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`);
    expect(accept({ info: nested(32) }).info).toEqual(nested(32));
    refuseClaims({ info: nested(33) });
    refuseClaims({ info: { list: JSON.parse(`${'['.repeat(2500)}${']'.repeat(2500)}`) as unknown } });
    const payload = `{"exp":${NOW + 60},"info":{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
    refuse(jws('{"alg":"HS256"}', payload, (i) => signature('HS256', i, secret)), 'WS_HS_TOKEN_CLAIMS', KEYS, { maxBytes: 1 << 20 });
  });

  it('topics is an array of at most 100 non-empty strings', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => `t${i}`);
    expect(accept({ topics: hundred }).topics).toEqual(hundred);
    for (const topics of ['news', { news: true }, null, [1], [''], ['news', null], [...hundred, 'one more']]) refuseClaims({ topics });
  });

  it("allow holds exact topics or prefixes ending in '*'", () => {
    expect(accept({ allow: ['room:*', 'news', '*'] }).allow).toEqual(['room:*', 'news', '*']);
    for (const allow of ['room:*', true, [''], [7], ['room:*:x'], ['**'], ['*a'], Array.from({ length: 101 }, (_, i) => `t${i}`)]) refuseClaims({ allow });
  });

  it('publish is true, false, or topics and prefixes as for allow', () => {
    expect(accept({ publish: true }).publish).toBe(true);
    expect(accept({ publish: false }).publish).toBe(false);
    expect(accept({ publish: ['room:*', 'chat'] }).publish).toEqual(['room:*', 'chat']);
    for (const publish of ['yes', 1, null, {}, [1], ['a*b'], Array.from({ length: 101 }, (_, i) => `t${i}`)]) refuseClaims({ publish });
  });

  it('a claim is an own member: "__proto__" in the payload grants nothing', () => {
    const payload = `{"exp":${NOW + 60},"__proto__":{"sub":"admin","publish":true}}`;
    expect(verifyToken(jws('{"alg":"HS256"}', payload, (i) => signature('HS256', i, secret)), KEYS, rules())).toMatchObject({ user: undefined, publish: false });
  });
});

describe('readPublicKeys', () => {
  const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();
  const configError = (pem: string | Buffer, pattern: RegExp): void => {
    expect(() => readPublicKeys(pem, 'jwt.pem')).toThrow(ConfigError);
    expect(() => readPublicKeys(pem, 'jwt.pem')).toThrow(pattern);
  };

  it('reads SPKI keys of each kind, several in one text, from a string or a Buffer', () => {
    const keys = readPublicKeys(Buffer.from(`# the gateway's keys\n${spki(rsa.publicKey)}${spki(ec.publicKey)}\n${spki(ed.publicKey)}`), 'jwt.pem');
    expect(keys.map((k) => k.asymmetricKeyType)).toEqual(['rsa', 'ec', 'ed25519']);
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) expect(verifyToken(jwt(alg), { secrets: [], publicKeys: keys }, rules()).user).toBe('ann');
  });

  it('reads a PKCS #1 "RSA PUBLIC KEY" and the public keys of certificates', () => {
    const [pkcs1] = readPublicKeys(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }), 'rsa.pem');
    expect(pkcs1?.equals(rsa.publicKey)).toBe(true);
    const certKeys = readPublicKeys(readFileSync(new URL('../../../certs/dev-cert.pem', import.meta.url)), 'dev-cert.pem');
    expect(certKeys.length).toBe(2);
    const devKey = readFileSync(new URL('../../../certs/dev-key.pem', import.meta.url), 'utf8');
    expect(verifyToken(jwt('RS256', createPrivateKey(devKey)), { secrets: [], publicKeys: certKeys }, rules()).user).toBe('ann');
  });

  it('refuses private keys, no key, unsupported kinds and bad blocks, naming the source', () => {
    configError(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), /^jwt\.pem: PEM block 1 \(PRIVATE KEY\) is a private key/);
    configError(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }), /jwt\.pem: .*RSA PRIVATE KEY.*private key/);
    configError(`${spki(rsa.publicKey)}${ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString()}`, /jwt\.pem: PEM block 2 .*private key/);
    configError('', /jwt\.pem: no PEM public key/);
    configError('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA user@host', /jwt\.pem: no PEM public key/);
    configError(spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), /jwt\.pem: .*secp384r1; ES256 needs P-256/);
    configError(spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), /jwt\.pem: .*1024 bits; RS256 needs 2048/);
    configError(spki(generateKeyPairSync('ed448').publicKey), /jwt\.pem: .*Ed448/);
    configError(spki(generateKeyPairSync('x25519').publicKey), /jwt\.pem: .*x25519/);
    configError('-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n', /jwt\.pem: PEM block 1 \(PUBLIC KEY\) does not parse/);
    configError('-----BEGIN X509 CRL-----\nbm90IGEga2V5\n-----END X509 CRL-----\n', /jwt\.pem: .*not a public key or a certificate/);
  });
});
