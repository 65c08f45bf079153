// A real redis-server (Debian's package) for the tests: started by the test
// on a free loopback port with its own temporary directory (so its data and
// its AOF/RDB files are its own), stopped by PID. It can be killed and
// started again on the same port with the same data, or with none. A missing
// redis-server fails the test and names the package — never a skip.
//
// The bench's case 9 runs its redis-server with this too (bench/redis/): it
// reads the server's CPU time from /proc by its pid, and calls
// killRedisServers() from its 'exit' and signal handlers, so that no
// redis-server outlives it however it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { eventually } from './poll.js';
import { CERTS_DIR } from './raw-client.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Fails, naming the package, where redis-server is missing; `who` needs it ("these tests need", "case 9 of the bench needs"). */
export function requireRedis(who = 'these tests need'): void {
  if (existsSync(REDIS_SERVER)) return;
  const where = process.env['CI'] === 'true' ? 'CI must install it in .ci/run' : 'install it on this machine';
  throw new Error(`${REDIS_SERVER} is not installed: ${who} Debian's redis-server — ${where} with \`apt-get install redis-server\`.`);
}

/** Every server started and not yet stopped, for killRedisServers(). */
const started = new Set<RedisServer>();

/**
 * Synchronous last resort (process 'exit', signals): kills every
 * redis-server started here and not yet stopped, by PID, and removes its
 * directory.
 */
export function killRedisServers(): void {
  for (const server of started) server.killNow();
  started.clear();
}

export interface RedisServerOptions {
  /** Extra configuration lines as arguments ("--appendonly", "yes", …). */
  args?: string[];
  /** Serve TLS only (rediss://), with the dev certificate of certs/ (for "localhost"). */
  tls?: boolean;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  readonly dir: string;
  readonly log: string[] = [];

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'wssd-redis-'));
    started.add(this);
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    requireRedis();
    const server = new RedisServer(await freePort(), options);
    await server.run();
    return server;
  }

  get url(): string {
    return this.options.tls === true ? `rediss://localhost:${this.port}` : `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (again) on the same port and directory; `empty` first deletes its data. */
  async run(empty = false): Promise<void> {
    if (empty) {
      rmSync(join(this.dir, 'dump.rdb'), { force: true });
      rmSync(join(this.dir, 'appendonlydir'), { recursive: true, force: true });
    }
    const listen =
      this.options.tls === true
        ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', `${CERTS_DIR}dev-cert.pem`, '--tls-key-file', `${CERTS_DIR}dev-key.pem`, '--tls-ca-cert-file', `${CERTS_DIR}dev-ca.pem`, '--tls-auth-clients', 'no']
        : ['--port', String(this.port)];
    const args = [...listen, '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', ...(this.options.args ?? [])];
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => this.log.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => this.log.push(d.toString()));
    try {
      await eventually(() => canConnect(this.port), 5000, () => `redis-server listening on ${this.port} (log: ${this.log.join('').slice(-300)})`);
    } catch (error) {
      // One that never listened is not left running.
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** Kills it (SIGKILL: no chance to save), waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await gone;
  }

  async stop(): Promise<void> {
    started.delete(this);
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** kill() and stop() without waiting, for killRedisServers(). */
  killNow(): void {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
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
