// The IPC of the permessage-deflate bench's server children (deflate-server.ts
// for wssd, ws-deflate-server.ts for the ws package), over
// bench/harness/parent-link.ts: ready once listening, then a DeflateUsage for
// each DeflateUsageRequest; the child exits when asked or when the parent goes away.
import { afterFullGc } from '../harness/measure.js';
import { reply, serveParent } from '../harness/parent-link.js';

export interface DeflateUsageRequest {
  type: 'usage';
  id: number;
  /** Run the garbage collector first (the child runs with --expose-gc). */
  gc: boolean;
}

export interface DeflateUsage {
  type: 'usage';
  id: number;
  cpuUs: number;
  rss: number;
  heapUsed: number;
  external: number;
  connections: number;
  /** Connections holding a zlib context of their own (deflate on; -1 where the server cannot tell). */
  holders: number;
  messages: number;
}

/** What a server child counts itself, read at each usage request. */
export type DeflateCounts = Pick<DeflateUsage, 'connections' | 'holders' | 'messages'>;

/** Says the child is ready on `port`, and answers usage requests with `counts()` beside its CPU time and memory. */
export function serveDeflateUsage(port: number, counts: () => DeflateCounts): void {
  serveParent<DeflateUsageRequest>(port, (msg) => {
    if (msg.type !== 'usage') return;
    afterFullGc(
      msg.gc,
      () => {
        const cpu = process.cpuUsage();
        const m = process.memoryUsage();
        const usage: DeflateUsage = { type: 'usage', id: msg.id, cpuUs: cpu.user + cpu.system, rss: m.rss, heapUsed: m.heapUsed, external: m.external, ...counts() };
        reply(usage);
      },
      100,
    );
  });
}
