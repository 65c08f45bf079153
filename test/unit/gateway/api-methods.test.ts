// The server API's table of methods (api-methods.ts) over a backend that
// records what it was asked: what a refused call leaves undone, and which
// failures are the caller's (400) and which the fleet's (503). The routes
// over HTTP are the e2e tier's (gateway-php-api.test.ts).
import { describe, expect, it } from 'vitest';
import { call, type ApiBackend } from '../../../src/gateway/api/api-methods.js';
import { ApiError } from '../../../src/gateway/api/api-errors.js';
import { RedisUnavailableError } from '../../../src/redis/redis-client.js';

function backend(overrides: Partial<ApiBackend> = {}): ApiBackend & { published: string[] } {
  const published: string[] = [];
  const b: ApiBackend & { published: string[] } = {
    published,
    options: { maxTopicLength: 16 },
    publishAcknowledged: async (topic) => {
      published.push(topic);
      return undefined;
    },
    send: () => 1,
    subscribe: () => 1,
    unsubscribe: () => 1,
    disconnect: () => 1,
    userConnections: async () => ({ user: 'u', online: false, connections: [] }),
    totalSubscriberCount: async () => 0,
    presence: async () => ({ members: [], total: 0, next: undefined }),
    history: async () => undefined,
    nodes: async () => [],
  };
  return Object.assign(b, overrides);
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('API methods', () => {
  it('broadcast: one bad topic refuses the whole call with 400, and nothing is published', async () => {
    const b = backend();
    const error = await refusal(call(b, 'broadcast', { topics: ['ok', 'a-topic-longer-than-16-bytes', 'fine'], data: 'x' }));
    expect([error.status, error.code]).toEqual([400, 'API_ERR_BAD_PARAMS']);
    expect(error.message).toMatch(/at most 16 bytes/);
    expect(b.published).toEqual([]);
    await call(b, 'broadcast', { topics: ['ok', 'fine'], data: 'x' });
    expect(b.published).toEqual(['ok', 'fine']);
  });

  it('a question the fleet cannot answer (Redis away or too slow) is 503 with Retry-After, not 500', async () => {
    const down = backend({
      history: async () => {
        throw new RedisUnavailableError('Redis did not answer within 5000 ms');
      },
      presence: async () => {
        throw new Error('Redis did not answer within 1000 ms');
      },
    });
    for (const [method, params] of [
      ['history', { topic: 't' }],
      ['presence', { topic: 't' }],
    ] as const) {
      const error = await refusal(call(down, method, params));
      expect([error.status, error.code, error.headers['Retry-After']]).toEqual([503, 'API_ERR_UNAVAILABLE', '1']);
      expect(error.message).toMatch(/did not answer/);
    }
  });

  it('a bad parameter of a question stays 400', async () => {
    const error = await refusal(call(backend(), 'history', { topic: 't', limit: 0 }));
    expect([error.status, error.code]).toEqual([400, 'API_ERR_BAD_PARAMS']);
  });
});
