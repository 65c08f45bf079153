// What a subscriber of topics is and what it is told: the Subscriber
// interface the server's Connection implements, the options of a
// publication, the outcome of a subscription and of a resume, a page of
// history. Kept apart from pubsub.ts (the machinery) so the types read alone.
import type { StreamPosition } from './history.js';
import type { Publication } from './publication.js';

/** What to do with a subscriber whose outgoing buffer is above maxBackpressure when a publication comes. */
export type SlowSubscriberPolicy = 'drop' | 'close';

export interface PublishOptions {
  /** Send as binary. Default: true for bytes, false for strings. */
  binary?: boolean;
  /** Compressed (once per window size) for subscribers that negotiated permessage-deflate. Default true. */
  compress?: boolean;
  /** Skip subscribers with more than this many bytes waiting to be written (default: the server's). */
  maxBackpressure?: number;
  /** 'drop': skip the message for that subscriber; 'close': close it with 1008 (default: the server's). */
  slowSubscriberPolicy?: SlowSubscriberPolicy;
}

/** What a subscription from a position found: every publication since, or why not all. */
export interface ResumeResult {
  /** True when every publication after the position was delivered (or there were none). */
  recovered: boolean;
  /**
   * Why not: another epoch or a position that names none ('epoch': delivery
   * went on from the current epoch's oldest entry), trimmed past the position
   * ('trimmed': from the oldest kept), no history for this topic, the broker
   * unavailable, or a subscription that had already been resumed once ('subscribed').
   */
  reason?: 'epoch' | 'trimmed' | 'no-history' | 'unavailable' | 'subscribed';
  /** Publications replayed from the history. */
  replayed: number;
  /** The topic's position when the replay ended. */
  position?: StreamPosition;
}

/** A page of a topic's history, read for an application or the API. */
export interface HistoryRead {
  /** In order; each has its position. */
  publications: Publication[];
  position: StreamPosition;
  recovered: boolean;
  reason?: 'epoch' | 'trimmed';
  /** Nothing after the last one: caught up with `position`. */
  complete: boolean;
}

/** The outcome of a subscription: made, there already, or refused by a limit. */
export type SubscribeStatus = 'subscribed' | 'already' | 'connection-limit' | 'server-limit' | 'closed';

/** How a subscriber takes a publication; Connection implements it. */
export interface Subscriber {
  /** Delivers unless closing or slow (then `policy` applies); true when delivered. */
  deliver(publication: Publication, maxBackpressure: number, policy: SlowSubscriberPolicy): boolean;
  /** A subscription from a position has caught up (or could not). */
  resumed?(topic: string, result: ResumeResult): void;
}
