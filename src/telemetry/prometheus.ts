// GET /metrics: the /stats counters in Prometheus's text exposition format
// (version 0.0.4), so a fleet is scraped like any other service. Counters end
// in _total; labelled series come from the records of /stats (refusals by
// status, exits by code, TLS client errors by kind). With --workers the
// numbers are the sum over the workers, like /stats.
import type { StatsSnapshot } from './stats.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Sample = [labels: Record<string, string | number>, value: number];

export function prometheusText(stats: StatsSnapshot, brokerConnected: boolean): string {
  let out = '';
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): void => {
    out += `# HELP wssd_${name} ${help}\n# TYPE wssd_${name} ${type}\n`;
    for (const [labels, value] of samples) {
      const keys = Object.keys(labels);
      const set = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escape(String(labels[k]))}"`).join(',')}}`;
      out += `wssd_${name}${set} ${Number.isFinite(value) ? value : 0}\n`;
    }
  };
  const byLabel = (label: string, record: Record<string, number>): Sample[] => Object.entries(record).map(([k, v]) => [{ [label]: k }, v]);
  metric('connections', 'gauge', 'Open WebSocket connections.', [[{}, stats.connections]]);
  metric('handshakes_accepted_total', 'counter', 'Opening handshakes answered with 101.', [[{}, stats.handshakes.accepted]]);
  metric('handshakes_refused_total', 'counter', 'Opening handshakes refused, by HTTP status.', byLabel('status', stats.handshakes.refused));
  metric('handshake_refusals_total', 'counter', 'Opening handshakes refused, by cause.', byLabel('code', stats.handshakes.refusals));
  metric('probes_total', 'counter', 'TCP connections closed without a byte (health checks).', [[{}, stats.probes]]);
  metric('messages_total', 'counter', 'WebSocket messages.', [
    [{ direction: 'in' }, stats.messages.in],
    [{ direction: 'out' }, stats.messages.out],
  ]);
  metric('payload_bytes_total', 'counter', 'Bytes of message payloads.', [
    [{ direction: 'in' }, stats.bytes.in],
    [{ direction: 'out' }, stats.bytes.out],
  ]);
  metric('close_codes_total', 'counter', 'Closed connections, by the close code reported.', byLabel('code', stats.closeCodes));
  metric('exits_total', 'counter', 'Connections the server ended, by cause.', byLabel('code', stats.exits));
  metric('backend_errors_total', 'counter', 'Requests to the backend (connect proxy, events, message proxy) that failed, by cause.', byLabel('cause', stats.backendErrors));
  metric('api_requests_total', 'counter', 'Server API requests.', [[{}, stats.api.requests]]);
  metric('api_errors_total', 'counter', 'Server API answers that were not a success, by code.', byLabel('code', stats.api.errors));
  metric('losses_total', 'counter', 'What was not delivered (publications, messages, subscriptions), by cause.', byLabel('cause', stats.losses));
  metric('tls_client_errors_total', 'counter', 'Failed TLS handshakes, by kind.', byLabel('kind', stats.tlsClientErrors));
  metric('topics', 'gauge', 'Topics with subscribers.', [[{}, stats.topics.count]]);
  metric('published_total', 'counter', 'publish() calls.', [[{}, stats.topics.published]]);
  metric('published_elsewhere_total', 'counter', 'Publications received from other processes or nodes.', [[{}, stats.topics.publishedElsewhere]]);
  metric('dropped_total', 'counter', "Deliveries skipped by the slow-subscriber 'drop' policy.", [[{}, stats.topics.dropped]]);
  metric('undelivered_total', 'counter', 'Publications that did not reach the broker.', [[{}, stats.topics.undelivered]]);
  metric('broker_connected', 'gauge', '1 when the broker (Redis, the --workers bus) is connected.', [[{}, brokerConnected ? 1 : 0]]);
  metric('broker_outages_total', 'counter', 'Times the broker connection was lost.', [[{}, stats.broker.outages]]);
  metric('broker_down_seconds_total', 'counter', 'Seconds the broker connection stayed lost.', [[{}, stats.broker.downMs / 1000]]);
  metric('unrecovered_total', 'counter', "Topics whose history could not bridge a loss of the broker.", [[{}, stats.topics.unrecovered]]);
  const g = stats.gatewayWorker;
  metric('gatewayworker_business_workers', 'gauge', 'GatewayWorker mode: BusinessWorkers connected.', [[{}, g.businessWorkers]]);
  metric('gatewayworker_lan_connections', 'gauge', 'GatewayWorker mode: BusinessWorker and GatewayClient connections on the LAN port.', [[{}, g.links]]);
  metric('gatewayworker_registers', 'gauge', 'GatewayWorker mode: Registers configured, and registered with now.', [
    [{ state: 'configured' }, g.registers],
    [{ state: 'registered' }, g.registered],
  ]);
  const d = stats.deflate;
  metric('deflate_contexts', 'gauge', 'permessage-deflate zlib contexts held by connections.', [[{}, d.contexts]]);
  metric('deflate_messages_total', 'counter', 'Messages compressed (out) and inflated (in).', [
    [{ direction: 'in' }, d.inflated],
    [{ direction: 'out' }, d.compressed],
  ]);
  metric('deflate_bytes_total', 'counter', 'Bytes through zlib: compressed bytes in and what they inflated to, bytes compressed and what they became.', [
    [{ direction: 'in', form: 'compressed' }, d.inflatedIn],
    [{ direction: 'in', form: 'inflated' }, d.inflatedOut],
    [{ direction: 'out', form: 'plain' }, d.compressedIn],
    [{ direction: 'out', form: 'compressed' }, d.compressedOut],
  ]);
  metric('deflate_over_max_contexts_total', 'counter', 'Messages handled without a context of their own because maxContexts were held.', [[{}, d.overMaxContexts]]);
  // A histogram: cumulative buckets in seconds, then _sum and _count.
  const h = stats.broker.publishLatency;
  out += '# HELP wssd_publish_latency_seconds From publish() to the broker acknowledging it.\n# TYPE wssd_publish_latency_seconds histogram\n';
  let cumulative = 0;
  for (const [le, n] of Object.entries(h.bucketsMs)) {
    cumulative += n;
    out += `wssd_publish_latency_seconds_bucket{le="${Number(le) / 1000}"} ${cumulative}\n`;
  }
  out += `wssd_publish_latency_seconds_bucket{le="+Inf"} ${h.count}\nwssd_publish_latency_seconds_sum ${h.sumMs / 1000}\nwssd_publish_latency_seconds_count ${h.count}\n`;
  metric('resident_memory_bytes', 'gauge', 'Resident set size.', [[{}, stats.memory.rss]]);
  metric('uptime_seconds', 'gauge', 'Seconds since start (the longest of the workers).', [[{}, stats.uptimeSeconds]]);
  return out;
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
