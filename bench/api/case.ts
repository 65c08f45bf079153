// Case 10 as `npm run bench` runs it: its settings (shorter with --quick) and
// its tables: 10 (throughput per node through the API), 10b (latency from
// the API call to delivery, same node and across Redis) and 10c (the targets).
import { formatBytes, markdownTable, met, print } from '../harness/measure.js';
import type { Pinning } from '../harness/os.js';
import { benchLatency, benchThroughput, type LatencyOptions, type ThroughputOptions } from './api.js';

/** Publications per second one node takes through batches. */
const THROUGHPUT_TARGET = 20_000;
/** Cross-node p99, ms, from the API call to the frame, at the latency cells' rate. */
const LATENCY_TARGET_MS = 5;

/** Measures and prints case 10 (its own children: one node, then two nodes and one redis-server); returns its figures for the JSON line. */
export async function runApiCase(quick: boolean, pin: Pinning | undefined): Promise<Record<string, unknown>> {
  const common = { lanes: 8, subscribers: 10, batch: 100, payload: 32, window: 1000 };
  const throughputOptions: ThroughputOptions = quick ? { ...common, rounds: 1, warmMs: 200, measureMs: 500 } : { ...common, rounds: 3, warmMs: 500, measureMs: 2000 };
  const latencyOptions: LatencyOptions = quick ? { rate: 1000, payload: 32, rounds: 1, warmMs: 200, measureMs: 1000 } : { rate: 1000, payload: 32, rounds: 3, warmMs: 500, measureMs: 4000 };
  // Full: 3 rounds, so that the median is one round's figure: the tails swing with whatever else the machine runs.
  const throughput = await benchThroughput(throughputOptions, pin);
  const latency = await benchLatency(latencyOptions, pin);

  const t = throughputOptions;
  const pinNote = pin === undefined ? 'not pinned' : `node on CPU ${pin.server}, client on CPU ${pin.client}`;
  const rounds = (o: { rounds: number; measureMs: number }): string => `median of ${o.rounds} round${o.rounds > 1 ? 's' : ''} × ${o.measureMs / 1000} s${quick ? ', quick' : ''}`;
  print(
    `10. Server API throughput, one node (ws://, no Redis): ${t.lanes} kept-alive HTTP connections, one request in flight on each, each publishing ${formatBytes(t.payload)} (data_base64) to a topic of its own with ${t.subscribers} subscribers (${pinNote}; ${rounds(t)}; batch ÷ publish publications/s per round: ${throughput.batchOverPublish.perRound.join(' / ')})`,
    markdownTable(
      ['request', 'publications per request', 'publications/s', 'per round', 'requests/s', 'request p50 ms', 'request p99 ms', 'deliveries/s', 'node CPU µs/publication', 'node CPU µs/request', 'node CPU %', 'client CPU %', 'other processes CPU %', 'held back by credit'],
      throughput.cells.map((c) => [c.request === 'batch' ? 'POST /api/batch' : 'POST /api/publish', c.perRequest, c.publicationsPerSec.toLocaleString('en'), throughput.rounds.map((r) => r.find((x) => x.request === c.request)?.publicationsPerSec.toLocaleString('en')).join(' / '), c.requestsPerSec.toLocaleString('en'), c.requestP50Ms, c.requestP99Ms, c.deliveriesPerSec.toLocaleString('en'), c.nodeCpuUsPerPublication, c.nodeCpuUsPerRequest, c.nodeCpuPct, c.clientCpuPct, c.otherCpuPct, `${c.heldBackPct} %`]),
    ),
  );
  const l = latencyOptions;
  print(
    `10b. API call → delivery: two nodes and one Redis (${latency.redisVersion}) on loopback, calls to node A's API on one kept-alive connection at ${l.rate.toLocaleString('en')}/s, one in flight, ${formatBytes(l.payload)}; one subscriber on A (same node) and one on B (cross-node) (nodes and Redis on both CPUs; ${rounds(l)}; clock check: monotonic skew ${latency.clock.monotonicSkewMs} ms within a ${latency.clock.roundTripMs} ms round trip)`,
    markdownTable(
      ['call', 'calls/s', 'waited > 1 ms for the call before', 'same-node p50 ms', 'same-node p99 ms', 'cross-node p50 ms', 'cross-node p99 ms', 'per round', 'request p50 ms', 'request p99 ms', 'A CPU µs/call', 'B CPU µs/message', 'Redis CPU µs/call', 'client CPU %', 'other processes CPU %'],
      latency.cells.map((c) => [c.call === 'send' ? `POST /api/send {user: "42"}` : 'POST /api/publish {topic}', c.callsPerSec.toLocaleString('en'), `${c.heldBackPct} %`, c.sameNodeP50Ms, c.sameNodeP99Ms, c.crossNodeP50Ms, c.crossNodeP99Ms, latency.rounds.map((r) => r.find((x) => x.call === c.call)?.crossNodeP99Ms).join(' / '), c.requestP50Ms, c.requestP99Ms, c.aCpuUsPerCall, c.bCpuUsPerMessage, c.redisCpuUsPerCall, c.clientCpuPct, c.otherCpuPct]),
    ),
  );
  const batch = throughput.cells.find((c) => c.request === 'batch');
  const rateReached = (c: { callsPerSec: number; rate: number }): boolean => c.callsPerSec >= 0.95 * c.rate;
  print(
    `10c. Targets: ≥ ${THROUGHPUT_TARGET.toLocaleString('en')} publications/s per node through batches; cross-node p99 < ${LATENCY_TARGET_MS} ms from the API call at ${l.rate.toLocaleString('en')} calls/s`,
    markdownTable(
      ['target', 'figure', 'met'],
      [
        [`publications/s through POST /api/batch (× ${t.batch})`, batch?.publicationsPerSec.toLocaleString('en') ?? '', met((batch?.publicationsPerSec ?? 0) >= THROUGHPUT_TARGET)],
        ...latency.cells.map((c) => [
          `${c.call === 'send' ? 'send to a user' : 'publish to a topic'}: cross-node p99 ms at ${c.callsPerSec.toLocaleString('en')} calls/s`,
          c.crossNodeP99Ms,
          rateReached(c) ? met(c.crossNodeP99Ms < LATENCY_TARGET_MS) : 'missed (rate not reached)',
        ]),
      ],
    ),
  );
  return { throughputOptions, latencyOptions, throughput, latency, targets: { publicationsPerSec: THROUGHPUT_TARGET, crossNodeP99Ms: LATENCY_TARGET_MS } };
}
