// Case 9 as `npm run bench` runs it: subscribers per node (200 in the quick
// run, 1,000 in the full one), payloads, rates, rounds and windows, and its
// tables: 9, 9b (CPU) and 9c (the targets).
import { formatBytes, markdownTable, print } from '../harness/measure.js';
import { benchRedis, type RedisBenchOptions, type RedisResult } from './redis.js';

/** Measures and prints case 9 (its own children: two nodes, one redis-server); returns its figures for the JSON line. */
export async function runRedisCase(quick: boolean): Promise<Record<string, unknown>> {
  // Quick: 200 subscribers per node, 0.5 s windows, one round.
  const options: RedisBenchOptions = quick
    ? { subscribers: 200, payloads: [32, 1024], rates: [10_000, 0], soloRate: 10_000, rounds: 1, warmMs: 200, measureMs: 500, parallel: 32 }
    : { subscribers: 1000, payloads: [32, 1024], rates: [10_000, 0], soloRate: 10_000, rounds: 2, warmMs: 500, measureMs: 2000, parallel: 32 };
  const redis = await benchRedis(options);
  printRedis(redis, options, quick);
  return { ...options, ...redis };
}

const rateLabel = (rate: number): string => (rate === 0 ? 'max (absorbed)' : `${rate.toLocaleString('en')}/s`);

function printRedis(result: RedisResult, options: RedisBenchOptions, quick: boolean): void {
  const timing = `median of ${options.rounds} round${options.rounds > 1 ? 's' : ''} × ${options.measureMs / 1000} s${quick ? `; quick: ${options.subscribers} subscribers per node (1,000 in the full run), shorter windows` : ''}`;
  print(
    `9. Two nodes and one Redis (${result.redisVersion}) on loopback, ws://, publisher in node A: publish → receipt on A (local) and on B (cross-node) (not pinned: 2 nodes, Redis and the client share the cores; ${timing}; clock check: monotonic skew ${result.clock.monotonicSkewMs} ms within a ${result.clock.roundTripMs} ms round trip)`,
    markdownTable(
      ['subscribers per node', 'payload', 'rate asked', 'publications/s', 'held back by credit', 'local deliveries/s (A)', 'cross-node deliveries/s (B)', 'local p50 ms', 'local p99 ms', 'cross-node p50 ms', 'cross-node p99 ms', 'client CPU %', 'other processes CPU %'],
      result.cells.map((c) => [c.subscribers.toLocaleString('en'), formatBytes(c.payload), rateLabel(c.rate), c.publicationsPerSec.toLocaleString('en'), `${c.heldBackPct} %`, c.localDeliveriesPerSec.toLocaleString('en'), c.crossDeliveriesPerSec.toLocaleString('en'), c.localP50Ms, c.localP99Ms, c.crossP50Ms, c.crossP99Ms, c.clientCpuPct, c.otherCpuPct]),
    ),
  );
  print(
    '9b. CPU: each node per delivery and per publication, Redis beside them (B ÷ A: taken within each round, then the median; target ≤ 2)',
    markdownTable(
      ['subscribers per node', 'payload', 'rate asked', 'A µs/local delivery', 'B µs/cross-node delivery', 'B ÷ A', 'per round', 'A µs/publication', 'B µs/message from Redis', 'Redis µs/publication', 'A CPU %', 'B CPU %', 'Redis CPU %', 'Redis CPU % (stat ticks)'],
      result.cells.map((c) => {
        const r = result.ratios.find((x) => x.subscribers === c.subscribers && x.payload === c.payload && x.rate === c.rate);
        return [c.subscribers.toLocaleString('en'), formatBytes(c.payload), rateLabel(c.rate), c.aCpuUsPerDelivery, c.bCpuUsPerDelivery, c.cpuRatio, r?.perRound.join(' / ') ?? '', c.aCpuUsPerPublication, c.bCpuUsPerMessage, c.redisCpuUsPerPublication, c.aCpuPct, c.bCpuPct, c.redisCpuPct, c.redisStatCpuPct];
      }),
    ),
  );
  const targets = result.cells.filter((c) => c.rate === options.soloRate);
  print(
    `9c. Targets: p99 cross-node latency < 2 ms at ${options.soloRate.toLocaleString('en')} publications/s asked; B's CPU per cross-node delivery ÷ A's per local delivery ≤ 2`,
    markdownTable(
      ['subscribers per node', 'payload', 'publications/s achieved', 'cross-node p99 ms', 'p99 < 2 ms', 'B ÷ A CPU per delivery', '≤ 2'],
      targets.map((c) => [c.subscribers.toLocaleString('en'), formatBytes(c.payload), c.publicationsPerSec.toLocaleString('en'), c.crossP99Ms, c.publicationsPerSec < 0.95 * c.rate ? `rate not reached` : c.crossP99Ms < 2 ? 'yes' : 'no', c.cpuRatio, c.cpuRatio <= 2 ? 'yes' : 'no']),
    ),
  );
}
