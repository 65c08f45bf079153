// The parent's side of the bench's child processes (the child's side:
// parent-link.ts). Child.start() runs a node script with an IPC channel,
// waits for its ready message and the port in it, and pins it to a CPU if
// asked; request() sends a message with a fresh id and resolves with the
// reply that carries it; stop() asks the child to exit and kills it if it has
// not within a grace period. Every child the bench starts (these, and the
// CLI processes of case 7c) is tracked, and killAllChildren() — from the
// bench's 'exit' and signal handlers — kills those still alive (and the
// process groups of the Workerman trees of case 10), so that none outlives
// the bench however it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinProcess } from './os.js';
import type { ExitRequest, ReadyMessage } from './parent-link.js';

/** The repository, every child's working directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const live = new Set<ChildProcess>();
/** Children spawned `detached` that fork processes of their own (Workerman's master and workers): killed as a process group. */
const groups = new Set<ChildProcess>();

/**
 * Adds `child` to those killAllChildren() kills, until it exits. `group`: the
 * child was spawned `detached` (a process group of its own) and forks
 * children that would outlive it; its whole group is killed.
 */
export function track(child: ChildProcess, group = false): ChildProcess {
  live.add(child);
  if (group) groups.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

/** Synchronous last resort (process 'exit', signals): kill every child still alive, and every process of a tracked group. */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  for (const child of [...groups]) killGroup(child);
  live.clear();
}

/**
 * SIGKILL to the process group of a child spawned `detached` (its own pid is
 * the group's id), then forgets it; nothing if the group is already gone.
 */
export function killGroup(child: ChildProcess): void {
  groups.delete(child);
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is gone.
  }
}

/**
 * BENCH_NODE_FLAGS: extra node flags for the server children only, to
 * profile a server under the bench's load (--cpu-prof, --perf-basic-prof).
 */
export function nodeFlags(): string[] {
  return (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
}

export interface ChildOptions {
  /** What it is, for errors: "wss server", "fan-out tls server", "node A". */
  name: string;
  /** node's arguments after BENCH_NODE_FLAGS: its own flags, the script, the script's arguments. */
  args: string[];
  /**
   * A CPU to pin the child to once it is ready: it starts on any (start-up
   * is module loading, and several start at once), and is pinned before any
   * measurement. One CPU, or a taskset list ("0,1").
   */
  cpu?: number | string;
  /** How long a request may wait for its reply (default 20 s). */
  requestTimeoutMs?: number;
  /** After asking it to exit, how long before it is killed (default 1 s). */
  exitGraceMs?: number;
  /** Environment variables to set beside the bench's own (NODE_EXTRA_CA_CERTS, say). */
  env?: Record<string, string>;
}

/** node's arguments for a child that runs `script` (TypeScript) under tsx, with --expose-gc for its full-GC readings. */
export function underTsx(script: string, ...args: string[]): string[] {
  return ['--import', 'tsx', '--expose-gc', script, ...args];
}

/** A union of messages, each without its id (request() gives it one). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Waiter<Reply> {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A server child: its Request messages in, its Reply messages (each with the id of its request) out. */
export class Child<Request extends { type: string }, Reply extends { type: string; id: number }> {
  readonly name: string;
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly requestTimeoutMs: number;
  private readonly exitGraceMs: number;
  private nextId = 0;
  private readonly pending = new Map<number, Waiter<Reply>>();

  private constructor(child: ChildProcess, port: number, options: ChildOptions) {
    this.name = options.name;
    this.child = child;
    this.port = port;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 20_000;
    this.exitGraceMs = options.exitGraceMs ?? 1000;
    child.on('message', (message: unknown) => {
      const reply = message as Reply;
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      clearTimeout(waiter.timer);
      waiter.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`${options.name} exited (${signal ?? code})`));
      }
      this.pending.clear();
    });
  }

  /** Starts the child and waits (≤ 20 s) for its ready message. */
  static start<Request extends { type: string }, Reply extends { type: string; id: number }>(options: ChildOptions): Promise<Child<Request, Reply>> {
    const env = options.env === undefined ? process.env : { ...process.env, ...options.env };
    const child = track(spawn(process.execPath, [...nodeFlags(), ...options.args], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    return new Promise((resolve, reject) => {
      const onReady = (message: unknown): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', fail);
        child.on('error', () => {});
        if (options.cpu !== undefined && child.pid !== undefined) {
          try {
            pinProcess(child.pid, options.cpu);
          } catch (error) {
            fail(error instanceof Error ? error : new Error(String(error)));
            return;
          }
        }
        resolve(new Child<Request, Reply>(child, (message as ReadyMessage).port, options));
      };
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.off('message', onReady);
        child.kill('SIGKILL');
        reject(error);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(new Error(`${options.name} exited before it was ready (${signal ?? code})`));
      const timer = setTimeout(() => fail(new Error(`${options.name} did not start within 20 s`)), 20_000);
      child.once('error', fail);
      child.once('exit', onExit);
      child.once('message', onReady);
    });
  }

  /** The child's process id, for readings from /proc. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Sends `message` with a fresh id; resolves with the child's reply to it, of type T. */
  request<T extends Reply['type']>(message: WithoutId<Extract<Request, { id: number }>>): Promise<Extract<Reply, { type: T }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer a ${message.type} request within ${this.requestTimeoutMs / 1000} s`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve: (r) => resolve(r as Extract<Reply, { type: T }>), reject, timer });
      this.child.send({ ...message, id });
    });
  }

  /** Sends a message that has no reply, if the child is still there. */
  send(message: Exclude<Request, { id: number }>): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Asks the child to exit; kills it if it has not within the grace period. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const bye: ExitRequest = { type: 'exit' };
    if (this.child.connected) this.child.send(bye);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), this.exitGraceMs);
    await exited;
    clearTimeout(timer);
  }
}
