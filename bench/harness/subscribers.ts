// The subscribers of cases 7, 7d and 9: N connections opened by the load client,
// each with a receiver that checks every publication it gets
// (publications.ts); about 250 of them, spread over all, record latencies.
import type net from 'node:net';
import { closeAll, sleep } from './load-client.js';
import { PublicationReceiver, type PublicationStats } from './publications.js';

export class Subscribers {
  readonly sockets: net.Socket[];
  receivers: PublicationReceiver[] = [];
  private closing = false;
  private readonly stats: PublicationStats;

  constructor(opened: { socket: net.Socket; rest: Buffer }[], stats: PublicationStats) {
    this.stats = stats;
    this.sockets = opened.map((o) => o.socket);
    opened.forEach((o, i) => {
      if (o.rest.length > 0) stats.fail(new Error('bytes arrived before any publication'));
      o.socket.on('data', (chunk: Buffer) => this.receivers[i]?.push(chunk));
      o.socket.on('close', () => {
        if (!this.closing) stats.fail(new Error(`subscriber ${i} was disconnected`));
      });
      o.socket.resume();
    });
  }

  /** Fresh receivers for a cell; about 250 subscribers, spread over all, record latencies. */
  reset(size: number): void {
    const stride = Math.max(1, Math.floor(this.sockets.length / 250));
    this.receivers = this.sockets.map((_, i) => new PublicationReceiver(size, this.stats, i % stride === 0));
  }

  /** The lowest next sequence number over all subscribers. */
  minNext(): number {
    let min = Infinity;
    for (const r of this.receivers) if (r.next < min) min = r.next;
    return min;
  }

  /** Resolves once every subscriber has all `published` publications (fails on an error or after 30 s). */
  async allReceived(published: number, what: string): Promise<void> {
    const deadline = performance.now() + 30_000;
    while (this.minNext() < published) {
      if (this.stats.error !== undefined) throw this.stats.error;
      if (performance.now() > deadline) throw new Error(`${what}: ${published} published, a subscriber has only ${this.minNext()} after 30 s`);
      await sleep(10);
    }
    if (this.stats.error !== undefined) throw this.stats.error;
  }

  async close(): Promise<void> {
    this.closing = true;
    await closeAll(this.sockets);
  }
}
