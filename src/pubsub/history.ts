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

/** Where a publication stands in its topic's history. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** What a replay from a position found. */
export interface HistoryReplay {
  /** The publications after the position, in order: [offset, message bytes]. */
  entries: [offset: number, message: Buffer][];
  /** The topic's position now (its last offset, its epoch). */
  position: StreamPosition;
  /** False when the history could not bridge the gap: another epoch, or trimmed past the position. */
  recovered: boolean;
  /** Why not, when not recovered. */
  reason?: 'epoch' | 'trimmed';
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
 * KEYS: meta hash, stream. ARGV: the offset after which to read, the most
 * entries to return. Returns {epoch or false, last offset, entries}, all read
 * at one instant.
 */
export const READ_HISTORY = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local last = redis.call('HGET', KEYS[1], 'offset')
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
return {epoch or false, last or '0', entries}
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

/** Judges a replay: what the reader had (`since`) against what Redis holds now. */
export function judgeReplay(since: StreamPosition, epoch: string | undefined, last: number, entries: [number, Buffer][]): HistoryReplay {
  const position: StreamPosition = { offset: last, epoch: epoch ?? '' };
  if (epoch === undefined) {
    // No history at all: nothing was published since it was lost, or ever. Only a reader at 0 of no epoch is up to date.
    const recovered = since.offset === 0 && since.epoch === '';
    return recovered ? { entries: [], position, recovered } : { entries: [], position, recovered, reason: 'epoch' };
  }
  if (since.epoch !== '' && since.epoch !== epoch) return { entries, position, recovered: false, reason: 'epoch' };
  const first = entries[0]?.[0];
  // Entries must start right after the position; otherwise the stream was trimmed past it.
  const gap = first !== undefined ? first > since.offset + 1 : last > since.offset;
  if (gap) return { entries, position, recovered: false, reason: 'trimmed' };
  return { entries, position, recovered: true };
}
