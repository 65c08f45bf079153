// Case 9's redis-server (Debian's package), as test/helpers/redis-server.ts
// runs one for the tests: on a free loopback port, with its own temporary
// directory and no persistence, stopped by PID at the end — by stop(), or by
// killRedisServers() from the bench's 'exit' and signal handlers when the
// bench ends any other way. Its CPU time is read from /proc, as it is not a
// Node process that could report its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { treeCpuUs } from '../fanout/fanout.js';
import { sleep } from '../harness/load-client.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Every redis-server this process started and has not yet seen exit, with its directory. */
const live = new Map<ChildProcess, string>();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address !== null && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class RedisProcess {
  private constructor(
    readonly port: number,
    readonly pid: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  /** Starts redis-server and waits (≤ 5 s) until it accepts connections; a missing redis-server names its package. */
  static async start(): Promise<RedisProcess> {
    if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is not installed: case 9 needs Debian's redis-server (\`apt-get install redis-server\`)`);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'wssd-bench-redis-'));
    // No RDB snapshots, no AOF: pub/sub and a few counters, nothing to keep.
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.set(child, dir);
    let log = '';
    const keep = (d: Buffer): void => {
      log = (log + d.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('error', (error) => {
      log += `\n${error.message}`;
    });
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    });
    const deadline = performance.now() + 5000;
    const pid = child.pid;
    while (pid === undefined || !(await canConnect(port))) {
      if (exited || pid === undefined || performance.now() > deadline) {
        child.kill('SIGKILL');
        live.delete(child);
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`redis-server on port ${port} did not start (log: ${log.slice(-300)})`);
      }
      await sleep(20);
    }
    return new RedisProcess(port, pid, child, dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Its CPU time (user + system, all its threads), µs, from /proc/PID/stat and getconf CLK_TCK: in whole ticks (10 ms at 100 Hz). */
  cpuUs(): number {
    return treeCpuUs(this.pid);
  }

  /**
   * Its CPU time in ns, from the scheduler: the first field of
   * /proc/PID/task/TID/schedstat, summed over its threads. Redis spends
   * about 1 % of a core here, 2 ticks of stat in a 2 s window, so only this
   * one resolves µs per publication. NaN where the kernel has no schedstat.
   */
  cpuUsFine(): number {
    let ns = 0;
    try {
      for (const task of readdirSync(`/proc/${this.pid}/task`)) ns += Number(readFileSync(`/proc/${this.pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      return NaN;
    }
    return ns / 1000;
  }

  /** Kills it by PID and waits for it to be gone; its directory goes with it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.pid, 'SIGKILL');
    await gone;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Synchronous last resort (process 'exit', signals): kill every redis-server still alive, by PID, and remove its directory. */
export function killRedisServers(): void {
  for (const [child, dir] of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}
