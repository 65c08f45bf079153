// The child's side of the IPC between the bench and its server children (the
// parent's side: children.ts). A child says it is ready with the port it
// listens on, answers requests that carry an id with replies that carry the
// same id, and exits when asked or when the parent goes away (the IPC channel
// closes), so that it never outlives the bench.
//
// Nothing but node here: every child loads this, and what a child loads is in
// the memory and the GC work that the bench measures.
import { getHeapSpaceStatistics } from 'node:v8';

/** A child's first message. */
export interface ReadyMessage {
  type: 'ready';
  port: number;
}

/** The parent asks the child to exit. */
export interface ExitRequest {
  type: 'exit';
}

/**
 * Says the child is ready on `port`, hands every message but 'exit' to
 * `handle`, and exits on 'exit' (running `onExit` instead, if given) or when
 * the parent goes away.
 */
export function serveParent<Request extends { type: string }>(port: number, handle: (message: Request) => void, onExit: () => void = () => process.exit(0)): void {
  process.on('message', (message: Request | ExitRequest) => {
    if (message.type === 'exit') onExit();
    else handle(message as Request);
  });
  process.on('disconnect', () => process.exit(0));
  const ready: ReadyMessage = { type: 'ready', port };
  process.send?.(ready);
}

/** A child's CPU time, read in the same instant as the counts it is reported with. */
export interface CpuReading {
  /** process.cpuUsage() user + system, µs since start. */
  cpuUs: number;
  /** performance.now() when read, ms. */
  time: number;
}

export function cpuReading(): CpuReading {
  const cpu = process.cpuUsage();
  return { cpuUs: cpu.user + cpu.system, time: performance.now() };
}

/** A child's memory, as process.memoryUsage() and V8 report it. */
export interface MemoryReading {
  rss: number;
  /** V8's heap as reserved from the system (all spaces), and its young generation alone. */
  heapTotal: number;
  newSpace: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export function memoryReading(): MemoryReading {
  const m = process.memoryUsage();
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { rss: m.rss, heapTotal: m.heapTotal, newSpace, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** An onExit for serveParent: runs `close` (a server's, say) and exits, at the latest after a second. */
export function closeThenExit(close: () => Promise<unknown>): () => void {
  return () => {
    void close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
}

/** Sends a reply (or any message) to the parent. */
export function reply(message: { type: string; id: number }): void {
  process.send?.(message);
}
