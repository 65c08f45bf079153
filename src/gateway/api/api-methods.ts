// The server API as one table of methods over one dispatcher (the way
// Centrifugo's api.go is): each method checks its params and calls the
// server's fleet-wide verbs. The HTTP routes (api-server.ts) and /api/batch
// both come here, so a verb behaves the same however it is asked.
import type { PublishData } from '../../pubsub/publication.js';
import type { HistoryRead } from '../../pubsub/pubsub.js';
import type { StreamPosition } from '../../pubsub/history.js';
import { checkTopic } from '../../pubsub/topic-name.js';
import { CLIENT_ID } from '../client-ids.js';
import type { NodeInfo, PresencePage, Target } from '../fleet.js';
import { ApiError, apiErrors } from './api-errors.js';

/** What the API drives: the server's verbs (WebSocketServer has them all). */
export interface ApiBackend {
  publishAcknowledged(topic: string, data: PublishData, options?: { binary?: boolean }): Promise<StreamPosition | undefined>;
  send(target: Target, data: PublishData, options?: { binary?: boolean }): number;
  subscribe(target: Target, topic: string): number;
  unsubscribe(target: Target, topic: string): number;
  disconnect(target: Target, code?: number, reason?: string): number;
  userConnections(user: string): Promise<{ online: boolean; connections: { client: string; node: string }[] }>;
  totalSubscriberCount(topic: string): Promise<number>;
  presence(topic: string, options?: { after?: string; limit?: number }): Promise<PresencePage>;
  history(topic: string, since?: StreamPosition, limit?: number): Promise<HistoryRead | undefined>;
  nodes(): Promise<NodeInfo[]>;
  readonly options: { readonly maxTopicLength: number };
}

export type Params = Record<string, unknown>;
type Method = (backend: ApiBackend, params: Params) => Promise<unknown>;

/** Most commands in one /api/batch. */
export const MAX_BATCH = 1000;
/** Most topics in one broadcast. */
const MAX_TOPICS = 1000;

export const methods: Readonly<Record<string, Method>> = {
  async publish(backend, params) {
    const { data, binary } = payload(params);
    return positioned(await acknowledged(backend.publishAcknowledged(topic(params), data, { binary })));
  },
  async broadcast(backend, params) {
    const topics = params.topics;
    if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS || !topics.every((t) => typeof t === 'string')) {
      throw apiErrors.badParams(`topics must be an array of 1 to ${MAX_TOPICS} topic names`);
    }
    const { data, binary } = payload(params);
    // Every name checked before any is published: a bad one refuses the whole broadcast.
    for (const t of topics as string[]) checked(() => checkTopic(t, backend.options.maxTopicLength));
    const results = await Promise.all((topics as string[]).map(async (t) => ({ topic: t, ...positioned(await acknowledged(checked(() => backend.publishAcknowledged(t, data, { binary })))) })));
    return { ok: true, results };
  },
  async send(backend, params) {
    const { data, binary } = payload(params);
    checked(() => backend.send(target(params), data, { binary }));
    return { ok: true };
  },
  async subscribe(backend, params) {
    checked(() => backend.subscribe(target(params), topic(params)));
    return { ok: true };
  },
  async unsubscribe(backend, params) {
    checked(() => backend.unsubscribe(target(params), topic(params)));
    return { ok: true };
  },
  async disconnect(backend, params) {
    const code = params.code;
    if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || code < 4000 || code > 4999)) throw apiErrors.badParams('code must be an integer from 4000 to 4999');
    const reason = params.reason;
    if (reason !== undefined && (typeof reason !== 'string' || Buffer.byteLength(reason, 'utf8') > 123)) throw apiErrors.badParams('reason must be a string of at most 123 bytes');
    checked(() => backend.disconnect(target(params), code as number | undefined, reason as string | undefined));
    return { ok: true };
  },
  async user(backend, params) {
    return checkedAsync(() => backend.userConnections(text(params, 'user')));
  },
  async topic(backend, params) {
    const name = checkedTopic(backend, params);
    return { subscribers: await checkedAsync(() => backend.totalSubscriberCount(name)) };
  },
  async presence(backend, params) {
    const name = checkedTopic(backend, params);
    const limit = optionalInteger(params, 'limit', 1, 1000);
    const after = params.after === undefined ? undefined : clientId(params, 'after');
    return checkedAsync(() => backend.presence(name, { after, limit }));
  },
  async history(backend, params) {
    const name = checkedTopic(backend, params);
    const since = optionalInteger(params, 'since', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const epoch = params.epoch === undefined ? '' : text(params, 'epoch', true);
    const limit = optionalInteger(params, 'limit', 1, 1000) ?? 100;
    const read = await checkedAsync(() => backend.history(name, { offset: since, epoch }, limit));
    if (read === undefined) throw apiErrors.noHistory(name);
    const publications = read.publications.map((p) => ({ offset: p.position?.offset, ...(p.binary ? { data_base64: p.payload.toString('base64') } : { data: p.payload.toString('utf8') }) }));
    return { publications, position: read.position, recovered: read.recovered, ...(read.reason === undefined ? {} : { reason: read.reason }), complete: read.complete };
  },
  async info(backend) {
    const nodes = await backend.nodes();
    return { nodes, totals: { nodes: nodes.length, connections: nodes.reduce((n, x) => n + x.connections, 0) } };
  },
};

/** Runs one command of a batch, or of a route: its result, or an ApiError. */
export async function call(backend: ApiBackend, method: string, params: unknown): Promise<unknown> {
  const run = Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (run === undefined) throw apiErrors.unknownMethod(method);
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw apiErrors.badParams('params must be a JSON object');
  return run(backend, params as Params);
}

function text(params: Params, name: string, emptyOk = false): string {
  const value = params[name];
  if (typeof value !== 'string' || (!emptyOk && value === '')) throw apiErrors.badParams(`${name} must be a${emptyOk ? '' : ' non-empty'} string`);
  return value;
}

function topic(params: Params): string {
  return text(params, 'topic');
}

/** For a question about a topic: a name no publish could use is refused (400), not answered as an empty topic. */
function checkedTopic(backend: ApiBackend, params: Params): string {
  const name = topic(params);
  checked(() => checkTopic(name, backend.options.maxTopicLength));
  return name;
}

/** A client id as the API hands them out: a typo is refused, not sent to nobody. */
function clientId(params: Params, name: string): string {
  const value = text(params, name);
  if (!CLIENT_ID.test(value)) throw apiErrors.badParams(`${name} must be a client id: 20 lowercase hex digits`);
  return value;
}

function target(params: Params): Target {
  const hasUser = params.user !== undefined;
  const hasClient = params.client !== undefined;
  if (hasUser === hasClient) throw apiErrors.badParams('give user or client (one of them)');
  return hasUser ? { user: text(params, 'user') } : { client: clientId(params, 'client') };
}

function optionalInteger(params: Params, name: string, min: number, max: number): number | undefined {
  const raw = params[name];
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' && /^[0-9]{1,16}$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw apiErrors.badParams(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `data` (a string as text, any other JSON value as its JSON text) or `data_base64` (binary). */
function payload(params: Params): { data: PublishData; binary: boolean } {
  const hasData = params.data !== undefined;
  const hasBinary = params.data_base64 !== undefined;
  if (hasData === hasBinary) throw apiErrors.badParams('give data or data_base64 (one of them)');
  if (hasData) return { data: typeof params.data === 'string' ? params.data : jsonText(params.data), binary: false };
  const encoded = params.data_base64;
  if (typeof encoded !== 'string' || encoded.length % 4 !== 0 || !BASE64.test(encoded)) throw apiErrors.badParams('data_base64 must be base64 (RFC 4648 §4, padded)');
  return { data: Buffer.from(encoded, 'base64'), binary: true };
}

/** Any other JSON value as its JSON text; one nested too deeply to write back (JSON.stringify recurses) is the caller's error. */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (error instanceof RangeError) throw apiErrors.badParams('data nests too deeply to be written as JSON text');
    throw error;
  }
}

function positioned(position: StreamPosition | undefined): { ok: true; offset?: number; epoch?: string } {
  return position === undefined ? { ok: true } : { ok: true, offset: position.offset, epoch: position.epoch };
}

/** A name or a value the server refuses (a topic too long, a user too long, a bad close code) is the caller's error: 400. */
function checked<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw toApiError(error);
  }
}

/** How long a question (a user, a topic, presence, history) waits for the fleet or Redis before the API answers 503. */
const QUESTION_WAIT = 5000;

/** A question to the fleet: what fails there (Redis away or too slow) is a 503, not the server's fault; so is no answer within QUESTION_WAIT. */
async function checkedAsync<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await withDeadline(run(), QUESTION_WAIT, () => apiErrors.unavailable(`no answer within ${QUESTION_WAIT} ms: Redis or another node is away or too slow`));
  } catch (error) {
    const refused = toApiError(error);
    if (refused instanceof ApiError) throw refused;
    throw apiErrors.unavailable(`the fleet did not answer: ${refused.message}`);
  }
}

/** `work`, or `late()` thrown once `ms` passed without its answer (the work itself goes on). */
async function withDeadline<T>(work: Promise<T>, ms: number, late: () => ApiError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a publish waits for the broker to take it before the API answers 503. */
const PUBLISH_WAIT = 5000;

/**
 * Publishing: the broker did not take it (Redis away past its queue): 503.
 * One not taken within PUBLISH_WAIT (Redis away, the publication waiting in
 * the bounded queue) is a 503 too, which says it may still go out.
 */
async function acknowledged<T>(sent: Promise<T>): Promise<T> {
  try {
    return await withDeadline(sent, PUBLISH_WAIT, () => apiErrors.unavailable(`not acknowledged within ${PUBLISH_WAIT} ms: the broker is away; the publication waits in its bounded queue and goes out when it is back`));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof RangeError || error instanceof TypeError) throw apiErrors.badParams(error.message);
    throw apiErrors.unavailable(`not published: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function toApiError(error: unknown): Error {
  if (error instanceof ApiError) return error;
  if (error instanceof RangeError || error instanceof TypeError) return apiErrors.badParams(error.message);
  return error instanceof Error ? error : new Error(String(error));
}
