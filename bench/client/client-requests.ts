// Case 11's IPC with its children — the wssd node (client-node.ts) and the
// client process (client-child.ts) — and its pure helpers, which
// test/unit/bench/client.test.ts checks: the fixed pace of the publishers,
// the client's CPU per message less its idle baseline, the resumed
// sequence's check, the server API bodies of the resume part.
import type { CpuReading } from '../harness/parent-link.js';

/** The one key the node's server API accepts. */
export const API_KEY = 'wssd-bench-client-key-0123456789';

/** Every topic of the case is under this prefix: the node lets wssd.v1 clients subscribe to it themselves (--client-subscribe-prefix). */
export const TOPIC_PREFIX = 'bench:';

/** The path a raw subscriber connects on: the node subscribes it to `topic` (a wssd.v1 client subscribes itself). */
export function rawPath(topic: string): string {
  return `/?topic=${encodeURIComponent(topic)}`;
}

/**
 * Publications due at `rate` per second, `elapsedMs` into the cell, `made`
 * of them made so far: never negative, and at most `cap` at once, so that a
 * publisher that fell behind (a stall of its process) catches up over a few
 * ticks instead of in one burst. Its "behind" count says when it did. With
 * `burst`, publications fall due `burst` at a time, made in one tick: each
 * subscriber then gets them in one write.
 */
export function publicationsDue(rate: number, elapsedMs: number, made: number, cap = Infinity, burst = 1): number {
  return Math.max(0, Math.min(cap, Math.floor((elapsedMs * rate) / 1000 / burst) * burst - made));
}

/**
 * A client's CPU per message, µs: its CPU over the window less what it
 * spends idle over as long (the baseline: its timers, the IPC, the event
 * loop), ÷ the messages. The baseline is measured on the same connection
 * just before, so what is left is what the messages cost.
 */
export function cpuPerMessage(windowCpuUs: number, windowMs: number, idleCpuUs: number, idleMs: number, messages: number): number {
  if (messages <= 0) return NaN;
  const idle = idleMs > 0 ? (idleCpuUs * windowMs) / idleMs : 0;
  return (windowCpuUs - idle) / messages;
}

/**
 * Checks that `received` (sequence numbers, in the order they were
 * delivered) is exactly from, from + 1, … to − 1: each once, in order.
 * Returns what is wrong, or undefined.
 */
export function sequenceProblem(received: readonly number[], from: number, to: number): string | undefined {
  const seen = new Set<number>();
  let expected = from;
  for (let i = 0; i < received.length; i++) {
    const seq = received[i];
    if (seen.has(seq)) return `publication ${seq} delivered twice (at ${i})`;
    seen.add(seq);
    if (seq !== expected) return seq > expected ? `publications ${expected}..${seq - 1} missing before ${seq}` : `publication ${seq} out of order (expected ${expected})`;
    expected++;
  }
  if (expected < to) return `${to - expected} publications missing: ${received.length} delivered, the last ${expected - 1}, expected up to ${to - 1}`;
  if (received.length !== to - from) return `${received.length} delivered, expected ${to - from}`;
  return undefined;
}

/** A resume publication's text: its sequence number within the round (each is checked by the client). */
export function resumeData(seq: number): string {
  return `seq ${seq}`;
}

/** The sequence number a resume publication carries, or NaN. */
export function resumeSeq(data: unknown): number {
  if (typeof data !== 'string' || !data.startsWith('seq ')) return NaN;
  return Number(data.slice(4));
}

/** POST /api/batch: one publish command per sequence number, in order, as text. */
export function resumeBatchBody(topic: string, from: number, count: number): string {
  return JSON.stringify({ commands: Array.from({ length: count }, (_, i) => ({ method: 'publish', params: { topic, data: resumeData(from + i) } })) });
}

// ---------------------------------------------------------------- the node

export type NodeRequest =
  | { type: 'usage'; id: number }
  /** Subscribers of `topic` in the node. */
  | { type: 'count'; id: number; topic: string }
  /**
   * Publishes to `topic` at `rate` per second — the publications of
   * bench/harness/publications.ts, `size` bytes, binary, from sequence
   * number 0 — until `stop`, or `count` of them when given.
   */
  | { type: 'start'; id: number; topic: string; size: number; rate: number; count?: number; burst?: number }
  | { type: 'stop'; id: number }
  | { type: 'api'; id: number }
  | { type: 'clock'; id: number };

/** The node's CPU and counts, read in the same instant. */
export interface NodeUsage extends CpuReading {
  type: 'usage';
  id: number;
  /** Publications made and deliveries of them (local subscribers reached) since the cell started. */
  published: number;
  deliveries: number;
  /** Ticks on which more than the cap was due: the publisher fell behind its pace. */
  behind: number;
  connections: number;
  /** From /stats: what must stay 0 (a slow subscriber skipped). */
  dropped: number;
}

export type NodeReply =
  | NodeUsage
  | { type: 'count'; id: number; subscribers: number }
  | { type: 'started'; id: number; error?: string }
  | { type: 'stopped'; id: number; published: number }
  | { type: 'api'; id: number; port: number }
  | { type: 'clock'; id: number; mono: number; wall: number };

// ---------------------------------------------------------------- the client process

/** `wssd`: a WssdClient subscribed to the topic; `bare`: the same WebSocket class on the node's raw path for it. */
export type ClientKind = 'wssd' | 'bare';

export type ClientRequest =
  /**
   * Opens client `name`; answered once it is subscribed (wssd: its onSubscribed; bare: open).
   * `gated`: a WssdClient for the resume part, over a transport that 'drop' and 'back' control.
   */
  | { type: 'open'; id: number; name: string; kind: ClientKind; url: string; topic: string; gated?: boolean; since?: { offset: number; epoch: string } }
  /** Measures this process's CPU over `ms` with nothing arriving. */
  | { type: 'idle'; id: number; ms: number }
  /** From now, client `name` expects publications 0 … count − 1 of `size` bytes (answered at once). */
  | { type: 'expect'; id: number; name: string; size: number; count: number }
  /** Answered once what was expected has come (or failed): the CPU and wall time since 'expect'. */
  | { type: 'done'; id: number; name: string }
  /** Resume: the sequence numbers client `name` got so far (text publications, resumeData). */
  | { type: 'received'; id: number; name: string }
  /** Resume: closes client `name`'s socket as a lost connection would end it; answered once the client's reconnect (after its backoff) waits for 'back'. */
  | { type: 'drop'; id: number; name: string }
  /** Resume: lets client `name` connect again; answered once it has `until` publications in all (or failed). */
  | { type: 'back'; id: number; name: string; until: number }
  | { type: 'close'; id: number; name: string };

export interface CpuWindow {
  cpuUs: number;
  wallMs: number;
}

export interface ResumeTiming {
  /** From letting it connect to the socket's open (TCP, TLS, the upgrade). */
  connectMs: number;
  /** From the socket's open to the last replayed publication's delivery to the application. */
  openToLastMs: number;
  /** From the socket's open to the subscribe's reply (sent once the replay is done). */
  openToReplyMs: number;
  /** The subscribe's result: recovered, and how many the server replayed. */
  recovered: boolean;
  replayed: number;
  gaps: number;
}

export type ClientReply =
  | { type: 'opened'; id: number; error?: string }
  | ({ type: 'idle'; id: number } & CpuWindow)
  | { type: 'expecting'; id: number }
  | ({ type: 'done'; id: number; received: number; error?: string } & CpuWindow)
  | { type: 'received'; id: number; seqs: number[]; gaps: number }
  | { type: 'dropped'; id: number }
  | ({ type: 'back'; id: number; error?: string } & ResumeTiming)
  | { type: 'closed'; id: number };
