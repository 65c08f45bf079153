// Case 7 as `npm run bench` runs it: subscriber counts (--subscribers, or
// 1,000 and 10,000; 200 in the quick run), rounds and windows, 7c (--workers)
// in the full run only, and its tables: 7, 7b (the ratios) and 7c.
import { formatBytes, markdownTable, print } from '../harness/measure.js';
import { openFileLimit, type Pinning } from '../harness/os.js';
import type { FanoutChild } from './fanout-child.js';
import { benchFanout, BURST, clockCheck } from './fanout.js';
import { benchWorkers } from './workers.js';

export interface FanoutCaseOptions {
  quick: boolean;
  /** --subscribers: a comma-separated list. */
  subscribersAsked: string | undefined;
  /** A wss, ws, tls and net fan-out server, started with the other children. */
  children: readonly FanoutChild[];
  ca: Buffer;
  pin: Pinning | undefined;
  /** How the processes are pinned, for the title. */
  pinNote: string;
  /** Ends the time budget's laps "fanout" and "fanout workers". */
  lap: (name: string) => void;
}

/** Measures and prints case 7; returns its figures for the JSON line. */
export async function runFanoutCase(options: FanoutCaseOptions): Promise<Record<string, unknown>> {
  const { quick, subscribersAsked, children, ca, pin, pinNote, lap } = options;
  // Quick: 200 subscribers, 0.2 s windows, one round and no --workers cells
  // (starting the CLI and its workers under tsx takes seconds each): the
  // whole quick run has about a minute.
  const subscribers = subscribersAsked !== undefined ? subscribersAsked.split(',').map(Number) : quick ? [200] : [1000, 10_000];
  const limit = openFileLimit();
  const most = Math.max(...subscribers);
  if (limit !== undefined && limit < most + 200) throw new Error(`case 7 needs ${most} sockets here and in the server: ulimit -n is ${limit}`);
  const rounds = quick ? 1 : 2;
  const measureMs = quick ? 200 : 2000;
  const warmMs = quick ? 100 : 500;
  const clock = await clockCheck(children[0]);
  const fanout = await benchFanout(children, { subscribers, payloads: [32, 1024], rounds, warmMs, measureMs, ca, parallel: 32 });
  lap('fanout');
  const workersSubscribers = 1000;
  const workers = quick ? undefined : await benchWorkers({ subscribers: workersSubscribers, payload: 32, rounds, warmMs, measureMs, ca, parallel: 32, window: 64 * BURST, transports: ['tls', 'plain'] }, pin);
  if (!quick) lap('fanout workers');
  const timing = `${rounds} round${rounds > 1 ? 's' : ''} × ${measureMs / 1000} s${quick ? ', quick: fewer subscribers, shorter windows' : ''}`;
  print(
    `7. Fan-out: 1 publisher in the server process, ${BURST} publications per tick, to every subscriber (${pinNote}; median of ${timing}; clock check: monotonic skew ${clock.monotonicSkewMs} ms within a ${clock.roundTripMs} ms round trip, timeOrigin would be off by ${clock.timeOriginSkewMs} ms)`,
    markdownTable(
      ['transport', 'subscribers', 'payload', 'server', 'deliveries/s', 'server CPU µs/delivery', 'server CPU %', 'client CPU %', 'client received/s', 'publisher waits/s', 'p50 ms', 'p99 ms'],
      fanout.cells.map((c) => [c.transport, c.subscribers.toLocaleString('en'), formatBytes(c.payload), c.server, c.deliveriesPerSec.toLocaleString('en'), c.serverCpuUsPerDelivery, c.serverCpuPct, c.clientCpuPct, c.receivedPerSec.toLocaleString('en'), c.waitsPerSec, c.p50Ms, c.p99Ms]),
    ),
  );
  print(
    '7b. Server CPU per delivery: wssd publish ÷ bare floor (target ≤ 1.25) and ÷ naive send() loop (target ≤ 0.5), each ratio taken within a round, then the median',
    markdownTable(
      ['transport', 'subscribers', 'payload', 'publish µs', 'bare µs', 'naive µs', 'publish ÷ bare', 'per round', 'publish ÷ naive', 'per round'],
      fanout.ratios.map((r) => [r.transport, r.subscribers.toLocaleString('en'), formatBytes(r.payload), r.publishUs, r.bareUs, r.naiveUs, r.publishVsBare, r.publishVsBareRounds.join(' / '), r.publishVsNaive, r.publishVsNaiveRounds.join(' / ')]),
    ),
  );
  if (workers === undefined) process.stdout.write('\n(7c, --workers 2 against --workers 1, runs in the full bench only.)\n');
  else print(
    `7c. --workers 2 vs --workers 1 (the CLI, --app bench/fanout/fanout-app.ts): ${workersSubscribers.toLocaleString('en')} subscribers, 32 B, publisher in one worker, server processes on both CPUs (target: ratio ≥ 1.6; median of ${timing})`,
    markdownTable(
      ['transport', 'workers', "subscribers in the publisher's worker", 'deliveries/s', 'server CPU µs/delivery (all processes)', 'server CPU %', 'client CPU %', 'p50 ms', 'p99 ms', '2 ÷ 1 deliveries/s', 'per round'],
      workers.pairs.flatMap((p) => [
        [p.transport, 1, p.one.local, p.one.deliveriesPerSec.toLocaleString('en'), p.one.serverCpuUsPerDelivery, p.one.serverCpuPct, p.one.clientCpuPct, p.one.p50Ms, p.one.p99Ms, '', ''],
        [p.transport, 2, p.two.local, p.two.deliveriesPerSec.toLocaleString('en'), p.two.serverCpuUsPerDelivery, p.two.serverCpuPct, p.two.clientCpuPct, p.two.p50Ms, p.two.p99Ms, p.ratio, p.ratioRounds.join(' / ')],
      ]),
    ),
  );
  return { rounds, measureMs, burst: BURST, clock, cells: fanout.cells, ratios: fanout.ratios, perRound: fanout.rounds, workers: workers ?? null };
}
