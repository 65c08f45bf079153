// --workers N: one listening port served by N processes (node:cluster). The
// primary only supervises. A worker that cannot start (the port taken, a
// certificate missing, an --app that throws) tells it why and exits 1, and
// the primary then stops the others and exits 1 with that one line: a server
// that serves nothing must not look alive to systemd. A worker that crashes
// after it was listening is restarted, with a growing delay, until crashes
// come too close together (CRASH_LIMIT within CRASH_WINDOW_MS): then the
// primary gives up the same way. It forwards SIGHUP (certificate and ticket
// key reload) to every worker, and on SIGTERM/SIGINT asks each to shut down
// gracefully and exits 0 once all are gone. It also relays topic publications
// between the workers (pubsub/cluster-relay.ts), so a publish in one reaches
// subscribers in all.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../config-error.js';
import type { Logger } from '../telemetry/log.js';
import { ClusterRelay } from '../pubsub/cluster-relay.js';
import { isClusterMessage, type ClusterMessage } from '../pubsub/cluster-messages.js';

/**
 * Crashes of listening workers that make the primary give up: this many
 * within CRASH_WINDOW_MS (every worker's counted together). A worker that
 * crashes that often is failing on something a restart does not fix; exit 1
 * lets the service manager (systemd's Restart=on-failure) see it.
 */
export const CRASH_LIMIT = 5;
export const CRASH_WINDOW_MS = 60_000;
/** The delay before restarting a crashed worker, doubled for each other crash in the window: 250, 500, 1000, 2000 ms. */
export const RESTART_DELAY_MS = 250;

/** The environment variable that tells a worker its index. */
export const WORKER_INDEX = 'WSSD_WORKER_INDEX';

/** This worker's index (0 for a process that is not a worker of --workers). */
export function workerIndex(env: NodeJS.ProcessEnv): number {
  const index = Number(env[WORKER_INDEX] ?? '0');
  return Number.isInteger(index) && index >= 0 ? index : 0;
}

export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  if (!/^[1-9][0-9]*$/.test(value)) throw new ConfigError(`--workers must be a positive integer or "auto", got "${value}"`);
  return Number(value);
}

/** What a worker tells its primary about its start; `then` runs once it is sent. */
export function tellPrimary(message: Extract<ClusterMessage, { wssd: 'listening' | 'fatal' }>, then: () => void = () => {}): void {
  if (process.send === undefined) return then();
  process.send(message, undefined, undefined, () => then());
}

/**
 * Runs the supervisor; resolves with the exit code once every worker has
 * exited: 0 after a shutdown signal, 1 when a worker could not start or
 * workers crashed past CRASH_LIMIT. `env` is added to every worker's
 * environment (the shared ticket key).
 */
export function supervise(count: number, log: Logger, shutdownTimeout: number, env: Record<string, string> = {}): Promise<number> {
  // Publications cross between workers as bytes: the structured clone keeps Buffers, JSON would not.
  cluster.setupPrimary({ serialization: 'advanced' });
  let lastDropLog = 0;
  const all = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const relay = new ClusterRelay(all, (worker, count) => {
    // Once a minute at most: a worker that does not keep up would otherwise flood the log.
    if (Date.now() - lastDropLog < 60_000) return;
    lastDropLog = Date.now();
    log.warn(`worker ${worker.process.pid} does not keep up with the topics relayed to it: ${count} publication(s) dropped for it (${relay.dropped} in all)`);
  });
  let stopping = false;
  /** When the crashes of the last CRASH_WINDOW_MS happened. */
  const crashes: number[] = [];
  /** Restarts waiting for their delay; they keep the primary alive while no worker is. */
  const restarts = new Set<NodeJS.Timeout>();
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  /** Stops every worker (SIGTERM, then SIGKILL past the deadline) and resolves with `code`. */
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    const workers = all();
    let left = workers.length;
    if (left === 0) finish(code);
    for (const w of workers) {
      w.once('exit', () => {
        if (--left === 0) finish(code);
      });
      w.process.kill('SIGTERM');
    }
    // A worker stuck past its own deadline is killed.
    setTimeout(() => {
      for (const w of all()) w.process.kill('SIGKILL');
      finish(code);
    }, shutdownTimeout + 2000).unref();
  };
  /** The server cannot serve: one line, every worker stopped, exit 1. */
  const fail = (reason: string): void => {
    if (stopping) return;
    log.error(`wssd: ${reason}`);
    stop(1);
  };

  /** Each worker gets its index (0…count-1), kept across restarts: GatewayWorker mode's LAN port is the base port plus it. */
  const start = (index: number): void => {
    const worker = cluster.fork({ ...env, [WORKER_INDEX]: String(index) });
    const pid = worker.process.pid;
    relay.attach(worker);
    let listening = false;
    worker.on('message', (message: unknown) => {
      if (!isClusterMessage(message)) return;
      if (message.wssd === 'listening') listening = true;
      // Whether at the first start or at a restart: what stopped it will stop the next one too.
      else if (message.wssd === 'fatal') fail(message.reason);
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ?? `code ${code}`;
      if (!listening) {
        // Died before it could say why (a bug, a kill): its reason, if it sent one, may still be
        // in the channel, which closes after its last message.
        const unexplained = (): void => fail(`worker ${pid} exited (${how}) before it was listening`);
        if (worker.isConnected()) worker.once('disconnect', unexplained);
        else unexplained();
        return;
      }
      const now = Date.now();
      while (crashes.length > 0 && now - crashes[0] >= CRASH_WINDOW_MS) crashes.shift();
      crashes.push(now);
      if (crashes.length >= CRASH_LIMIT) {
        return fail(`workers crashed ${crashes.length} times within ${CRASH_WINDOW_MS / 1000} s (the last: worker ${pid}, ${how}); giving up`);
      }
      const delay = RESTART_DELAY_MS * 2 ** (crashes.length - 1);
      log.error(`worker ${pid} exited (${how}); restarting in ${delay} ms`);
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (!stopping) start(index);
      }, delay);
      restarts.add(timer);
    });
  };
  for (let i = 0; i < count; i++) start(i);
  log.info(`supervising ${count} worker(s), pid ${process.pid}`);

  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading certificates (and ticket keys) in every worker');
    for (const w of all()) w.process.kill('SIGHUP');
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    log.info(`${signal}: shutting down ${all().length} worker(s)`);
    stop(0);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  return done;
}
