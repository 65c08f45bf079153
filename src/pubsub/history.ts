// History for topics in Redis, so that nothing is lost silently: every
// publication of a topic with history gets the next offset of that topic and
// the topic's epoch, atomically with its place in a Stream trimmed to
// historySize entries and its PUBLISH (one Lua script, as Centrifugo does).
// A node or a client that knows the last position it saw can then ask for
// what came after it; the epoch changes when the history is lost (Redis
// restarted empty, the keys expired), which makes a stale offset detectable
// instead of silently wrong.
//
// Keys, for a topic T under prefix P (keys and channels are separate
// namespaces in Redis, so the channel P+T cannot collide with them):
//   P + "meta:" + T    hash {epoch, offset}
//   P + "stream:" + T  stream, entry ids "<offset>-0", field m = the message
//   P + "pub:" + node + ":" + n   a publication's id, for 10 minutes (idempotence)
import { asText, type RespValue } from '../redis/resp.js';

/** Where a publication stands in its topic's history. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** One page of what was published after a position. */
export interface HistoryPage {
  /** Publications after the position, in order: [offset, message bytes]; at most the page's limit, and a byte budget. */
  entries: [offset: number, message: Buffer][];
  /** The topic's position when the page was read (its last offset, its epoch). */
  position: StreamPosition;
  /**
   * False when the history cannot bridge the gap from the position: another
   * epoch (the entries then start at the new epoch's oldest), or trimmed past
   * it (the entries start at the oldest kept).
   */
  recovered: boolean;
  /** Why not, when not recovered. */
  reason?: 'epoch' | 'trimmed';
  /** Nothing after the last entry: the reader has caught up with `position`. */
  complete: boolean;
}

/**
 * KEYS: meta hash, stream, this publication's id. ARGV: channel, message,
 * candidate epoch, history size, ttl seconds (0: none). Returns {offset,
 * epoch}; PUBLISHes the message prefixed with "offset:epoch:" so every node
 * learns its position. The id makes it idempotent: a publication sent again
 * after a lost connection (its first attempt may have run) runs once.
 */
export const PUBLISH_WITH_HISTORY = `
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', 600) then
  return {0, ''}
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], offset .. '-0', 'm', ARGV[2])
if tonumber(ARGV[5]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
redis.call('PUBLISH', ARGV[1], offset .. ':' .. epoch .. ':' .. ARGV[2])
return {offset, epoch}
`;

/**
 * KEYS: meta hash, stream. ARGV: the reader's epoch, the offset after which
 * it wants to read, the most entries, a byte budget. When the reader's epoch
 * is not the topic's (a new epoch, or a reader that names none), it reads
 * from the start of the current one. Returns {epoch or false, last offset,
 * the offset read after, entries}, all read at one instant; the entries stop
 * before the one that would pass the budget (at least one is returned).
 */
export const READ_HISTORY = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local last = redis.call('HGET', KEYS[1], 'offset')
local after = 0
if epoch and epoch == ARGV[1] then after = tonumber(ARGV[2]) end
-- A limit of 0 asks where the topic stands: no XRANGE (COUNT 0 answers nil on some Redis versions).
local entries = {}
if tonumber(ARGV[3]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], '(' .. after .. '-0', '+', 'COUNT', ARGV[3]) or {}
end
local budget = tonumber(ARGV[4])
local out = {}
local size = 0
for i, entry in ipairs(entries) do
  local fields = entry[2]
  local n = 0
  for j = 2, #fields, 2 do n = n + #fields[j] end
  if i > 1 and size + n > budget then break end
  size = size + n
  out[i] = entry
end
return {epoch or false, last or '0', after, out}
`;

export function metaKey(prefix: string, topic: string): string {
  return `${prefix}meta:${topic}`;
}

export function streamKey(prefix: string, topic: string): string {
  return `${prefix}stream:${topic}`;
}

/** A publication's id, unique per node and sequence number: kept 10 minutes to refuse a second run. */
export function publicationKey(prefix: string, node: string, sequence: number): string {
  return `${prefix}pub:${node}:${sequence}`;
}

/** Splits "offset:epoch:rest" (a positioned pub/sub message); undefined if it is not one. */
export function splitPositioned(data: Buffer): { position: StreamPosition; rest: Buffer } | undefined {
  const first = data.indexOf(0x3a);
  if (first <= 0 || first > 20) return undefined;
  const second = data.indexOf(0x3a, first + 1);
  if (second <= first + 1 || second - first > 64) return undefined;
  const offset = Number(data.toString('latin1', 0, first));
  if (!Number.isSafeInteger(offset) || offset < 1) return undefined;
  return { position: { offset, epoch: data.toString('latin1', first + 1, second) }, rest: data.subarray(second + 1) };
}

/**
 * Judges a page read from `since`: `epoch` and `last` are the topic's now
 * (epoch undefined: no history at all), `after` the offset the script read
 * after. An epoch the reader does not share is never a match, and a reader
 * that names no epoch is up to date only at offset 0 ("from the start").
 */
export function judgePage(since: StreamPosition, epoch: string | undefined, last: number, after: number, entries: [number, Buffer][]): HistoryPage {
  const position: StreamPosition = { offset: last, epoch: epoch ?? '' };
  const fromStart = since.epoch === '' && since.offset === 0;
  if (epoch === undefined) {
    // Nothing in history: nothing was published since it was lost, or ever. Only a reader from the start is up to date.
    return fromStart ? { entries: [], position, recovered: true, complete: true } : { entries: [], position, recovered: false, reason: 'epoch', complete: true };
  }
  const tail = entries[entries.length - 1]?.[0];
  const complete = tail === undefined ? true : tail >= last;
  if (since.epoch !== epoch && !fromStart) return { entries, position, recovered: false, reason: 'epoch', complete };
  const first = entries[0]?.[0];
  // Entries must start right after the offset read from; otherwise the stream was trimmed past it.
  const gap = first !== undefined ? first > after + 1 : last > after;
  return gap ? { entries, position, recovered: false, reason: 'trimmed', complete } : { entries, position, recovered: true, complete };
}

/** A topic's meta hash (HMGET epoch offset) as a position: {0, ''} before its first publication. */
export function metaPosition(reply: RespValue): StreamPosition {
  const [epoch, offset] = Array.isArray(reply) ? reply : [];
  return epoch === null || epoch === undefined || epoch === false ? { offset: 0, epoch: '' } : { offset: Number(asText(offset ?? '0')), epoch: asText(epoch) };
}

/** The history script's reply as a page judged against `since`. */
export function readPage(since: StreamPosition, reply: RespValue): HistoryPage {
  if (!Array.isArray(reply) || reply.length !== 4) throw new Error('unexpected reply to the history read');
  const [epoch, last, after, rawEntries] = reply;
  const entries: [number, Buffer][] = [];
  if (Array.isArray(rawEntries)) {
    for (const entry of rawEntries) {
      if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) continue;
      const offset = Number(asText(entry[0]).split('-')[0]);
      const fields = entry[1];
      const at = fields.findIndex((f, i) => i % 2 === 0 && asText(f) === 'm');
      const message = at >= 0 ? fields[at + 1] : undefined;
      if (Number.isSafeInteger(offset) && Buffer.isBuffer(message)) entries.push([offset, message]);
    }
  }
  const epochText = epoch === false || epoch === null ? undefined : asText(epoch);
  return judgePage(since, epochText, Number(asText(last)), Number(asText(after)), entries);
}
