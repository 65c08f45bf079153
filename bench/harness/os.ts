// What the bench asks of the operating system (Linux): CPU pinning with
// taskset, CPU time of processes that cannot report their own (the CLI and
// its workers, redis-server) and of the whole machine from /proc, and the
// open-file limit that caps how many connections a case can hold.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPUs for the server child and for this process (the load client), when pinning is possible. */
export interface Pinning {
  server: number;
  client: number;
}

/**
 * The first two CPUs this process may run on: the server children get the
 * first, this process (the load client) the second — or undefined where there
 * is no taskset or fewer than 2 CPUs.
 */
export function pinningPlan(): Pinning | undefined {
  if (availableParallelism() < 2) return undefined;
  let listing: string;
  try {
    // "pid 123's current affinity list: 0-3,6"
    listing = execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const cpus: number[] = [];
  for (const range of listing.slice(listing.lastIndexOf(':') + 1).trim().split(',')) {
    const [from, to = from] = range.split('-').map(Number);
    for (let cpu = from; cpu <= to && cpus.length < 2; cpu++) cpus.push(cpu);
  }
  return cpus.length === 2 && cpus.every(Number.isInteger) ? { server: cpus[0], client: cpus[1] } : undefined;
}

/**
 * Pins process `pid`, all its threads, to `cpu` — one CPU, or a taskset list
 * such as "0,1" (throws where taskset fails). A child inherits its parent's
 * CPUs: one started by a pinned bench runs on the bench's CPU unless given others.
 */
export function pinProcess(pid: number, cpu: number | string): void {
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });
}

/**
 * Pins this process, all its threads, to `cpu`. After the children are
 * started: they would inherit the mask, and start faster on both CPUs.
 */
export function pinSelf(cpu: number): void {
  pinProcess(process.pid, cpu);
}

/** CPU time (user + system) of a process and its children, in µs, from /proc (Linux): in whole ticks (10 ms at 100 Hz). */
export function treeCpuUs(pid: number): number {
  const hz = clockTicks();
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${pids[i]}/task`)) {
        for (const c of readFileSync(`/proc/${pids[i]}/task/${task}/children`, 'utf8').split(' ')) if (c.trim() !== '') pids.push(Number(c));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat (utime, stime), counted from the state field (3rd).
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return (ticks * 1e6) / hz;
}

let hzCache: number | undefined;
function clockTicks(): number {
  if (hzCache === undefined) {
    try {
      hzCache = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      hzCache = 100;
    }
  }
  return hzCache;
}

/**
 * A process's CPU time in µs, from the scheduler's ns: the first field of
 * /proc/PID/task/TID/schedstat, summed over its threads. Where a process
 * spends about 1 % of a core (redis-server in case 9: 2 ticks of stat in a
 * 2 s window), only this one resolves µs per publication. NaN where the
 * kernel has no schedstat.
 */
export function schedCpuUs(pid: number): number {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
  return ns / 1000;
}

/** Busy and total jiffies of all CPUs together (the first line of /proc/stat), and how many CPUs that is. */
export function machineJiffies(): { busy: number; total: number; cpus: number } {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const fields = lines[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    // Not busy: idle and iowait.
    return { busy: total - fields[3] - (fields[4] ?? 0), total, cpus: lines.filter((l) => /^cpu\d/.test(l)).length };
  } catch {
    return { busy: NaN, total: NaN, cpus: NaN };
  }
}

/** The soft limit on open files that this process and its children have, or undefined if unknown. */
export function openFileLimit(): number | undefined {
  try {
    const n = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) ? n : undefined; // 'unlimited' → NaN → unknown, i.e. no cap
  } catch {
    return undefined;
  }
}
