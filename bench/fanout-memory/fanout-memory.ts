// Case 7d: memory under fan-out. One server process over TLS, 50 subscribers
// that read and 1 that never reads, `count` publications of `size` bytes to
// one topic, paced (memory-server.ts), three runs in a row on the same server
// and connections; the server's RSS after each run, its V8 heap and external
// memory after the last, and its RSS after a full GC (what the allocator
// keeps once V8 has freed everything it can).
//
// Servers, each in a child of its own, started together and run interleaved
// (run 1 of each, then run 2 of each…, the order turning from run to run), so
// they see the same machine: wssd with glibc primed as the CLI primes it,
// wssd without the priming (its share), wssd with a loop of send() instead
// of publish, and with --ws PATH the `ws` package with its README's
// broadcast loop. Each round starts fresh children. The readers are case 7's
// checked receivers (bench/harness/subscribers.ts): a gap, a repeat or a
// broken frame fails the run.
import type net from 'node:net';
import { Child } from '../harness/children.js';
import { compiledServer } from '../harness/compiled.js';
import { closeAll, open, openMany, settle, sleep } from '../harness/load-client.js';
import type { Pinning } from '../harness/os.js';
import { PublicationStats } from '../harness/publications.js';
import { Subscribers } from '../harness/subscribers.js';
import type { MemoryReply, MemoryRequest, MemoryServerKind, MemoryUsage } from './memory-server.js';

type MemoryChild = Child<MemoryRequest, MemoryReply>;

export interface FanoutMemoryOptions {
  readers: number;
  count: number;
  size: number;
  /** Publications per timer tick, and the tick's interval. */
  burst: number;
  intervalMs: number;
  runs: number;
  rounds: number;
  /** Wait after the readers have everything, before reading memory. */
  settleMs: number;
  ca: Buffer;
  wsPath?: string;
}

export interface FanoutMemorySample {
  server: MemoryServerKind;
  round: number;
  /** Before the first run, the connections open. */
  before: MemoryUsage;
  /** After each run, once every reader has received every publication (no forced GC). */
  afterRun: MemoryUsage[];
  /** After the last run and a full GC. */
  afterGc: MemoryUsage;
  /** Each run's publishing time, ms. */
  runMs: number[];
}

/** Starts memory-server.ts `kind` (compiled), on the server's CPU once ready. */
function startServer(kind: MemoryServerKind, pin: Pinning | undefined, wsPath: string | undefined): Promise<MemoryChild> {
  const entry = compiledServer(new URL('./tsconfig.servers.json', import.meta.url), 'bench/fanout-memory/memory-server.js');
  // A run at the slowest pace takes seconds, and a slow machine more.
  return Child.start<MemoryRequest, MemoryReply>({ name: `fan-out memory ${kind} server`, args: ['--expose-gc', entry, kind, ...(wsPath === undefined ? [] : [wsPath])], cpu: pin?.server, requestTimeoutMs: 120_000 });
}

const usage = (child: MemoryChild, gc = false): Promise<MemoryUsage> => child.request<'usage'>({ type: 'usage', gc });

/** One server's connections: the readers, each checking every publication, and the one that never reads. */
class Audience {
  readonly kind: MemoryServerKind;
  readonly child: MemoryChild;
  readonly readers: Subscribers;
  private readonly stalled: net.Socket;
  private closing = false;

  constructor(kind: MemoryServerKind, child: MemoryChild, readers: { socket: net.Socket; rest: Buffer }[], stalled: net.Socket, size: number) {
    this.kind = kind;
    this.child = child;
    const stats = new PublicationStats(1);
    this.readers = new Subscribers(readers, stats);
    // Sequence numbers go on across runs: one receiver each for all of them.
    this.readers.reset(size);
    // `stalled` stays paused: node:tls stops reading it once its 16 KiB are buffered, then TCP pushes back.
    this.stalled = stalled;
    stalled.on('close', () => {
      if (!this.closing) stats.fail(new Error(`${kind}: the subscriber that never reads was disconnected`));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.readers.close(), closeAll([this.stalled])]);
  }
}

export async function benchFanoutMemory(options: FanoutMemoryOptions, pin: Pinning | undefined): Promise<FanoutMemorySample[]> {
  const kinds: MemoryServerKind[] = ['wssd', 'wssd-unprimed', 'wssd-send', ...(options.wsPath === undefined ? [] : (['ws'] as const))];
  const samples: FanoutMemorySample[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const children = await Promise.all(kinds.map((kind) => startServer(kind, pin, options.wsPath)));
    const audiences: Audience[] = [];
    try {
      for (const [i, child] of children.entries()) {
        const target = { port: child.port, tls: true, websocket: true, ca: options.ca };
        const readers = await openMany(target, options.readers, 10);
        const stalled = (await open(target)).socket;
        audiences.push(new Audience(kinds[i], child, readers, stalled, options.size));
        await settle(`fan-out memory ${kinds[i]}`, async () => {
          const open = (await usage(child)).connections;
          return open === options.readers + 1 ? undefined : `${open} connections open, expected ${options.readers + 1}`;
        });
      }
      await sleep(options.settleMs);
      const before = await Promise.all(audiences.map((a) => usage(a.child)));
      const afterRun: MemoryUsage[][] = audiences.map(() => []);
      const runMs: number[][] = audiences.map(() => []);
      for (let run = 0; run < options.runs; run++) {
        // The order turns from run to run (and round to round): no server always goes first.
        for (let k = 0; k < audiences.length; k++) {
          const i = (k + run + round) % audiences.length;
          const a = audiences[i];
          const { count, size, burst, intervalMs } = options;
          const ran = await a.child.request<'ran'>({ type: 'run', count, size, burst, intervalMs });
          await a.readers.allReceived(ran.published, a.kind);
          await sleep(options.settleMs);
          runMs[i].push(Math.round(ran.ms));
          afterRun[i].push(await usage(a.child));
        }
      }
      for (const [i, a] of audiences.entries()) {
        samples.push({ server: a.kind, round, before: before[i], afterRun: afterRun[i], afterGc: await usage(a.child, true), runMs: runMs[i] });
      }
    } finally {
      await Promise.all(audiences.map((a) => a.close()));
      await Promise.all(children.map((c) => c.stop()));
    }
  }
  return samples;
}
