// Case 10's requests (bench/api/api-requests.ts): the bodies it POSTs, read by
// the server API's own method table (src/gateway/api/api-methods.ts), so that
// the bench calls the API as it is — each payload arrives as the very bytes
// the subscribers check, as binary — and its pacing and credit.
import { describe, expect, it } from 'vitest';
import { batchBody, callDueMs, laneTopic, mayPublish, publishBody, requestsDue, sendBody, subscriberPath, USER, waitedForPrevious } from '../../../bench/api/api-requests.js';
import { publicationPayload } from '../../../bench/harness/publications.js';
import { call, type ApiBackend } from '../../../src/gateway/api/api-methods.js';
import type { Target } from '../../../src/gateway/fleet.js';
import type { PublishData } from '../../../src/pubsub/publication.js';

/** A backend that records what the API asked of it. */
function recorder(): { backend: ApiBackend; published: { topic: string; data: PublishData; binary: boolean | undefined }[]; sent: { target: Target; data: PublishData; binary: boolean | undefined }[] } {
  const published: { topic: string; data: PublishData; binary: boolean | undefined }[] = [];
  const sent: { target: Target; data: PublishData; binary: boolean | undefined }[] = [];
  const unused = (): never => {
    throw new Error('not used by the bench');
  };
  const backend: ApiBackend = {
    options: { maxTopicLength: 256 },
    publishAcknowledged: async (topic, data, options) => {
      published.push({ topic, data, binary: options?.binary });
      return undefined;
    },
    send: (target, data, options) => {
      sent.push({ target, data, binary: options?.binary });
      return 1;
    },
    subscribe: unused,
    unsubscribe: unused,
    disconnect: unused,
    userConnections: unused,
    totalSubscriberCount: unused,
    presence: unused,
    history: unused,
    nodes: unused,
  };
  return { backend, published, sent };
}

describe('bench case 10: its calls to the server API', () => {
  const payloads = [0, 1, 2].map((seq) => publicationPayload(seq, 32));

  it('POST /api/publish: the payload arrives as its bytes, binary, on the topic', async () => {
    const { backend, published } = recorder();
    await expect(call(backend, 'publish', JSON.parse(publishBody('lane-3', payloads[0])))).resolves.toEqual({ ok: true });
    expect(published).toEqual([{ topic: 'lane-3', data: payloads[0], binary: true }]);
  });

  it('POST /api/send: to every connection of the user, binary', async () => {
    const { backend, sent } = recorder();
    await expect(call(backend, 'send', JSON.parse(sendBody(USER, payloads[1])))).resolves.toEqual({ ok: true });
    expect(sent).toEqual([{ target: { user: '42' }, data: payloads[1], binary: true }]);
  });

  it('POST /api/batch: one publish command per payload, in order', async () => {
    const { backend, published } = recorder();
    const body = JSON.parse(batchBody('lane-0', payloads)) as { commands: { method: string; params: unknown }[] };
    expect(body.commands).toHaveLength(3);
    for (const command of body.commands) await call(backend, command.method, command.params);
    expect(published).toEqual(payloads.map((data) => ({ topic: 'lane-0', data, binary: true })));
  });

  it('subscribers connect on a path naming their topic and user', () => {
    expect(subscriberPath({ topic: laneTopic(7) })).toBe('/?topic=lane-7');
    expect(subscriberPath({ user: USER })).toBe('/?user=42');
    const query = new URLSearchParams(subscriberPath({ topic: 'a b&c', user: 'ü' }).slice(2));
    expect([query.get('topic'), query.get('user')]).toEqual(['a b&c', 'ü']);
  });

  it('paces calls at a fixed rate: what is due since the cell started, never negative', () => {
    expect(requestsDue(1000, 0, 0)).toBe(0);
    expect(requestsDue(1000, 1.5, 0)).toBe(1);
    expect(requestsDue(1000, 10, 4)).toBe(6);
    // Ahead of the schedule (nothing due), or one in flight made it late: it catches up.
    expect(requestsDue(1000, 10, 12)).toBe(0);
    expect(requestsDue(1000, 20, 12)).toBe(8);
  });

  it('a call falls due when the pacing first counts it due', () => {
    expect(callDueMs(1000, 0)).toBe(1);
    expect(callDueMs(1000, 9)).toBe(10);
    for (const rate of [1000, 300, 7]) {
      for (const index of [0, 1, 5, 99]) {
        expect(requestsDue(rate, callDueMs(rate, index) - 1e-6, index)).toBe(0);
        expect(requestsDue(rate, callDueMs(rate, index) + 1e-6, index)).toBe(1);
      }
    }
  });

  it('a call waited for the answer before it only from its due time, or from when that call was made', () => {
    // On schedule: the call before answered in time.
    expect(waitedForPrevious(2, 1, 1.4)).toBe(0);
    // The call before took 20 ms: this one, due at 2, waited 19.
    expect(waitedForPrevious(2, 1, 21)).toBe(19);
    // The client fell 10 ms behind (its timer late): catching up, a call waits only for the answer to the one just made.
    expect(waitedForPrevious(2, 11, 11.4)).toBeCloseTo(0.4);
  });

  it('a lane publishes only while every subscriber is within the window', () => {
    expect(mayPublish(0, 0, 100, 1000)).toBe(true);
    expect(mayPublish(900, 0, 100, 1000)).toBe(true);
    expect(mayPublish(901, 0, 100, 1000)).toBe(false);
    expect(mayPublish(1500, 600, 100, 1000)).toBe(true);
    expect(mayPublish(1000, 0, 1, 1000)).toBe(false);
  });
});
