// The Redis of cases 9 and 10 (a redis-server from test/helpers/redis-server.ts):
// its version for the tables, and the wait until every node listens on the
// channels a case publishes to — a publication made before a node's
// SUBSCRIBE reached Redis would never reach that node, a gap that fails the run.
import { parseRedisUrl } from '../../src/redis/redis-url.js';
import { RedisClient } from '../../src/redis/redis-client.js';
import { asText } from '../../src/redis/resp.js';
import { settle } from './load-client.js';

/** wssd's default prefix before a topic's channel. */
export const REDIS_PREFIX = 'wssd:';

/** Redis's version, once each of `topics` (or routes) has `nodes` subscribers in Redis (PUBSUB NUMSUB; fails after 10 s). */
export async function redisListening(url: string, topics: readonly string[], nodes: number): Promise<string> {
  const client = new RedisClient({ endpoint: parseRedisUrl(url), name: 'wssd-bench' });
  try {
    await client.connect();
    const info = asText(await client.command(['INFO', 'server']));
    await settle('Redis subscriptions', async () => {
      const reply = await client.command(['PUBSUB', 'NUMSUB', ...topics.map((t) => REDIS_PREFIX + t)]);
      const counts = Array.isArray(reply) ? reply.filter((_, i) => i % 2 === 1).map(Number) : [];
      return counts.length === topics.length && counts.every((c) => c === nodes) ? undefined : `PUBSUB NUMSUB ${JSON.stringify(counts)}, expected ${nodes} nodes on each channel`;
    });
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    await client.close();
  }
}
