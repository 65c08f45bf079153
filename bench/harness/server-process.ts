// The parent's side of the server children of cases 4–6 (echo-server.ts):
// start one (pinned to a CPU with taskset where it exists), ask it for its CPU
// time and memory, switch a bare one's mode; children.ts makes sure every
// child is gone when the bench ends, however it ends.
//
// The children run compiled JavaScript, as a deployed server does, not under
// tsx: tsx's loader keeps about 1.4 MB in the heap, which put the wssd
// child's old generation (6.5 MB after a full GC without it) past 8 MB, V8's
// threshold below which incremental marking is not started for allocation —
// at 64 KiB × 16 in flight the child then ran 4–7× the full GCs of the same
// code run as JavaScript (36 against 5 over one 3 s cell), a cost a deployed
// server does not have.
import { Child } from './children.js';
import { compiledServer } from './compiled.js';
import type { Target } from './load-client.js';
import type { Pinning } from './os.js';
import type { BareMode, ModeReply, ModeRequest, ServerKind, UsageReply, UsageRequest } from './echo-server.js';

export type { BareMode, ServerKind, UsageReply } from './echo-server.js';

/** bench/harness/echo-server.ts and the src/ it imports, compiled once per bench run (compiled.ts). */
function entry(): string {
  return compiledServer(new URL('./tsconfig.servers.json', import.meta.url), 'bench/harness/echo-server.js');
}

/** The command line (`wssd`, src/server.ts), compiled with the echo server: what `node dist/server.js` runs. */
export function compiledCli(): string {
  return compiledServer(new URL('./tsconfig.servers.json', import.meta.url), 'src/server.js');
}

export class ServerProcess {
  readonly kind: ServerKind;
  private readonly child: Child<UsageRequest | ModeRequest, UsageReply | ModeReply>;
  private mode_: BareMode;

  private constructor(kind: ServerKind, mode: BareMode, child: Child<UsageRequest | ModeRequest, UsageReply | ModeReply>) {
    this.kind = kind;
    this.mode_ = mode;
    this.child = child;
  }

  /** Starts `echo-server.ts kind mode` and waits (≤ 20 s) for its port; pins it to `pin.server` once ready. */
  static async start(kind: ServerKind, mode: BareMode, pin: Pinning | undefined, wsPath?: string): Promise<ServerProcess> {
    const child = await Child.start<UsageRequest | ModeRequest, UsageReply | ModeReply>({
      name: `${kind} server`,
      args: ['--expose-gc', entry(), kind, mode, ...(wsPath === undefined ? [] : [wsPath])],
      cpu: pin?.server,
      requestTimeoutMs: 10_000,
    });
    return new ServerProcess(kind, mode, child);
  }

  get port(): number {
    return this.child.port;
  }

  /** The child's process id, for readings from /proc (case 10). */
  get pid(): number {
    return this.child.pid;
  }

  get mode(): BareMode {
    return this.mode_;
  }

  /** The child's CPU time and memory now (after a full GC when `gc`). */
  usage(gc = false): Promise<UsageReply> {
    return this.child.request<'usage'>({ type: 'usage', gc });
  }

  /** Bare servers: what to do with the connections accepted from now on. */
  async setMode(mode: BareMode): Promise<void> {
    if (mode === this.mode_) return;
    await this.child.request<'mode'>({ type: 'mode', mode });
    this.mode_ = mode;
  }

  /** Asks the child to exit; kills it if it has not within a second. */
  stop(): Promise<void> {
    return this.child.stop();
  }
}

export const SERVERS: readonly ServerKind[] = ['wss', 'ws', 'tls', 'net'];
/** The ws package's servers, measured when the bench is given --ws PATH. */
export const PACKAGE_SERVERS: readonly ServerKind[] = ['pkg-wss', 'pkg-ws'];

/** The servers of `kinds`, in that order, from a set of started children. */
export function pick(servers: readonly ServerProcess[], kinds: readonly ServerKind[]): ServerProcess[] {
  return kinds.map((kind) => {
    const server = servers.find((s) => s.kind === kind);
    if (server === undefined) throw new Error(`no ${kind} server`);
    return server;
  });
}

/** How the load client reaches a server child. */
export function targetOf(server: ServerProcess, ca: Buffer): Target {
  const kind = server.kind;
  return { port: server.port, tls: kind === 'wss' || kind === 'tls' || kind === 'pkg-wss', websocket: kind !== 'tls' && kind !== 'net', ca };
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
