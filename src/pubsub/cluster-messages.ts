// The messages between --workers processes and their primary over
// node:cluster's IPC channel (forked with serialization 'advanced', so
// payloads travel as bytes, not JSON). Every one carries `wssd` with its kind,
// so an application's own IPC messages pass by untouched.
import type { BrokerQuestion, PublicationKind } from './broker.js';

/** A publication in transit: topic, payload, binary, kind. */
export type Carried = [topic: string, payload: Uint8Array, binary: boolean, kind: PublicationKind];

/** What a worker did in one tick, in order: subscribed to a topic, left one, published. */
export type Operation = ['s', topic: string] | ['u', topic: string] | ['p', ...Carried];

export type ClusterMessage =
  /** worker → primary: a tick's subscriptions, unsubscriptions and publications, in the order they were made. */
  | { wssd: 'ops'; ops: Operation[] }
  /** primary → worker: publications for this worker's subscribers, in order. */
  | { wssd: 'pub'; batch: Carried[] }
  /** worker → primary: gather every worker's answer; primary → worker: answer this. */
  | { wssd: 'ask'; id: number; question: BrokerQuestion }
  /** worker → primary: this worker's answer to an ask. */
  | { wssd: 'reply'; id: number; answer: unknown }
  /** primary → worker: every worker's answer to the worker's own ask. */
  | { wssd: 'answers'; id: number; answers: unknown[] }
  /** worker → primary: it has started and listens (cli/workers.ts: a later exit is a crash, restarted). */
  | { wssd: 'listening' }
  /** worker → primary: it could not start, and why, in one line; it exits 1 next, and the server stops. */
  | { wssd: 'fatal'; reason: string };

export function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === 'object' && message !== null && typeof (message as { wssd?: unknown }).wssd === 'string';
}

/** A payload as a Buffer again (the structured clone may hand over a plain Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** How long the primary waits for the workers' answers to an ask, in ms. */
export const GATHER_TIMEOUT = 1000;

/** The primary's own answer to a stats ask: what its relay dropped, by cause (the workers answer with their snapshots). */
export interface RelayAnswer {
  relay: { losses: Record<string, number> };
}

export function isRelayAnswer(answer: unknown): answer is RelayAnswer {
  return typeof answer === 'object' && answer !== null && typeof (answer as { relay?: unknown }).relay === 'object';
}
