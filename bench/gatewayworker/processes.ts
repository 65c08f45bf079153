// Case 12's processes besides the bench's own: Workerman process trees (this
// folder's start.php — a Register and the BusinessWorkers, or a PHP Gateway —
// and the FAQ's echo.php) and the wssd command line, compiled as deployed
// (harness/server-process.ts). Each is started pinned with `taskset -c` where
// the bench pins (the bench process is pinned to the client's CPU, and a
// child would inherit that), and reports the pids whose CPU time the case
// reads from /proc: Workerman forks its workers from a master, and the one
// measured is the child whose title names it ("WorkerMan: worker process
// gateway websocket://…").
//
// A Workerman tree is spawned detached, a process group of its own, and
// tracked as one (harness/children.ts): if the bench dies, its workers die
// with it, not only the master.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killGroup, nodeFlags, ROOT, track } from '../harness/children.js';
import { withTimeout } from '../harness/load-client.js';
import { schedCpuUs, treeCpuUs } from '../harness/os.js';
import { compiledCli } from '../harness/server-process.js';

/** The vendored Workerman, GatewayWorker and their autoload.php (test/peers/workerman; WSSD_WORKERMAN_DIR to point elsewhere). */
export const WORKERMAN_DIR = process.env.WSSD_WORKERMAN_DIR ?? join(ROOT, 'test', 'peers', 'workerman');
/** php-cli with pcntl and posix (PHP to point elsewhere). */
export const PHP = process.env.PHP ?? 'php';

const startPhp = fileURLToPath(new URL('./start.php', import.meta.url));
const CERT = join(ROOT, 'certs', 'dev-cert.pem');
const KEY = join(ROOT, 'certs', 'dev-key.pem');

/** Why the case cannot run on this machine, or undefined when it can. */
export function phpMissing(): string | undefined {
  try {
    execFileSync(PHP, ['-r', 'exit(extension_loaded("pcntl") && extension_loaded("posix") ? 0 : 1);'], { stdio: 'ignore' });
  } catch {
    return `no ${PHP} with pcntl and posix (Debian: apt-get install php-cli; PHP=/path/to/php)`;
  }
  if (!existsSync(join(WORKERMAN_DIR, 'autoload.php')) || !existsSync(join(WORKERMAN_DIR, 'echo.php'))) return `no Workerman at ${WORKERMAN_DIR} (WSSD_WORKERMAN_DIR=…)`;
  return undefined;
}

/** `php -v`'s first line and Workerman's version, for the titles. */
export function phpVersion(): string {
  const php = execFileSync(PHP, ['-r', 'echo PHP_VERSION;'], { encoding: 'utf8' }).trim();
  let workerman = '?';
  try {
    workerman = /VERSION\s*=\s*'([^']+)'/.exec(readFileSync(join(WORKERMAN_DIR, 'vendor/workerman/src/Worker.php'), 'utf8'))?.[1] ?? '?';
  } catch {
    // Unknown.
  }
  return `PHP ${php}, Workerman ${workerman}`;
}

/** CPU time of these processes, µs: the scheduler's ns (all threads), or stat's ticks where there is no schedstat. */
export function cpuUs(pids: readonly number[]): number {
  let us = 0;
  for (const pid of pids) {
    const sched = schedCpuUs(pid);
    us += Number.isNaN(sched) ? treeCpuUs(pid) : sched;
  }
  return us;
}

function pinned(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}

/** Resolves once `pattern` has appeared `times` times in what the child wrote (stdout and stderr); rejects if it exits first. */
function waitForOutput(child: ChildProcess, pattern: RegExp, times: number, what: string): Promise<string> {
  let log = '';
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if ((log.match(new RegExp(pattern.source, 'g')) ?? []).length >= times) {
        child.off('exit', onExit);
        resolve(log);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => reject(new Error(`${what} exited (${signal ?? code}): ${log.slice(-2000)}`));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
  return withTimeout(ready, 30_000, `starting ${what}`);
}

/** A started process (and, for Workerman, its workers): the pids to measure, and stop(). */
export class Started {
  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    /** The processes whose CPU time is this one's (a Workerman worker, the wssd process). */
    readonly measured: readonly number[],
    /** A Workerman tree: stopped with SIGINT to the master, its group killed afterwards. */
    private readonly tree: boolean,
  ) {}

  get pid(): number {
    return this.child.pid ?? 0;
  }

  cpuUs(): number {
    return cpuUs(this.measured);
  }

  /** SIGINT to Workerman's master (it stops its workers, in about 3 s) or SIGTERM to wssd; SIGKILL after 8 s; then nothing of it is left. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(this.tree ? 'SIGINT' : 'SIGTERM');
      const timer = setTimeout(() => (this.tree ? killGroup(child) : child.kill('SIGKILL')), 8000);
      await exited;
      clearTimeout(timer);
    }
    if (this.tree) killGroup(child);
  }
}

/** The direct children of `pid` whose command line (Workerman's process title) contains `fragment`. */
function childrenTitled(pid: number, fragment: string): number[] {
  const found: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) {
      if (c.trim() === '') continue;
      try {
        if (readFileSync(`/proc/${c}/cmdline`, 'utf8').includes(fragment)) found.push(Number(c));
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return found;
}

/** Starts a Workerman script (its master in a process group of its own); resolves once it says "Start success" and its `count` workers titled `fragment` are there. */
async function startWorkerman(name: string, script: string, args: string[], cpu: number | undefined, fragment: string, count: number): Promise<Started> {
  const [command, argv] = pinned(cpu, PHP, [script, ...args]);
  const child = track(spawn(command, argv, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WORKERMAN_DIR } }), true);
  try {
    await waitForOutput(child, /Start success/, 1, name);
    child.stdout?.resume();
    child.stderr?.resume();
    const pid = child.pid ?? 0;
    const deadline = performance.now() + 10_000;
    let workers = childrenTitled(pid, fragment);
    while (workers.length < count) {
      if (performance.now() > deadline) throw new Error(`${name}: ${workers.length} of ${count} "${fragment}" workers after 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      workers = childrenTitled(pid, fragment);
    }
    return new Started(name, child, workers, true);
  } catch (error) {
    killGroup(child);
    throw error;
  }
}

/** A Register and `workers` BusinessWorkers running this folder's Events.php; measured: the BusinessWorkers. */
export function startBusiness(registerPort: number, workers: number, cpu: number | undefined): Promise<Started> {
  return startWorkerman('Register + BusinessWorker', startPhp, ['business', String(registerPort), String(workers)], cpu, 'worker process  business', workers);
}

/** The PHP Gateway (count 1, ws://127.0.0.1:port, its LAN port lanPort); measured: its worker. */
export function startPhpGateway(registerPort: number, port: number, lanPort: number, accelerate: boolean, cpu: number | undefined): Promise<Started> {
  return startWorkerman('PHP Gateway', startPhp, ['gateway', String(registerPort), String(port), String(lanPort), ...(accelerate ? ['--accelerate'] : [])], cpu, 'worker process  gateway', 1);
}

/** The FAQ's method 2: Workerman's websocket:// with transport 'ssl', echoing binary (echo.php --tls, one worker); measured: its worker. */
export function startWorkermanEcho(port: number, cpu: number | undefined): Promise<Started> {
  return startWorkerman('Workerman echo over TLS', join(WORKERMAN_DIR, 'echo.php'), ['--port', String(port), '--tls', CERT, KEY], cpu, 'worker process', 1);
}

/** The wssd command line, one process, with `args` after --host/--port; measured: that process. */
async function startWssd(name: string, port: number, args: string[], cpu: number | undefined): Promise<Started> {
  const [command, argv] = pinned(cpu, process.execPath, [...nodeFlags(), compiledCli(), '--host', '127.0.0.1', '--port', String(port), '--ping-interval', '0', ...args]);
  const child = track(spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await waitForOutput(child, /wssd listening on/, 1, name);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  return new Started(name, child, [child.pid ?? 0], false);
}

/** wssd as the Gateway: `--gateway-register`, its LAN port lanPort; plain ws:// or (tls) wss:// with the dev certificate. */
export function startWssdGateway(registerPort: number, port: number, lanPort: number, tls: boolean, cpu: number | undefined): Promise<Started> {
  const transport = tls ? ['--cert', CERT, '--key', KEY] : ['--plain'];
  return startWssd(`wssd Gateway${tls ? ' (wss://)' : ''}`, port, [...transport, '--gateway-register', `127.0.0.1:${registerPort}`, '--gateway-lan', `127.0.0.1:${lanPort}`], cpu);
}

/** wssd's own echo (no --app) over TLS with the dev certificate. */
export function startWssdEcho(port: number, cpu: number | undefined): Promise<Started> {
  return startWssd('wssd echo over TLS', port, ['--cert', CERT, '--key', KEY], cpu);
}
