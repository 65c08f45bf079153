// What a topic name may be: a string of well-formed Unicode (it is UTF-8 on
// any wire it crosses: IPC, Redis channel names), non-empty, at most
// maxTopicLength bytes, not starting with U+0000 (the server's own routes:
// a user's connections, a process). Exact names only — no wildcards: a
// wildcard makes every publish match against every pattern, which is what
// made uWebSockets drop them (its TopicTree is exact-match since v19), and a
// per-user or per-room topic covers what they were used for.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws for a name that is not a topic; a programming error, not the peer's. */
export function checkTopic(topic: unknown, maxBytes: number): string {
  if (typeof topic !== 'string') throw new TypeError(`a topic is a string, got ${typeof topic}`);
  if (topic.length === 0) throw new RangeError('a topic name is not empty');
  // Its length first, before any pattern sees it: a UTF-16 unit is 1 to 3 bytes of UTF-8.
  if (topic.length > maxBytes) throw new RangeError(`a topic name is at most ${maxBytes} bytes of UTF-8, got at least ${topic.length}`);
  if (topic.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(topic, 'utf8');
    if (bytes > maxBytes) throw new RangeError(`a topic name is at most ${maxBytes} bytes of UTF-8, got ${bytes}`);
  }
  if (!isWellFormed(topic)) throw new RangeError('a topic name is well-formed Unicode (no lone surrogates)');
  if (isRoute(topic)) throw new RangeError('a topic name does not start with U+0000 (reserved for the server)');
  return topic;
}

/** Whether `text` is well-formed Unicode: no lone surrogate (it then has an exact UTF-8 form). */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** The server's own routes (a user's connections, a process) start with U+0000. */
export function isRoute(topic: string): boolean {
  return topic.charCodeAt(0) === 0;
}
