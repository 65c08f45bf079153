// PHP array operations the Gateway performs, and the serialized replies it
// writes to queries (GatewayWorker spec §3.1, §7.2). Pure: the Gateway's maps
// go in, the bytes of `serialize($value)` come out, to be framed with
// encodeQueryReply (gateway-protocol.ts).
//
//   command                           reply                          helper
//   10 GET_ALL_CLIENT_SESSIONS,       [connId => session bytes]      serializeSessions
//   23 GET_CLIENT_SESSIONS_BY_GROUP
//   11 IS_ONLINE, 24 GET_CLIENT_COUNT  i:N;                           serializeInt
//   15 GET_CLIENT_ID_BY_UID           [connId, …]                     serializeIntList
//   16 BATCH_GET_CLIENT_ID_BY_UID     [uid => [connId, …]]            serializeIdsByKey
//   25 SELECT                         [connId => [field => value]]    serializeSelect (rows: selectRows, ext-data.ts)
//   26 GET_GROUP_ID_LIST              [group key, …] (ints for "5")   serializeKeyList
//   28 BATCH_GET_CLIENT_COUNT         [group => count]                serializeCountsByKey
//   203 GET_SESSION_BY_CLIENT_ID      N; | a:0:{} | the session       SERIALIZED_NULL, SERIALIZED_EMPTY_ARRAY
//
// And the one place the Gateway reads a session: 9 UPDATE_SESSION, updateSession.
//
// Keys are PhpKeys (php-value.ts): a uid or group as the Gateway keeps it,
// which serializes as `i:` when PHP would have made it an int key.
import { type DataLimits, isEmptyString, isIntKey, phpArray, phpList, type PhpArray, PhpDataError, type PhpKey, type PhpValue } from './php-value.js';
import { serialize, unserialize } from './php-serialize.js';

/** Deeper than any value unserialize() lets through (64 by default). */
const MAX_MERGE_DEPTH = 512;

/**
 * PHP's `array_replace_recursive($base, $replacement)`: for each entry of the
 * replacement in order, an array meeting an array under the same key is merged
 * into it, anything else takes the key's place (a key already there keeps its
 * position, a new one goes last). Integer keys are matched by key, never
 * appended: ['y' => [1, 2, 3]] ⊕ ['y' => [9]] = ['y' => [9, 2, 3]].
 * Neither input is modified; the result may share untouched sub-arrays with
 * them (values are immutable by convention).
 */
export function arrayReplaceRecursive(base: PhpArray, replacement: PhpArray): PhpArray {
  return replaceInto(base, replacement, 0);
}

function replaceInto(base: PhpArray, replacement: PhpArray, depth: number): PhpArray {
  if (depth >= MAX_MERGE_DEPTH) throw new PhpDataError('PHP_ERR_TOO_DEEP', 0, `arrays nested deeper than ${MAX_MERGE_DEPTH}`);
  const out: PhpArray = new Map(base);
  for (const [key, value] of replacement) {
    const existing = out.get(key);
    out.set(key, value instanceof Map && existing instanceof Map ? replaceInto(existing, value, depth + 1) : value);
  }
  return out;
}

/**
 * CMD_UPDATE_SESSION (§7.2): the session after merging an update into it. An
 * empty stored session ('' or '0') takes the update's bytes as they are;
 * otherwise both are unserialized (bytes after a value ignored, as PHP 8.2
 * does), merged with array_replace_recursive and serialized again. Throws
 * PhpDataError where PHP's Gateway fails (either is not an array, or cannot be
 * read): the answer is to keep the stored session.
 */
export function updateSession(stored: Uint8Array, update: Uint8Array, options?: DataLimits): Buffer {
  if (isEmptyString(stored)) return Buffer.from(update);
  const read = { ...options, allowTrailingBytes: true };
  const base = unserialize(stored, read);
  const replacement = unserialize(update, read);
  if (!(base instanceof Map) || !(replacement instanceof Map)) {
    throw new PhpDataError('PHP_ERR_NOT_ARRAY', 0, 'array_replace_recursive() takes arrays (PHP throws a TypeError)');
  }
  return serialize(arrayReplaceRecursive(base, replacement));
}

/** A key as array_keys() gives it back: an int, or the string's bytes. */
export function keyValue(key: PhpKey): PhpValue {
  return isIntKey(key) ? BigInt(key) : Buffer.from(key, 'latin1');
}

/** `N;`: 203 for a client that is not there. */
export const SERIALIZED_NULL: Buffer = Buffer.from('N;', 'latin1');
/** `a:0:{}`: 203 for a client without a session, and every empty list or map. */
export const SERIALIZED_EMPTY_ARRAY: Buffer = Buffer.from('a:0:{}', 'latin1');

/** `i:N;` (11: `(int)isset(…)`, 24: a count). */
export function serializeInt(n: number | bigint): Buffer {
  return Buffer.from(`i:${BigInt(n)};`, 'latin1');
}

/** A list of ints: `a:2:{i:0;i:1;i:1;i:7;}` (15: `array_keys($uidMap[$uid])`). */
export function serializeIntList(values: Iterable<number | bigint>): Buffer {
  return serialize(phpList(ints(values)));
}

function* ints(values: Iterable<number | bigint>): Generator<bigint> {
  for (const v of values) yield BigInt(v);
}

/**
 * `[connId => session]`, each session a PHP string of the stored bytes, so a
 * serialized session is serialized again: `a:1:{i:1;s:25:"a:1:{s:3:"uid";s:2:"42";}";}`
 * (10, 23; spec §7.3).
 */
export function serializeSessions(entries: Iterable<readonly [number, Uint8Array]>): Buffer {
  const out: PhpArray = new Map();
  for (const [id, session] of entries) out.set(String(id), Buffer.from(session));
  return serialize(out);
}

/** array_keys of a map keyed by uid or group: numeric keys come back as ints (26). */
export function serializeKeyList(keys: Iterable<PhpKey>): Buffer {
  const values: PhpValue[] = [];
  for (const key of keys) values.push(keyValue(key));
  return serialize(phpList(values));
}

/** `[uid => [connId, …]]` (16); a repeated key keeps its first place and its last list. */
export function serializeIdsByKey(entries: Iterable<readonly [PhpKey, Iterable<number | bigint>]>): Buffer {
  const out: PhpArray = new Map();
  for (const [key, ids] of entries) out.set(key, phpList(ints(ids)));
  return serialize(out);
}

/** `[group => count]` (28). */
export function serializeCountsByKey(entries: Iterable<readonly [PhpKey, number | bigint]>): Buffer {
  return serialize(phpArray([...entries].map(([key, n]) => [key, BigInt(n)] as const)));
}

/** `[connId => [field => value]]` (25), rows in the order given. */
export function serializeSelect(rows: Iterable<readonly [number, PhpArray]>): Buffer {
  const out: PhpArray = new Map();
  for (const [id, row] of rows) out.set(String(id), row);
  return serialize(out);
}
