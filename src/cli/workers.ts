// --workers N: one listening port served by N processes (node:cluster). The
// primary only supervises: it restarts a worker that crashed (with a growing
// delay if it keeps crashing), forwards SIGHUP (certificate and ticket key reload) to every
// worker, and on SIGTERM/SIGINT asks each to shut down gracefully and exits 0
// once all are gone. It also relays topic publications between the workers
// (pubsub/cluster-relay.ts), so a publish in one reaches subscribers in all.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../config-error.js';
import type { Logger } from '../telemetry/log.js';
import { ClusterRelay } from '../pubsub/cluster-relay.js';

export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  if (!/^[1-9][0-9]*$/.test(value)) throw new ConfigError(`--workers must be a positive integer or "auto", got "${value}"`);
  return Number(value);
}

/**
 * Runs the supervisor; resolves when every worker has exited after a shutdown
 * signal. `env` is added to every worker's environment (the shared ticket key).
 */
export function supervise(count: number, log: Logger, shutdownTimeout: number, env: Record<string, string> = {}): Promise<void> {
  // Publications cross between workers as bytes: the structured clone keeps Buffers, JSON would not.
  cluster.setupPrimary({ serialization: 'advanced' });
  let lastDropLog = 0;
  const relay = new ClusterRelay(
    () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined),
    (worker, count) => {
      // Once a minute at most: a worker that does not keep up would otherwise flood the log.
      if (Date.now() - lastDropLog < 60_000) return;
      lastDropLog = Date.now();
      log.warn(`worker ${worker.process.pid} does not keep up with the topics relayed to it: ${count} publication(s) dropped for it (${relay.dropped} in all)`);
    },
  );
  let stopping = false;
  let crashes = 0;
  let lastCrash = 0;
  const start = (): Worker => {
    const worker = cluster.fork(env);
    relay.attach(worker);
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      const now = Date.now();
      // Crashes close together back off up to 30 s; a quiet minute resets it.
      crashes = now - lastCrash > 60_000 ? 1 : crashes + 1;
      lastCrash = now;
      const delay = Math.min(30_000, 250 * 2 ** (crashes - 1));
      log.error(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (!stopping) start();
      }, delay).unref();
    });
    return worker;
  };
  for (let i = 0; i < count; i++) start();
  log.info(`supervising ${count} worker(s), pid ${process.pid}`);

  return new Promise((resolve) => {
    const all = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading certificates (and ticket keys) in every worker');
      for (const w of all()) w.process.kill('SIGHUP');
    });
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      const workers = all();
      log.info(`${signal}: shutting down ${workers.length} worker(s)`);
      let left = workers.length;
      if (left === 0) resolve();
      for (const w of workers) {
        w.once('exit', () => {
          if (--left === 0) resolve();
        });
        w.process.kill('SIGTERM');
      }
      // A worker stuck past its own deadline is killed.
      setTimeout(() => {
        for (const w of all()) w.process.kill('SIGKILL');
        resolve();
      }, shutdownTimeout + 2000).unref();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
