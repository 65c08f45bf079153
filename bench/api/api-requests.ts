// Case 10's requests to the server API and its IPC with its wssd nodes
// (bench/api/api-node.ts), kept pure so that test/unit/bench/api.test.ts can
// check them: the JSON bodies of POST /api/publish, /api/batch and /api/send,
// the pacing of the fixed-rate cells, and the credit of the throughput cells.
//
// Payloads are the publications of cases 7 and 9 (bench/harness/publications.ts:
// sequence number, monotonic stamp, check byte), sent as data_base64, so that
// each is delivered as a binary frame of exactly those bytes and the
// subscribers' receivers check every one and take its latency from the stamp.

import type { CpuReading } from '../harness/parent-link.js';

/** The one key every node accepts (Authorization: Bearer KEY; --api-key wants ≥ 16 characters). */
export const API_KEY = 'wssd-bench-api-key-0123456789';

/** The user whose connections (one per node) get the sends. */
export const USER = '42';

/** The topic of the publish-latency cell, with a subscriber on each node. */
export const ROOM_TOPIC = 'room';

/** The topic of throughput lane `lane`: each lane publishes in order to its own subscribers. */
export function laneTopic(lane: number): string {
  return `lane-${lane}`;
}

/** The path a subscriber's WebSocket connects on: the node's child subscribes it to `topic` and binds it to `user`. */
export function subscriberPath(options: { topic?: string; user?: string }): string {
  const query = new URLSearchParams();
  if (options.user !== undefined) query.set('user', options.user);
  if (options.topic !== undefined) query.set('topic', options.topic);
  return `/?${query.toString()}`;
}

/** POST /api/publish. */
export function publishBody(topic: string, payload: Buffer): string {
  return JSON.stringify({ topic, data_base64: payload.toString('base64') });
}

/** POST /api/send to every connection of `user`. */
export function sendBody(user: string, payload: Buffer): string {
  return JSON.stringify({ user, data_base64: payload.toString('base64') });
}

/** POST /api/batch: one publish command per payload, in order. */
export function batchBody(topic: string, payloads: readonly Buffer[]): string {
  return JSON.stringify({ commands: payloads.map((p) => ({ method: 'publish', params: { topic, data_base64: p.toString('base64') } })) });
}

/** Requests due at `rate` per second, `elapsedMs` into the cell, `sent` of them sent so far (never negative). */
export function requestsDue(rate: number, elapsedMs: number, sent: number): number {
  return Math.max(0, Math.floor((elapsedMs * rate) / 1000) - sent);
}

/** When call `index` (from 0) falls due, ms into the cell, at `rate` per second. */
export function callDueMs(rate: number, index: number): number {
  return ((index + 1) * 1000) / rate;
}

/**
 * How long a call due at `dueMs` waited for the answer to the call before
 * it (made at `previousMadeMs`, answered at `previousAnsweredMs`), ms: its
 * latency, taken from its own stamp, leaves that wait out (coordinated
 * omission), so the cells count the calls that waited long. A client behind
 * its schedule (its own timer late) waits only for the answers to the calls
 * it makes to catch up, not for its own lateness.
 */
export function waitedForPrevious(dueMs: number, previousMadeMs: number, previousAnsweredMs: number): number {
  return Math.max(0, previousAnsweredMs - Math.max(dueMs, previousMadeMs));
}

/**
 * Whether a throughput lane may send its next request of `perRequest`
 * publications: `published` made so far, every subscriber of the lane having
 * all before `received`, at most `window` in flight. No process can see the
 * subscribers' buffers but the client that reads them: without this credit a
 * client busy sending would fall behind reading, the node's buffers would
 * grow past --max-backpressure and publications would be dropped (a gap,
 * which fails the run).
 */
export function mayPublish(published: number, received: number, perRequest: number, window: number): boolean {
  return published + perRequest - received <= window;
}

export type NodeRequest =
  | { type: 'usage'; id: number }
  /** Subscribers of a topic in this node; connections of a user in this node. */
  | { type: 'count'; id: number; topic: string }
  | { type: 'user'; id: number; user: string }
  | { type: 'api'; id: number }
  | { type: 'clock'; id: number };

/** cpuUs and time: the node's CPU, read in the same instant as its counts. */
export interface NodeUsage extends CpuReading {
  type: 'usage';
  id: number;
  /** From /stats, since start: publications made here (a send to a user is not one), */
  published: number;
  /** frames sent to connections (deliveries), */
  deliveries: number;
  /** publications and sends that came through Redis from another node, */
  publishedElsewhere: number;
  /** server API requests and failed ones, */
  apiRequests: number;
  apiErrors: number;
  /** and what must stay 0: skipped for a slow subscriber, not handed to Redis. */
  dropped: number;
  undelivered: number;
}

export type NodeReply =
  | NodeUsage
  | { type: 'count'; id: number; subscribers: number }
  | { type: 'api'; id: number; port: number }
  | { type: 'clock'; id: number; mono: number; wall: number };
