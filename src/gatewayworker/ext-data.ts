// What the JSON in a command's ext_data means to the Gateway (GatewayWorker
// spec §2.5, §3.1), read with PHP's semantics so that every input, not only
// what GatewayClient writes, reaches the clients PHP's Gateway would reach:
//
//   6  SEND_TO_ALL   sendToAllTargets → { connections } (the VALUES of
//                    `connections`, in order, repeats kept) or { exclude }
//                    (every client but the KEYS of `exclude`)
//   22 SEND_TO_GROUP sendToGroupTargets → the VALUES of `group`, and `exclude` by KEY
//   14 SEND_TO_UID, 16 BATCH_GET_CLIENT_ID_BY_UID, 28 BATCH_GET_CLIENT_COUNT_BY_GROUP
//                    listKeys → the VALUES of the list (or object), in order, repeats kept
//   25 SELECT        selectQuery → fields and conditions; selectRows runs them
//                    over the Gateway's state and gives the rows serializeSelect writes
//
// Values become keys as PHP indexes with them (phpKey: "5", 5 and 5.7 are the
// key 5). A connection id is an int key in 1…2^32−1; a value that cannot be
// one is dropped (PHP's lookup would miss). A list given where PHP reads keys
// (`"exclude":[5,7]`) excludes connections 0 and 1, as in PHP; a string there
// excludes the ids below its length (PHP's string offsets).
//
// Malformed JSON is PHP's null (json_decode's answer): SEND_TO_ALL then goes to
// every client, the others to nobody, SELECT answers `a:0:{}`. Two things are
// refused with a PhpDataError, and the command should then be dropped whole:
// - where PHP throws (an array used as a key: PHP_ERR_ILLEGAL_OFFSET; a string
//   where an object should be: `"x"['group']`). PHP's Gateway process would
//   die of it, after acting on the values before the bad one; nothing is done here.
// - JSON past our bounds (PhpDataError.limit): size, depth, element count.
//
// SELECT fields other than uid, groups and session read null (PHP would read
// any property of its connection object, e.g. `id`); GatewayClient and the
// BusinessWorker's Lib ask for those three only.
import { jsonDecode, JsonDecodeOptions } from './json-php.js';
import { isIntKey, phpKey, PhpArray, PhpDataError, PhpKey, PhpValue } from './php-value.js';

/** Connections a command leaves out: PHP's `isset($exclude[$connectionId])`. */
export class ConnectionFilter {
  static readonly none = new ConnectionFilter(new Set(), 0);

  private constructor(
    private readonly ids: ReadonlySet<number>,
    /** A string excludes every id below its length. */
    private readonly below: number,
  ) {}

  /** The filter a decoded `exclude` value makes. */
  static of(exclude: PhpValue): ConnectionFilter {
    if (exclude instanceof Map) {
      const ids = new Set<number>();
      for (const key of exclude.keys()) {
        const id = connectionIdOfKey(key);
        if (id !== undefined) ids.add(id);
      }
      return ids.size === 0 ? ConnectionFilter.none : new ConnectionFilter(ids, 0);
    }
    if (Buffer.isBuffer(exclude) && exclude.length > 1) return new ConnectionFilter(new Set(), exclude.length);
    return ConnectionFilter.none;
  }

  has(connectionId: number): boolean {
    return connectionId < this.below || this.ids.has(connectionId);
  }
}

export type SendToAllTargets = { readonly connections: readonly number[] } | { readonly exclude: ConnectionFilter };

/** 6 SEND_TO_ALL: `$ext ? json_decode($ext, true) : ''`, then `connections` by value or `exclude` by key. */
export function sendToAllTargets(extData: Uint8Array, options?: JsonDecodeOptions): SendToAllTargets {
  // '' and '0' are falsy: no JSON is read, every client gets the message.
  if (extData.length === 0 || (extData.length === 1 && extData[0] === 0x30)) return { exclude: ConnectionFilter.none };
  const ext = decodeOrNull(extData, options);
  if (!(ext instanceof Map)) return { exclude: ConnectionFilter.none };
  const connections = ext.get('connections');
  if (connections !== undefined && connections !== null) {
    const ids: number[] = [];
    for (const value of valuesOf(connections)) {
      const id = connectionIdOfKey(keyOf(value));
      if (id !== undefined) ids.push(id);
    }
    return { connections: ids };
  }
  return { exclude: ConnectionFilter.of(ext.get('exclude') ?? null) };
}

/** 22 SEND_TO_GROUP: the groups (values of `group`), and `exclude` (by key). */
export function sendToGroupTargets(extData: Uint8Array, options?: JsonDecodeOptions): { groups: PhpKey[]; exclude: ConnectionFilter } {
  const ext = decodeOrNull(extData, options);
  const group = offset(ext, 'group');
  const exclude = offset(ext, 'exclude');
  return { groups: [...valuesOf(group)].map(keyOf), exclude: ConnectionFilter.of(exclude) };
}

/** 14, 16, 28: the values of a JSON list (or object) as keys, in order, repeats kept; [] when it is neither. */
export function listKeys(extData: Uint8Array, options?: JsonDecodeOptions): PhpKey[] {
  return [...valuesOf(decodeOrNull(extData, options))].map(keyOf);
}

export type SelectProperty = 'uid' | 'groups' | 'session';

export interface SelectField {
  /** The row's key for it; undefined for an array, which PHP throws on when it builds a row (selectRows does too). */
  readonly key: PhpKey | undefined;
  /** What it reads; undefined reads null. */
  readonly property: SelectProperty | undefined;
}

export type SelectCondition =
  | { readonly by: 'groups' | 'uid'; readonly keys: readonly PhpKey[] }
  | { readonly by: 'connection_id'; readonly ids: readonly number[] };

export interface SelectQuery {
  readonly fields: readonly SelectField[];
  /** undefined: every client. Otherwise the union of the conditions, rows in order of first match. */
  readonly where: readonly SelectCondition[] | undefined;
}

const PROPERTIES: ReadonlySet<string> = new Set(['uid', 'groups', 'session']);

/** 25 SELECT's `{"fields":[…],"where":{…}}`. */
export function selectQuery(extData: Uint8Array, options?: JsonDecodeOptions): SelectQuery {
  const ext = decodeOrNull(extData, options);
  if (!isTruthy(ext)) return { fields: [], where: [] };
  const fields = [...valuesOf(offset(ext, 'fields'))].map((value): SelectField => {
    const key = phpKey(value);
    return { key, property: Buffer.isBuffer(value) && key !== undefined && PROPERTIES.has(key) ? (key as SelectProperty) : undefined };
  });
  const where = offset(ext, 'where');
  if (!isTruthy(where)) return { fields, where: undefined };
  const conditions: SelectCondition[] = [];
  if (where instanceof Map) {
    for (const [by, items] of where) {
      if (!(items instanceof Map)) continue;
      if (by === 'connection_id') {
        const ids: number[] = [];
        for (const item of items.values()) {
          const id = connectionIdOfKey(keyOf(item));
          if (id !== undefined) ids.push(id);
        }
        conditions.push({ by, ids });
      } else if (by === 'groups' || by === 'uid') {
        conditions.push({ by, keys: [...items.values()].map(keyOf) });
      }
      // Any other key looks in PHP's null: it matches nothing and throws on nothing.
    }
  }
  return { fields, where: conditions };
}

/** The Gateway's state as SELECT sees it. */
export interface SelectView {
  /** Every client's connection id, in the order they connected. */
  clients(): Iterable<number>;
  has(connectionId: number): boolean;
  /** The members of a group or uid, in the order they joined; undefined when there is none. */
  members(by: 'groups' | 'uid', key: PhpKey): Iterable<number> | undefined;
  /** uid: a string or null; groups: an array (group key → group) or null before any join; session: a string. */
  property(connectionId: number, name: SelectProperty): PhpValue;
}

/**
 * The rows of a SELECT, `[connId => [field => value]]`, in PHP's order (spec
 * §3.1/25). Throws PHP_ERR_ILLEGAL_OFFSET when a row is due and a field is an array.
 */
export function selectRows(query: SelectQuery, view: SelectView): Map<number, PhpArray> {
  const rows = new Map<number, PhpArray>();
  const row = (id: number): PhpArray => {
    const out: PhpArray = new Map();
    for (const field of query.fields) out.set(keyOfField(field), field.property === undefined ? null : view.property(id, field.property));
    return out;
  };
  if (query.where === undefined) {
    // No row at all for a client when there is no field (PHP creates the row on the first field).
    if (query.fields.length > 0) for (const id of view.clients()) rows.set(id, row(id));
    return rows;
  }
  for (const condition of query.where) {
    if (condition.by === 'connection_id') {
      // Rebuilt on every match, keeping its first place.
      for (const id of condition.ids) if (view.has(id)) rows.set(id, row(id));
      continue;
    }
    for (const key of condition.keys) {
      for (const id of view.members(condition.by, key) ?? []) if (!rows.has(id)) rows.set(id, row(id));
    }
  }
  return rows;
}

/** json_decode's null for input PHP cannot read; our bounds still refuse. */
function decodeOrNull(extData: Uint8Array, options: JsonDecodeOptions | undefined): PhpValue {
  try {
    return jsonDecode(extData, options);
  } catch (error) {
    if (error instanceof PhpDataError && !error.limit) return null;
    throw error;
  }
}

/** `$value[$name]` for a name that is not numeric: null off an array or a scalar, PHP's TypeError off a string. */
function offset(value: PhpValue, name: PhpKey): PhpValue {
  if (value instanceof Map) return value.get(name) ?? null;
  if (Buffer.isBuffer(value)) throw new PhpDataError('PHP_ERR_ILLEGAL_OFFSET', 0, `cannot read ['${name}'] of a string`);
  return null;
}

/** What `foreach ($value as $v)` visits: an array's values; nothing for anything else (PHP warns). */
function valuesOf(value: PhpValue): Iterable<PhpValue> {
  return value instanceof Map ? value.values() : [];
}

function keyOf(value: PhpValue): PhpKey {
  const key = phpKey(value);
  if (key === undefined) throw new PhpDataError('PHP_ERR_ILLEGAL_OFFSET', 0, 'an array used as a key');
  return key;
}

function keyOfField(field: SelectField): PhpKey {
  if (field.key === undefined) throw new PhpDataError('PHP_ERR_ILLEGAL_OFFSET', 0, 'an array used as a field');
  return field.key;
}

function connectionIdOfKey(key: PhpKey): number | undefined {
  if (!isIntKey(key) || key.length > 10) return undefined;
  const n = Number(key);
  return n >= 1 && n <= 0xffffffff ? n : undefined;
}

/** PHP's truthiness (§12.4): null, false, 0, 0.0, '', '0' and [] are false; NAN is true. */
export function isTruthy(value: PhpValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'number') return value !== 0;
  if (Buffer.isBuffer(value)) return !(value.length === 0 || (value.length === 1 && value[0] === 0x30));
  if (value instanceof Map) return value.size > 0;
  return true;
}
