// What both parts of case 10 (api.ts) share: its node children (api-node.ts,
// compiled), medians over rounds, and the CPU shares a cell reports beside
// its figures.
import { Child } from '../harness/children.js';
import { compiledServer } from '../harness/compiled.js';
import { median, sig } from '../harness/measure.js';
import type { machineJiffies } from '../harness/os.js';
import type { NodeReply, NodeRequest, NodeUsage } from './api-requests.js';

export type NodeChild = Child<NodeRequest, NodeReply>;

/** Starts a node (api-node.ts, compiled), on `cpu` once ready, joined to the Redis at `redisUrl` if given. */
export function startNode(name: string, cpu: number | string | undefined, redisUrl?: string): Promise<NodeChild> {
  const entry = compiledServer(new URL('./tsconfig.servers.json', import.meta.url), 'bench/api/api-node.js');
  // It closes its server (and its Redis connections) before it exits.
  return Child.start<NodeRequest, NodeReply>({ name: `API node ${name}`, args: ['--expose-gc', entry, ...(redisUrl === undefined ? [] : [redisUrl])], cpu, exitGraceMs: 2000 });
}

export const usage = (node: NodeChild): Promise<NodeUsage> => node.request<'usage'>({ type: 'usage' });

/** Medians over rounds of every numeric field (3 significant figures; whole numbers stay whole). */
export function medianOf<T extends object>(samples: T[]): T {
  const out: Record<string, unknown> = { ...(samples[0] as Record<string, unknown>) };
  for (const [key, value] of Object.entries(out)) {
    if (typeof value === 'number') out[key] = sig(median(samples.map((s) => (s as Record<string, number>)[key])));
  }
  return out as T;
}

/** The client's CPU and the wall time of a window, for its CPU %. */
export function clientCpuPct(c: NodeJS.CpuUsage, wallMs: number): number {
  return Math.round((100 * (c.user + c.system)) / (wallMs * 1000));
}

/**
 * The rest of the machine over a window, % of one core: all cores' busy time
 * (/proc/stat) less what the bench's own processes spent (`ownUs`). Other
 * work on the machine takes cores from the nodes: their latency tails and
 * throughput are read beside it.
 */
export function otherCpuPct(m0: ReturnType<typeof machineJiffies>, m1: ReturnType<typeof machineJiffies>, ownUs: number, wallMs: number): number {
  return Math.round((100 * m1.cpus * (m1.busy - m0.busy)) / (m1.total - m0.total) - (100 * ownUs) / (wallMs * 1000));
}
