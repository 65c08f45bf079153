// What a server shows of itself on its side routes: GET /stats (this
// process's counters, or with --workers every worker's summed and each one
// listed, the primary's relay losses included), GET /metrics (the same in
// Prometheus's text format) and GET /healthz (accepting, and the broker
// connected).
import type { SideRoutes } from '../http/side-routes.js';
import { LocalBroker } from '../pubsub/broker.js';
import { isRelayAnswer } from '../pubsub/cluster-messages.js';
import type { PubSub, Subscriber } from '../pubsub/pubsub.js';
import type { ResolvedOptions } from '../options/server-options.js';
import { prometheusText } from '../telemetry/prometheus.js';
import { combineSnapshots, type StatsSnapshot } from '../telemetry/stats.js';

export interface RouteSources<S extends Subscriber> {
  options: ResolvedOptions;
  pubsub: PubSub<S>;
  /** This process's counters now. */
  localSnapshot(): StatsSnapshot;
  /** The server is shutting down. */
  closing(): boolean;
}

/** This process alone, or with several (--workers) every one's counters summed and each listed. */
export function serverSnapshot<S extends Subscriber>(sources: RouteSources<S>): StatsSnapshot | Promise<StatsSnapshot> {
  const { options, pubsub } = sources;
  if (options.broker === undefined || options.broker instanceof LocalBroker) return sources.localSnapshot();
  return pubsub.gather({ kind: 'stats' }).then((answers) => {
    const snapshots = answers.filter((a): a is StatsSnapshot => typeof a === 'object' && a !== null && !isRelayAnswer(a));
    const combined = snapshots.length === 0 ? sources.localSnapshot() : combineSnapshots(snapshots);
    // What the primary's relay dropped for a worker that did not keep up is a loss of the server's too.
    for (const relay of answers.filter(isRelayAnswer)) {
      for (const [cause, n] of Object.entries(relay.relay.losses)) if (n > 0) combined.losses[cause] = (combined.losses[cause] ?? 0) + n;
    }
    return combined;
  });
}

/** GET /stats, /metrics and /healthz. */
export function sideRoutesOf<S extends Subscriber>(sources: RouteSources<S>): SideRoutes {
  const { options: o, pubsub } = sources;
  const json = (s: StatsSnapshot): string => JSON.stringify(s) + '\n';
  const metrics = (s: StatsSnapshot): string => prometheusText(s, pubsub.brokerConnected);
  return {
    demoPage: o.demoPage,
    stats: o.stats,
    wsPath: o.paths?.[0] ?? '/',
    statsJson: () => {
      const s = serverSnapshot(sources);
      return s instanceof Promise ? s.then(json) : json(s);
    },
    metrics: () => {
      const s = serverSnapshot(sources);
      return s instanceof Promise ? s.then(metrics) : metrics(s);
    },
    health: () => {
      if (sources.closing()) return { ok: false, reason: 'shutting down' };
      if (!pubsub.brokerConnected) return { ok: false, reason: 'broker disconnected' };
      return { ok: true, reason: 'ok' };
    },
  };
}
