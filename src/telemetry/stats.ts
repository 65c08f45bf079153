// Counters for GET /stats. Plain fields on one object, bumped on the hot
// path with an addition each: no maps, no allocation per message. Refusals
// and exits are also counted by their stable code from the catalogue
// (protocol/errors.ts), so an operator sees why, not only how many.
import type { DeflateContexts, DeflateCounts } from '../extensions/deflate-contexts.js';

/** Upper bounds of the publish-latency histogram's buckets, in ms (above the last: only in count). */
export const PUBLISH_LATENCY_BUCKETS_MS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000] as const;

export class ServerStats {
  readonly startedAt = Date.now();
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  handshakesAccepted = 0;
  /** TCP connections closed without sending a byte: load-balancer and Kubernetes TCP health checks. */
  probes = 0;
  /** publish() calls in this process. */
  published = 0;
  /** Publications received from other processes or machines. */
  publishedElsewhere = 0;
  /** Deliveries skipped by the slow-subscriber 'drop' policy. */
  dropped = 0;
  /** Publications made here that did not reach the broker (Redis away past its queue, or lost in flight). */
  undelivered = 0;
  /** Topics whose history could not bridge a loss of the broker (trimmed, new epoch). */
  unrecovered = 0;
  /** Times the broker connection was lost, and the milliseconds it stayed lost (publications without history made elsewhere meanwhile did not reach this process). */
  brokerOutages = 0;
  brokerDownMs = 0;
  /** From publish() to the broker's acknowledgement: counts per upper bound in ms (cumulative buckets are built when shown), the sum, the count. */
  readonly publishLatency = { buckets: PUBLISH_LATENCY_BUCKETS_MS.map(() => 0), sumMs: 0, count: 0 };

  publishAcknowledged(ms: number): void {
    const h = this.publishLatency;
    let i = 0;
    while (i < PUBLISH_LATENCY_BUCKETS_MS.length && ms > PUBLISH_LATENCY_BUCKETS_MS[i]) i++;
    if (i < h.buckets.length) h.buckets[i]++;
    h.sumMs += ms;
    h.count++;
  }
  /** Refused handshakes by HTTP status. */
  readonly refused = new Map<number, number>();
  /** Refused handshakes by catalogue code (HTTP_ERR_*, WS_HS_*). */
  readonly refusals = new Map<string, number>();
  /** Close codes reported on closed connections (1005, 1006 included). */
  readonly closeCodes = new Map<number, number>();
  /** Connections the server ended, by catalogue code (WS_ERR_*): violations, limits, timeouts, shutdown. */
  readonly exits = new Map<string, number>();
  /**
   * Everything not delivered, by cause: a publication skipped for a slow
   * subscriber, one the broker did not take, a message refused by a full
   * send buffer, a subscription refused by a topic limit, history that could
   * not bridge an outage… Nothing is lost without being counted here.
   */
  readonly losses = new Map<string, number>();

  /** Requests to the backend (connect proxy, events, message proxy) that failed, by cause. */
  readonly backendErrors = new Map<string, number>();

  /** Server API answers that were not a success, by code (API_ERR_*). */
  readonly apiErrors = new Map<string, number>();
  apiRequests = 0;

  apiFailed(code: string): void {
    this.apiErrors.set(code, (this.apiErrors.get(code) ?? 0) + 1);
  }

  backendFailed(cause: string): void {
    this.backendErrors.set(cause, (this.backendErrors.get(cause) ?? 0) + 1);
  }

  lost(cause: string, count = 1): void {
    this.losses.set(cause, (this.losses.get(cause) ?? 0) + count);
  }

  refusedWith(status: number, code: string): void {
    this.refused.set(status, (this.refused.get(status) ?? 0) + 1);
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  closedWith(code: number): void {
    this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
  }

  exitedWith(code: string): void {
    this.exits.set(code, (this.exits.get(code) ?? 0) + 1);
  }
}

export interface StatsSnapshot {
  uptimeSeconds: number;
  connections: number;
  handshakes: { accepted: number; refused: Record<string, number>; refusals: Record<string, number> };
  probes: number;
  messages: { in: number; out: number };
  bytes: { in: number; out: number };
  closeCodes: Record<string, number>;
  exits: Record<string, number>;
  losses: Record<string, number>;
  backendErrors: Record<string, number>;
  api: { requests: number; errors: Record<string, number> };
  topics: { count: number; published: number; publishedElsewhere: number; dropped: number; undelivered: number; unrecovered: number };
  broker: { outages: number; downMs: number; publishLatency: { bucketsMs: Record<string, number>; sumMs: number; count: number } };
  /** permessage-deflate: contexts held by connections now, and what was compressed and inflated (zeros when off). */
  deflate: DeflateCounts & { contexts: number };
  tlsClientErrors: Record<string, number>;
  /** GatewayWorker mode: BusinessWorkers connected, LAN connections open, Registers configured and registered with (zeros when off). */
  gatewayWorker: GatewayWorkerCounts;
  memory: { rss: number; heapUsed: number; external: number };
  pid: number;
}

export interface GatewayWorkerCounts {
  businessWorkers: number;
  links: number;
  registers: number;
  registered: number;
}

const NO_GATEWAY_WORKER: GatewayWorkerCounts = { businessWorkers: 0, links: 0, registers: 0, registered: 0 };

const NO_DEFLATE: DeflateCounts & { contexts: number } = { contexts: 0, compressed: 0, compressedIn: 0, compressedOut: 0, inflated: 0, inflatedIn: 0, inflatedOut: 0, overMaxContexts: 0 };

export function snapshot(
  stats: ServerStats,
  connections: number,
  topics: number,
  tlsClientErrors: ReadonlyMap<string, number>,
  deflate?: DeflateContexts,
  gatewayWorker: GatewayWorkerCounts = NO_GATEWAY_WORKER,
): StatsSnapshot {
  const m = process.memoryUsage();
  return {
    uptimeSeconds: Math.round((Date.now() - stats.startedAt) / 1000),
    connections,
    handshakes: { accepted: stats.handshakesAccepted, refused: Object.fromEntries(stats.refused), refusals: Object.fromEntries(stats.refusals) },
    probes: stats.probes,
    messages: { in: stats.messagesIn, out: stats.messagesOut },
    bytes: { in: stats.bytesIn, out: stats.bytesOut },
    closeCodes: Object.fromEntries(stats.closeCodes),
    exits: Object.fromEntries(stats.exits),
    losses: Object.fromEntries(stats.losses),
    backendErrors: Object.fromEntries(stats.backendErrors),
    api: { requests: stats.apiRequests, errors: Object.fromEntries(stats.apiErrors) },
    topics: { count: topics, published: stats.published, publishedElsewhere: stats.publishedElsewhere, dropped: stats.dropped, undelivered: stats.undelivered, unrecovered: stats.unrecovered },
    broker: {
      outages: stats.brokerOutages,
      downMs: Math.round(stats.brokerDownMs),
      publishLatency: {
        bucketsMs: Object.fromEntries(PUBLISH_LATENCY_BUCKETS_MS.map((le, i) => [String(le), stats.publishLatency.buckets[i]])),
        sumMs: Math.round(stats.publishLatency.sumMs * 1000) / 1000,
        count: stats.publishLatency.count,
      },
    },
    deflate: deflate === undefined ? { ...NO_DEFLATE } : { contexts: deflate.contexts, ...deflate.counts },
    tlsClientErrors: Object.fromEntries(tlsClientErrors),
    gatewayWorker: { ...gatewayWorker },
    memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external },
    pid: process.pid,
  };
}

/** The view of a server with several processes: every count summed, and each process's own snapshot. */
export interface CombinedSnapshot extends StatsSnapshot {
  /** Processes that answered. */
  processes: number;
  perProcess: StatsSnapshot[];
}

/** Sums every number in the snapshots, key by key (records of counts too); the rest is taken from the first. */
export function combineSnapshots(snapshots: readonly StatsSnapshot[]): CombinedSnapshot {
  const sum = (values: readonly unknown[]): unknown => {
    const first = values[0];
    if (typeof first === 'number') return values.reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0);
    if (typeof first !== 'object' || first === null) return first;
    const keys = new Set<string>();
    for (const v of values) if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) keys.add(k);
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = sum(values.map((v) => (v as Record<string, unknown> | null)?.[k] ?? 0));
    return out;
  };
  const combined = sum(snapshots) as StatsSnapshot;
  return {
    ...combined,
    // Not sums: the longest uptime, and the pid of the process that answered.
    uptimeSeconds: Math.max(...snapshots.map((s) => s.uptimeSeconds)),
    pid: process.pid,
    processes: snapshots.length,
    perProcess: [...snapshots],
  };
}
