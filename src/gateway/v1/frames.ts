// wssd.v1's frames as the server writes them (pure): replies, pushes, and a
// publication's envelope, made once per publication and shared by every
// wssd.v1 subscriber (Publication.variant). The protocol is specified in
// docs/reference/client-protocol.md.
import type { PresenceEvent } from '../presence.js';
import { isRoute } from '../../pubsub/topic-name.js';
import { Publication } from '../../pubsub/publication.js';
import type { StreamPosition } from '../../pubsub/history.js';

/** The subprotocol a client offers to speak it. */
export const V1 = 'wssd.v1';

/** The error codes of a reply. */
export const V1Error = {
  BadRequest: 'bad_request',
  UnknownCommand: 'unknown_command',
  PermissionDenied: 'permission_denied',
  LimitExceeded: 'limit_exceeded',
  AlreadySubscribed: 'already_subscribed',
  NotSubscribed: 'not_subscribed',
  NoHistory: 'no_history',
  Unavailable: 'unavailable',
  RpcUnavailable: 'rpc_unavailable',
  TokenInvalid: 'token_invalid',
  Internal: 'internal',
} as const;
export type V1ErrorCode = (typeof V1Error)[keyof typeof V1Error];

/** Application data in a frame: text as `data`, bytes as `data_base64`. */
export function dataField(payload: Buffer, binary: boolean): { data: string } | { data_base64: string } {
  return binary ? { data_base64: payload.toString('base64') } : { data: payload.toString('utf8') };
}

export function replyFrame(id: number, result: unknown): string {
  return JSON.stringify({ id, result });
}

export function errorFrame(id: number | null, code: V1ErrorCode, message: string): string {
  return JSON.stringify({ id, error: { code, message } });
}

/**
 * A publication as a wssd.v1 subscriber gets it: a topic's as a `pub` push
 * with its position, one on a user's route (a send) as a `message` push.
 * Text, framed once for all of them.
 */
export function v1Form(publication: Publication): Publication {
  const data = dataField(publication.payload, publication.binary);
  const body = isRoute(publication.topic)
    ? { push: 'message', ...data }
    : { push: 'pub', topic: publication.topic, ...data, ...(publication.position === undefined ? {} : { offset: publication.position.offset, epoch: publication.position.epoch }) };
  return Publication.fromBytes(publication.topic, Buffer.from(JSON.stringify(body), 'utf8'), false, publication.position);
}

export function messagePush(payload: Buffer, binary: boolean): string {
  return JSON.stringify({ push: 'message', ...dataField(payload, binary) });
}

export function presencePush(topic: string, event: PresenceEvent): string {
  return JSON.stringify({ push: event.type, topic, client: event.client, ...(event.user === undefined ? {} : { user: event.user }), ...(event.info === undefined ? {} : { info: event.info }) });
}

export function subscribedPush(topic: string, position?: StreamPosition): string {
  return JSON.stringify({ push: 'subscribe', topic, ...(position === undefined ? {} : { position }) });
}

export function unsubscribedPush(topic: string): string {
  return JSON.stringify({ push: 'unsubscribe', topic });
}

export function disconnectPush(code: number, reason: string, reconnect: boolean): string {
  return JSON.stringify({ push: 'disconnect', code, reason, reconnect });
}

/** Whether a client should come back after the server closed with `code` (the page's closing codes). */
export function reconnects(code: number): boolean {
  return code !== 4000;
}
