// Case 9's IPC between the bench (bench/redis/redis.ts) and its two wssd nodes
// (bench/redis/redis-node.ts), and the publisher's pacing, kept pure so that
// test/unit/bench/redis.test.ts can check it.
//
// The publisher, in node A, publishes either at a fixed rate (publications
// due since the cell started, on a 1 ms timer) or as fast as it is absorbed
// (BURST per setImmediate tick). Either way it never gets more than `window`
// publications ahead of the bench's last "ack" — the lowest sequence number
// that every subscriber, on both nodes, still waits for. Node A cannot see
// node B's buffers, nor Redis's output buffer towards B, so without this
// credit a publisher faster than B would pile up queues (and Redis would
// disconnect B past client-output-buffer-limit pubsub, a gap that fails the
// run). At a fixed rate the credit only bites when the nodes fall behind:
// the cell then reports the rate achieved, not the rate asked for.

import type { CpuReading } from '../harness/parent-link.js';

export const ROOM_TOPIC = 'fanout';
/** The topic of the one-subscriber-per-node cells: its subscribers connect on /solo. */
export const SOLO_TOPIC = 'solo';
export const SOLO_PATH = '/solo';

/** Deliveries per node the credit allows in flight: the window is this ÷ subscribers per node, publications. */
export const WINDOW_DELIVERIES = 16_000;

export function creditWindow(subscribersPerNode: number): number {
  return Math.max(4, Math.round(WINDOW_DELIVERIES / subscribersPerNode));
}

export interface Pace {
  /** Publications per second; 0: as fast as they are absorbed. */
  rate: number;
  /** ms since the cell started. */
  elapsedMs: number;
  /** Publications made so far in the cell. */
  seq: number;
  /** The bench's last ack: every subscriber has every publication before it. */
  acked: number;
  window: number;
  /** Publications per tick when rate is 0. */
  burst: number;
}

/** How many publications to make now, and whether the credit held back some that were due. */
export function publicationsDue(p: Pace): { count: number; heldBack: boolean } {
  const credit = Math.max(0, p.acked + p.window - p.seq);
  const due = p.rate > 0 ? Math.max(0, Math.floor((p.elapsedMs * p.rate) / 1000) - p.seq) : p.burst;
  return due > credit ? { count: credit, heldBack: true } : { count: due, heldBack: false };
}

export type NodeRequest =
  | { type: 'count'; id: number }
  | { type: 'start'; id: number; topic: string; size: number; rate: number; window: number; burst: number }
  | { type: 'ack'; seq: number }
  | { type: 'usage'; id: number }
  | { type: 'stop'; id: number }
  /** Reads this process's monotonic clock (for the clock check). */
  | { type: 'clock'; id: number };

/** cpuUs and time: the node's CPU, read in the same instant as its counts. */
export interface NodeUsage extends CpuReading {
  type: 'usage';
  id: number;
  /** Publications made by this node's publisher in the current cell. */
  published: number;
  /** Local deliveries of those (the sum of server.publish()'s returns). */
  deliveries: number;
  /** Publications that came from another node through Redis, since start (/stats topics.publishedElsewhere). */
  publishedElsewhere: number;
  /** Since start, from /stats: skipped for a slow subscriber, not handed to Redis. Both must stay 0. */
  dropped: number;
  undelivered: number;
  /** ms of the current cell during which the credit held back publications that were due. */
  heldMs: number;
  connections: number;
}

export type NodeReply =
  | NodeUsage
  | { type: 'count'; id: number; room: number; solo: number }
  | { type: 'started'; id: number; error?: string }
  | { type: 'stopped'; id: number; published: number }
  | { type: 'clock'; id: number; mono: number; wall: number };
