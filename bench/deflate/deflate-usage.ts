// The IPC of the permessage-deflate bench's server children (deflate-server.ts
// for wssd, ws-deflate-server.ts for the ws package): {type:'ready', port} once
// listening, then a DeflateUsage for each {type:'usage', id, gc}; the child
// exits when the parent goes away.
import { afterFullGc } from '../harness/measure.js';

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
  process.send?.({ type: 'ready', port });
  process.on('disconnect', () => process.exit(0));
  process.on('message', (msg: { type: string; id: number; gc: boolean }) => {
    if (msg.type !== 'usage') return;
    afterFullGc(
      msg.gc,
      () => {
        const cpu = process.cpuUsage();
        const m = process.memoryUsage();
        const usage: DeflateUsage = { type: 'usage', id: msg.id, cpuUs: cpu.user + cpu.system, rss: m.rss, heapUsed: m.heapUsed, external: m.external, ...counts() };
        process.send?.(usage);
      },
      100,
    );
  });
}
