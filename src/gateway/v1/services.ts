// What a server gives every wssd.v1 session: the rules for what clients may
// do, and the server's own verbs (publish, presence, history, rpc through
// the application or the message proxy, token verification).
import type { Clock } from '../../io/clock.js';
import type { V1Settings } from '../settings.js';
import type { PubSub, Subscriber } from '../../pubsub/pubsub.js';
import type { Fleet, FleetMember } from '../fleet.js';
import type { Gateway } from '../gateway.js';
import type { ProxyAnswer } from '../message-proxy.js';
import { prefixPatterns } from './permissions.js';
import type { V1Connection, V1Services } from './session.js';

/** Commands of one connection waiting for their reply, at most. */
export const MAX_PENDING = 64;
/** Topics every client may use while the test page is on: its console's. */
export const DEMO_PREFIX = 'demo:';

export function v1Services<M extends FleetMember & Subscriber>(o: V1Settings, pubsub: PubSub<M>, fleet: Fleet<M>, gateway: Gateway, clock: Clock): V1Services {
  const demo = o.demoPage ? [DEMO_PREFIX] : [];
  const onRpc = o.onRpc;
  const messages = gateway.messages;
  return {
    rules: { subscribe: prefixPatterns([...(o.clientSubscribePrefix ?? []), ...demo]), publish: prefixPatterns([...(o.clientPublishPrefix ?? []), ...demo]) },
    subscribeProxy: gateway.subscribeProxy,
    publish: (topic, data, binary) => pubsub.publishAcknowledged(topic, data, { binary }),
    hasHistory: (topic) => pubsub.hasHistory(topic),
    presence: (topic, options) => fleet.presence(topic, options),
    history: async (topic, since, limit) => {
      const read = await pubsub.history(topic, since, limit);
      if (read === undefined) return undefined;
      return { ...read, publications: read.publications.map((p) => ({ offset: p.position?.offset ?? 0, payload: p.payload, binary: p.binary })) };
    },
    rpc: (connection, data, binary) => {
      if (onRpc !== undefined) return Promise.resolve(onRpc(connection, data, binary)).then(asAnswer);
      if (messages === undefined) return undefined;
      const client = connection as V1Connection & { pause(): void; resume(): void };
      return new Promise<ProxyAnswer>((resolve) => messages.forward(client, data, binary, resolve));
    },
    verifyToken: (token) => gateway.identifier.verify(token),
    maxPending: MAX_PENDING,
    clock,
  };
}

/** What an application's rpc handler returned, as bytes to send back. */
function asAnswer(value: unknown): ProxyAnswer {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return { data: Buffer.from(value, 'utf8'), binary: false };
  if (value instanceof Uint8Array) return { data: Buffer.from(value.buffer, value.byteOffset, value.byteLength), binary: true };
  return { data: Buffer.from(JSON.stringify(value), 'utf8'), binary: false };
}
