// The parent's side of the server children (bench/echo-server.ts): start one
// (pinned to a CPU with taskset where it exists), ask it for its CPU time and
// memory, and make sure every child is gone when the bench ends, however it ends.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BareMode, ExitRequest, ReadyMessage, ServerKind, UsageReply, UsageRequest } from './echo-server.js';

export type { BareMode, ServerKind, UsageReply } from './echo-server.js';

const entry = fileURLToPath(new URL('./echo-server.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const live = new Set<ChildProcess>();

/** CPUs for the server child and for this process (the load client), when pinning is possible. */
export interface Pinning {
  server: number;
  client: number;
}

/**
 * Pins this process (all its threads) to one CPU and returns the CPU the
 * server children should use, or undefined where there is no taskset or
 * fewer than 2 CPUs. Server and client then never share a core.
 */
export function pinClient(): Pinning | undefined {
  if (availableParallelism() < 2) return undefined;
  try {
    execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
    return { server: 0, client: 1 };
  } catch {
    return undefined;
  }
}

export class ServerProcess {
  readonly kind: ServerKind;
  readonly mode: BareMode;
  readonly port: number;
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: UsageReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(kind: ServerKind, mode: BareMode, child: ChildProcess, port: number) {
    this.kind = kind;
    this.mode = mode;
    this.child = child;
    this.port = port;
    child.on('message', (message: unknown) => {
      const msg = message as UsageReply;
      const waiter = this.pending.get(msg.id);
      if (msg.type !== 'usage' || waiter === undefined) return;
      this.pending.delete(msg.id);
      clearTimeout(waiter.timer);
      waiter.resolve(msg);
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`${kind} server exited (${signal ?? code})`));
      }
      this.pending.clear();
    });
  }

  /** Starts `echo-server.ts kind mode` and waits (≤ 20 s) for its port. */
  static start(kind: ServerKind, mode: BareMode, pin: Pinning | undefined): Promise<ServerProcess> {
    const node = [process.execPath, '--import', 'tsx', '--expose-gc', entry, kind, mode];
    const [command, ...args] = pin === undefined ? node : ['taskset', '-c', String(pin.server), ...node];
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    child.on('exit', () => live.delete(child));
    return new Promise((resolve, reject) => {
      const onReady = (msg: unknown): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', fail);
        child.on('error', () => {});
        resolve(new ServerProcess(kind, mode, child, (msg as ReadyMessage).port));
      };
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.off('message', onReady);
        child.kill('SIGKILL');
        reject(error);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(new Error(`${kind} server exited before it was ready (${signal ?? code})`));
      const timer = setTimeout(() => fail(new Error(`${kind} server did not start within 20 s`)), 20_000);
      child.once('error', fail);
      child.once('exit', onExit);
      child.once('message', onReady);
    });
  }

  /** The child's CPU time and memory now (after a full GC when `gc`). */
  usage(gc = false): Promise<UsageReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.kind} server did not answer a usage request within 10 s`));
      }, 10_000);
      this.pending.set(id, { resolve, reject, timer });
      const request: UsageRequest = { type: 'usage', id, gc };
      this.child.send(request);
    });
  }

  /** Asks the child to exit; kills it if it has not within a second. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const bye: ExitRequest = { type: 'exit' };
    if (this.child.connected) this.child.send(bye);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts several children at once (their start-up is mostly module loading). */
export async function startServers(specs: [ServerKind, BareMode][], pin: Pinning | undefined): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(specs.map(([kind, mode]) => ServerProcess.start(kind, mode, pin)));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(servers.map((s) => s.stop()));
    throw failed.reason;
  }
  return servers;
}

/** Synchronous last resort (process 'exit', signals): kill every child still alive. */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}
