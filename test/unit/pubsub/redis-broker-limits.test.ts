// A publication larger than the server's maxPayload is refused before it is
// sent: Redis's replies are capped just above maxPayload, so one that big
// would come back as a broken reply and cost the connection.
import { describe, expect, it } from 'vitest';
import type { BrokerHost } from '../../../src/pubsub/broker.js';
import { RedisBroker } from '../../../src/pubsub/redis-broker.js';

describe('RedisBroker: the size of a publication', () => {
  it('over maxPayload: refused with a RangeError and told as undelivered (too-large), nothing sent', async () => {
    // Port 1: nothing listens; the refusal comes before any connection is needed.
    const broker = new RedisBroker({ url: 'redis://127.0.0.1:1', maxPayload: 10, minReconnectDelay: 60_000, maxReconnectDelay: 60_000 });
    const causes: string[] = [];
    const host: BrokerHost = {
      deliver: () => {},
      answer: () => undefined,
      undelivered: (_topic, _error, _token, cause) => void causes.push(cause ?? ''),
    };
    broker.start(host);
    await expect(broker.publish('t', Buffer.alloc(11), true)).rejects.toThrow(/publication of 11 bytes is over maxPayload \(10\)/);
    expect(causes).toEqual(['too-large']);
    await broker.close();
  });
});
