// Connection tokens: a JWT (RFC 7519) in the JWS compact serialization
// (RFC 7515 §7.1), signed with an HMAC secret or a public-key algorithm of
// RFC 7518 or RFC 8037, as the identity a gateway gives a connection (the
// role of Centrifugo's connection JWT). Pure: the token and the keys in, the
// claims out or a HandshakeError (401); the clock is the `now` given.
//
// The order is the point. The size is checked before any decoding, the header
// is parsed only to choose the algorithm, and the algorithm is chosen by the
// keys configured, never by the token alone (RFC 8725 §2.1, §3.1): an HS*
// token is checked against the HMAC secrets only, so a public key's bytes can
// never serve as an HMAC secret. Nothing in the payload is read before the
// signature verifies.
import { constants, createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError } from '../config-error.js';
import { handshakeErrors } from '../protocol/errors.js';

/** Keys a token may be signed with. HMAC secrets for HS256/384/512; public keys (RSA, EC P-256, Ed25519) for RS256, ES256, EdDSA. */
export interface TokenKeys {
  secrets: readonly Buffer[];
  publicKeys: readonly KeyObject[];
}

export interface TokenRules {
  /** Seconds since the epoch, now. */
  now: number;
  /** Without exp a token is refused, unless this. */
  allowNoExp: boolean;
  audience?: string;
  issuer?: string;
  /** Longest token accepted, in bytes (default 8192). */
  maxBytes?: number;
}

export interface TokenClaims {
  /** sub: the user (a non-empty string of at most 256 bytes) */
  user: string | undefined;
  exp: number | undefined;
  /** info: a JSON object, at most maxInfoBytes (2048) serialized */
  info: Record<string, unknown> | undefined;
  /** topics the server subscribes the connection to at connect: strings */
  topics: string[];
  /** allow: topics (exact, or a prefix ending in '*', e.g. "room:*") the client may subscribe to itself */
  allow: string[];
  /** publish: true, or topics/prefixes as for allow, the client may publish to */
  publish: boolean | string[];
}

export const defaultMaxTokenBytes = 8192;
export const maxUserBytes = 256;
export const maxInfoBytes = 2048;
/** info is sent on to other clients and backends: its nesting is bounded like its size, and JSON.stringify recurses. */
export const maxInfoDepth = 32;
/** The most entries in topics, allow or publish. */
export const maxTopicEntries = 100;

// ---------------------------------------------------------------------------
// The algorithms (RFC 7518 §3.1, RFC 8037 §3.1): the one table that says which
// keys each may use and how a signature is checked. An alg not in it ("none"
// in any case, RS384, ES512, PS256…) is refused; names are case-sensitive
// (RFC 7515 §4.1.1).

type PublicAlg = 'RS256' | 'ES256' | 'EdDSA';

type Algorithm =
  | { family: 'secret'; verify: (input: Buffer, signature: Buffer, secret: Buffer) => boolean }
  | { family: 'public'; verify: (input: Buffer, signature: Buffer, key: KeyObject) => boolean };

/** RFC 7518 §3.2: the MAC is the whole HMAC output, compared in constant time. */
function hmac(hash: string): Algorithm {
  return {
    family: 'secret',
    verify: (input, signature, secret) => {
      const expected = createHmac(hash, secret).update(input).digest();
      // The length is no secret; timingSafeEqual throws on unequal lengths.
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    },
  };
}

const ALGORITHMS: ReadonlyMap<string, Algorithm> = new Map<string, Algorithm>([
  ['HS256', hmac('sha256')],
  ['HS384', hmac('sha384')],
  ['HS512', hmac('sha512')],
  // RFC 7518 §3.3: RSASSA-PKCS1-v1_5; the signature is exactly as long as the modulus.
  [
    'RS256',
    { family: 'public', verify: (input, signature, key) => signature.length === modulusBytes(key) && verifyWith('sha256', input, signature, { key, padding: constants.RSA_PKCS1_PADDING }) },
  ],
  // RFC 7518 §3.4: R || S, 32 bytes each (IEEE P1363), not the DER of X.509 (a signature of another length is refused).
  ['ES256', { family: 'public', verify: (input, signature, key) => signature.length === 64 && verifyWith('sha256', input, signature, { key, dsaEncoding: 'ieee-p1363' }) }],
  // RFC 8037 §3.1 with Ed25519 (RFC 8032 §5.1.6): 64 bytes, the hash is inside the scheme.
  ['EdDSA', { family: 'public', verify: (input, signature, key) => signature.length === 64 && verifyWith(null, input, signature, { key }) }],
]);

function verifyWith(hash: string | null, input: Buffer, signature: Buffer, key: { key: KeyObject; padding?: number; dsaEncoding?: 'ieee-p1363' }): boolean {
  try {
    return verifySignature(hash, input, key, signature);
  } catch {
    return false; // OpenSSL refusing the signature's form is a failed verification, not an error of ours
  }
}

function modulusBytes(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/**
 * The one algorithm a public key serves (RFC 8725 §3.1: one key, one
 * algorithm), or why it serves none. RFC 7518 §3.3 asks RSA keys of 2048 bits
 * or more; ES256 is P-256 only (§3.4); EdDSA here is Ed25519 only.
 */
function publicKeyAlgorithm(key: KeyObject): { alg: PublicAlg } | { unusable: string } {
  if (key.type !== 'public') return { unusable: `a ${key.type} key, not a public key` };
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (details.modulusLength ?? 0) >= 2048 ? { alg: 'RS256' } : { unusable: `an RSA key of ${details.modulusLength ?? 0} bits; RS256 needs 2048 or more (RFC 7518 §3.3)` };
    case 'ec':
      return details.namedCurve === 'prime256v1' ? { alg: 'ES256' } : { unusable: `an EC key on ${details.namedCurve ?? 'an unnamed curve'}; ES256 needs P-256 (RFC 7518 §3.4)` };
    case 'ed25519':
      return { alg: 'EdDSA' };
    case 'ed448':
      return { unusable: 'an Ed448 key; EdDSA tokens are verified with Ed25519 keys only (RFC 8037)' };
    default:
      return { unusable: `a key of type ${key.asymmetricKeyType ?? 'unknown'}; supported are RSA (RS256), EC P-256 (ES256) and Ed25519 (EdDSA)` };
  }
}

/** An alg fit to quote in a reason: a short name, or nothing of the token. */
function shownAlg(alg: unknown): string {
  if (alg === undefined) return '(missing)';
  return typeof alg === 'string' && /^[A-Za-z0-9+._-]{1,16}$/.test(alg) ? JSON.stringify(alg) : '(unrecognised)';
}

/**
 * The verifier the header's alg asks for, over the configured keys that fit
 * it. No key of that algorithm's kind configured refuses the algorithm itself:
 * that is the confusion of RFC 8725 §2.1 (an HS256 token where public keys are
 * expected), refused before any key is touched.
 */
function verifierFor(alg: unknown, keys: TokenKeys): (input: Buffer, signature: Buffer) => boolean {
  if (typeof alg !== 'string') throw handshakeErrors.tokenAlgorithm(shownAlg(alg), 'a JWS names its algorithm in a string alg (RFC 7515 §4.1.1)');
  if (alg.toLowerCase() === 'none') throw handshakeErrors.tokenAlgorithm(shownAlg(alg), 'unsecured tokens are refused (RFC 7518 §3.6, RFC 8725 §3.1)');
  const algorithm = ALGORITHMS.get(alg);
  if (algorithm === undefined) throw handshakeErrors.tokenAlgorithm(shownAlg(alg), 'not supported (HS256, HS384, HS512, RS256, ES256, EdDSA are)');
  if (algorithm.family === 'secret') {
    // An empty secret would let anyone sign.
    const secrets = keys.secrets.filter((secret) => secret.length > 0);
    if (secrets.length === 0) throw handshakeErrors.tokenAlgorithm(shownAlg(alg), 'no HMAC secret is configured (RFC 8725 §2.1)');
    return (input, signature) => secrets.some((secret) => algorithm.verify(input, signature, secret));
  }
  const fitting = keys.publicKeys.filter((key) => {
    const use = publicKeyAlgorithm(key);
    return 'alg' in use && use.alg === alg;
  });
  if (fitting.length === 0) throw handshakeErrors.tokenAlgorithm(shownAlg(alg), `no public key for ${alg} is configured (RFC 8725 §2.1)`);
  return (input, signature) => fitting.some((key) => algorithm.verify(input, signature, key));
}

// ---------------------------------------------------------------------------
// The compact serialization (RFC 7515 §7.1, §2: base64url without padding).

/** Three parts of the base64url alphabet (RFC 7515 §2): no padding, no '+' or '/', nothing beyond ASCII. */
const COMPACT_ALPHABET = /^[A-Za-z0-9_.-]*$/;

/**
 * A part of a token already known to hold only the base64url alphabet, in
 * its one canonical spelling: re-encoding refuses a length of 4n+1 and set
 * trailing bits ("eQ" and "eR" would both decode to "y"), so a token has one
 * form.
 */
function base64url(part: string, what: string): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw handshakeErrors.tokenMalformed(`${what} is not canonical base64url (RFC 7515 §2)`);
  return bytes;
}

/** Fatal: malformed UTF-8 is refused, not replaced. A BOM is kept, so JSON.parse refuses it (RFC 8259 §8.1). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A part holding a JSON object in UTF-8 (RFC 7515 §5.2 steps 2–3, RFC 7519 §7.2 steps 3–4, 10). */
function jsonObject(part: string, what: string): Record<string, unknown> {
  const bytes = base64url(part, what);
  let value: unknown;
  try {
    // Duplicate member names: JSON.parse keeps the last, as RFC 7515 §5.2 allows.
    value = JSON.parse(UTF8.decode(bytes));
  } catch {
    // TypeError for bad UTF-8, SyntaxError for bad JSON; JSON.parse does not recurse, so nothing else.
    throw handshakeErrors.tokenMalformed(`${what} is not JSON in UTF-8`);
  }
  if (!isObject(value)) throw handshakeErrors.tokenMalformed(`${what} is not a JSON object`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A member of a parsed object, never one inherited from Object.prototype. */
function member(object: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

/** The header parameters a verifier must understand, or refuse. */
function checkHeader(header: Record<string, unknown>): void {
  // RFC 7515 §4.1.11: crit lists extensions the recipient must understand; we understand none.
  if (member(header, 'crit') !== undefined) throw handshakeErrors.tokenMalformed('crit header present; no extension is understood (RFC 7515 §4.1.11)');
  // RFC 7519 §5.1: typ, when present, says JWT; anything else is some other kind of JWS (RFC 8725 §3.11).
  const typ = member(header, 'typ');
  if (typ !== undefined && (typeof typ !== 'string' || typ.toUpperCase() !== 'JWT')) throw handshakeErrors.tokenMalformed('typ is not JWT (RFC 7519 §5.1)');
}

/**
 * Verifies a connection token and returns its claims; throws a HandshakeError
 * (401) for every refusal. RFC 7519 §7.2, in this order: size, three parts,
 * header, algorithm and keys, signature, then the claims.
 */
export function verifyToken(token: string, keys: TokenKeys, rules: TokenRules): TokenClaims {
  const maxBytes = rules.maxBytes ?? defaultMaxTokenBytes;
  // A UTF-16 unit is at least one byte, and a token of more than ASCII is refused next.
  if (token.length > maxBytes) throw handshakeErrors.tokenTooLarge(maxBytes);
  if (!COMPACT_ALPHABET.test(token)) throw handshakeErrors.tokenMalformed('not base64url (RFC 7515 §2): padding, + or / or another character');
  const parts = token.split('.');
  if (parts.length !== 3) throw handshakeErrors.tokenMalformed('not three base64url parts separated by dots (RFC 7515 §7.1)');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];

  const header = jsonObject(encodedHeader, 'header');
  checkHeader(header);
  const verify = verifierFor(member(header, 'alg'), keys);
  const signature = base64url(encodedSignature, 'signature');
  // RFC 7515 §5.2 step 8: the signing input is the ASCII of the two parts as they came.
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
  if (!verify(signingInput, signature)) throw handshakeErrors.tokenSignature();

  return readClaims(jsonObject(encodedPayload, 'payload'), rules);
}

// ---------------------------------------------------------------------------
// The claims (RFC 7519 §4.1), read only from a payload whose signature verified.

/** A NumericDate claim (RFC 7519 §2): a JSON number, fractions allowed. */
function numericDate(payload: Record<string, unknown>, name: 'exp' | 'nbf'): number | undefined {
  const value = member(payload, name);
  if (value !== undefined && typeof value !== 'number') throw handshakeErrors.tokenClaims(`${name} is not a NumericDate (RFC 7519 §2)`);
  return value;
}

function readClaims(payload: Record<string, unknown>, rules: TokenRules): TokenClaims {
  // No leeway: the clocks of a backend and its gateway are expected to agree,
  // and a token minted for a connection is used at once.
  const exp = numericDate(payload, 'exp');
  if (exp === undefined) {
    if (!rules.allowNoExp) throw handshakeErrors.tokenMissingExp();
  } else if (exp <= rules.now) throw handshakeErrors.tokenExpired(); // §4.1.4: "on or after" exp it is refused
  const nbf = numericDate(payload, 'nbf');
  if (nbf !== undefined && nbf > rules.now) throw handshakeErrors.tokenNotYetValid(); // §4.1.5: valid from nbf on

  // §4.1.1: case-sensitive comparison. Checked only when configured.
  if (rules.issuer !== undefined && member(payload, 'iss') !== rules.issuer) throw handshakeErrors.tokenIssuer();
  // §4.1.3: a string or an array of strings naming the recipient. Like jsonwebtoken, jose and
  // Centrifugo, an aud is not checked when no audience is configured.
  if (rules.audience !== undefined && !namesAudience(member(payload, 'aud'), rules.audience)) throw handshakeErrors.tokenAudience();

  return { ...readGatewayClaims(payload, 'sub'), exp };
}

/**
 * The gateway's claims of an object, shapes checked: a token's payload (the
 * user in sub) or the connect proxy's answer (in user). Throws tokenClaims.
 */
export function readGatewayClaims(object: Record<string, unknown>, userField: 'sub' | 'user'): Omit<TokenClaims, 'exp'> {
  return {
    user: readUser(member(object, userField)),
    info: readInfo(member(object, 'info')),
    topics: topicList(member(object, 'topics'), 'topics', false),
    allow: topicList(member(object, 'allow'), 'allow', true),
    publish: readPublish(member(object, 'publish')),
  };
}

function namesAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

/** sub (RFC 7519 §4.1.2): absent for an anonymous connection, else a user id of at most 256 bytes. */
function readUser(sub: unknown): string | undefined {
  if (sub === undefined) return undefined;
  if (typeof sub !== 'string' || sub.length === 0) throw handshakeErrors.tokenClaims('sub is not a non-empty string (RFC 7519 §4.1.2)');
  if (Buffer.byteLength(sub, 'utf8') > maxUserBytes) throw handshakeErrors.tokenClaims(`sub is longer than ${maxUserBytes} bytes`);
  return sub;
}

function readInfo(info: unknown): Record<string, unknown> | undefined {
  if (info === undefined) return undefined;
  if (!isObject(info)) throw handshakeErrors.tokenClaims('info is not a JSON object');
  // The depth first: it bounds the recursion of the walk and of JSON.stringify.
  if (nestsDeeper(info, maxInfoDepth)) throw handshakeErrors.tokenClaims(`info nests deeper than ${maxInfoDepth} levels`);
  if (Buffer.byteLength(JSON.stringify(info), 'utf8') > maxInfoBytes) throw handshakeErrors.tokenClaims(`info is over ${maxInfoBytes} bytes serialized`);
  return info;
}

/** Whether a parsed JSON value has containers nested more than `levels` deep; stops as soon as it does. */
function nestsDeeper(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  return Object.values(value).some((inner) => nestsDeeper(inner, levels - 1));
}

/**
 * topics (exact names), allow and publish (exact names, or a prefix ending in
 * '*'): an array of at most 100 non-empty strings. A '*' elsewhere than at the
 * end of a pattern is refused rather than read as a literal, so that a
 * pattern means one thing.
 */
function topicList(value: unknown, claim: string, patterns: boolean): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw handshakeErrors.tokenClaims(`${claim} is not an array`);
  if (value.length > maxTopicEntries) throw handshakeErrors.tokenClaims(`${claim} has more than ${maxTopicEntries} entries`);
  const list: string[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== 'string' || entry.length === 0) throw handshakeErrors.tokenClaims(`${claim} holds an entry that is not a non-empty string`);
    if (patterns && entry.indexOf('*') !== -1 && entry.indexOf('*') !== entry.length - 1) {
      throw handshakeErrors.tokenClaims(`${claim} holds a pattern with '*' other than at its end`);
    }
    list.push(entry);
  }
  return list;
}

function readPublish(value: unknown): boolean | string[] {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (!Array.isArray(value)) throw handshakeErrors.tokenClaims('publish is neither true, false nor an array of topics');
  return topicList(value, 'publish', true);
}

// ---------------------------------------------------------------------------
// Public keys from PEM, for the configuration (a ConfigError names the source).

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Every public key in a PEM text: SPKI ("PUBLIC KEY"), PKCS #1 ("RSA PUBLIC
 * KEY"), or a certificate's key (its dates and chain are not checked: the
 * certificate is only a container here). A private key is refused rather
 * than reduced to its public half: it does not belong on a verifier.
 */
export function readPublicKeys(pem: string | Buffer, source: string): KeyObject[] {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const keys = [...text.matchAll(PEM_BLOCK)].map((match, i) => {
    const where = `${source}: PEM block ${i + 1} (${match[1]})`;
    const key = publicKeyOf(match[0], match[1], where);
    const use = publicKeyAlgorithm(key);
    if ('unusable' in use) throw new ConfigError(`${where} is ${use.unusable}`);
    return key;
  });
  if (keys.length === 0) throw new ConfigError(`${source}: no PEM public key found (expected -----BEGIN PUBLIC KEY-----)`);
  return keys;
}

function publicKeyOf(block: string, label: string, where: string): KeyObject {
  if (label.endsWith('PRIVATE KEY')) throw new ConfigError(`${where} is a private key; give its public key (openssl pkey -pubout)`);
  try {
    if (label === 'PUBLIC KEY' || label === 'RSA PUBLIC KEY') return createPublicKey(block);
    if (label === 'CERTIFICATE') return new X509Certificate(block).publicKey;
  } catch (error) {
    throw new ConfigError(`${where} does not parse: ${(error as Error).message}`, { cause: error });
  }
  throw new ConfigError(`${where} is not a public key or a certificate`);
}
