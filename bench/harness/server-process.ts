// The parent's side of the server children (bench/harness/echo-server.ts): start one
// (pinned to a CPU with taskset where it exists), ask it for its CPU time and
// memory, and make sure every child is gone when the bench ends, however it ends.
//
// The children run compiled JavaScript, as a deployed server does, not under
// tsx: tsx's loader keeps about 1.4 MB in the heap, which put the wssd
// child's old generation (6.5 MB after a full GC without it) past 8 MB, V8's
// threshold below which incremental marking is not started for allocation —
// at 64 KiB × 16 in flight the child then ran 4–7× the full GCs of the same
// code run as JavaScript (36 against 5 over one 3 s cell), a cost a deployed
// server does not have.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinProcess, type Pinning } from './os.js';
import type { BareMode, ExitRequest, ModeReply, ModeRequest, ReadyMessage, ServerKind, UsageReply, UsageRequest } from './echo-server.js';

export type { BareMode, ServerKind, UsageReply } from './echo-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const live = new Set<ChildProcess>();

let compiledEntry: string | undefined;

/**
 * bench/harness/echo-server.ts and the src/ it imports, compiled once per bench run
 * (tsc, a few seconds) into test-output/bench-servers/, inside the package so
 * that its "type": "module" applies; certs/ is linked beside them.
 */
function entry(): string {
  if (compiledEntry !== undefined) return compiledEntry;
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', fileURLToPath(new URL('./tsconfig.servers.json', import.meta.url))], { cwd: root, stdio: 'inherit' });
  const out = fileURLToPath(new URL('../../test-output/bench-servers/', import.meta.url));
  if (!existsSync(`${out}certs`)) symlinkSync(fileURLToPath(new URL('../../certs', import.meta.url)), `${out}certs`, 'dir');
  compiledEntry = `${out}bench/harness/echo-server.js`;
  return compiledEntry;
}

export class ServerProcess {
  readonly kind: ServerKind;
  readonly port: number;
  private readonly child: ChildProcess;
  private nextId = 0;
  private mode_: BareMode;
  private readonly pending = new Map<number, { resolve: (r: UsageReply | ModeReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(kind: ServerKind, mode: BareMode, child: ChildProcess, port: number) {
    this.kind = kind;
    this.mode_ = mode;
    this.child = child;
    this.port = port;
    child.on('message', (message: unknown) => {
      const msg = message as UsageReply | ModeReply;
      const waiter = this.pending.get(msg.id);
      if (waiter === undefined) return;
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

  /**
   * Starts `echo-server.ts kind mode` and waits (≤ 20 s) for its port. The
   * child starts on any CPU (start-up is module loading, and several start at
   * once) and is pinned to `pin.server` once ready, before any measurement.
   */
  static start(kind: ServerKind, mode: BareMode, pin: Pinning | undefined, wsPath?: string): Promise<ServerProcess> {
    // BENCH_NODE_FLAGS: extra node flags for the server children only, to
    // profile a server under the bench's load (--cpu-prof, --perf-basic-prof).
    const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
    const child = spawn(process.execPath, [...flags, '--expose-gc', entry(), kind, mode, ...(wsPath === undefined ? [] : [wsPath])], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    child.on('exit', () => live.delete(child));
    return new Promise((resolve, reject) => {
      const onReady = (msg: unknown): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', fail);
        child.on('error', () => {});
        if (pin !== undefined && child.pid !== undefined) {
          try {
            pinProcess(child.pid, pin.server);
          } catch (error) {
            fail(error instanceof Error ? error : new Error(String(error)));
            return;
          }
        }
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

  get mode(): BareMode {
    return this.mode_;
  }

  private request<R extends UsageReply | ModeReply>(message: UsageRequest | ModeRequest): Promise<R> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(message.id);
        reject(new Error(`${this.kind} server did not answer a ${message.type} request within 10 s`));
      }, 10_000);
      this.pending.set(message.id, { resolve: (r) => resolve(r as R), reject, timer });
      this.child.send(message);
    });
  }

  /** The child's CPU time and memory now (after a full GC when `gc`). */
  usage(gc = false): Promise<UsageReply> {
    return this.request<UsageReply>({ type: 'usage', id: this.nextId++, gc });
  }

  /** Bare servers: what to do with the connections accepted from now on. */
  async setMode(mode: BareMode): Promise<void> {
    if (mode === this.mode_) return;
    await this.request<ModeReply>({ type: 'mode', id: this.nextId++, mode });
    this.mode_ = mode;
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

/** Starts several children at once (their start-up is mostly module loading, on both CPUs). */
export async function startServers(specs: [ServerKind, BareMode][], pin: Pinning | undefined, wsPath?: string): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(specs.map(([kind, mode]) => ServerProcess.start(kind, mode, pin, wsPath)));
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
