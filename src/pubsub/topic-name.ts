// What a topic name may be: a string of well-formed Unicode (it is UTF-8 on
// any wire it crosses: IPC, Redis channel names), non-empty, at most
// maxTopicLength bytes. Exact names only — no wildcards: a wildcard makes
// every publish match against every pattern, which is what made
// uWebSockets drop them (its TopicTree is exact-match since v19), and a
// per-user or per-room topic covers what they were used for.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws for a name that is not a topic; a programming error, not the peer's. */
export function checkTopic(topic: unknown, maxBytes: number): string {
  if (typeof topic !== 'string') throw new TypeError(`a topic is a string, got ${typeof topic}`);
  if (topic.length === 0) throw new RangeError('a topic name is not empty');
  if (LONE_SURROGATE.test(topic)) throw new RangeError('a topic name is well-formed Unicode (no lone surrogates)');
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (topic.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(topic, 'utf8');
    if (bytes > maxBytes) throw new RangeError(`a topic name is at most ${maxBytes} bytes of UTF-8, got ${bytes}`);
  }
  return topic;
}
