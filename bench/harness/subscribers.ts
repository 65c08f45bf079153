// The subscribers of cases 7, 7d, 9, 10 and 11: N connections opened by the load
// client, each with a receiver that checks every publication it gets
// (publications.ts; case 11's wssd.v1 subscribers bring their own, which
// reads the same publications out of the protocol's envelope); about 250 of
// them, spread over all, record latencies.
import type net from 'node:net';
import { closeAll, sleep } from './load-client.js';
import { PublicationReceiver, type PublicationStats } from './publications.js';

/** One subscriber's receiving side: fed the socket's chunks, it checks each publication and says which it wants next. */
export interface Receiver {
  /** The sequence number the next publication must carry. */
  readonly next: number;
  push(chunk: Buffer): void;
}

/** Makes a cell's receiver for one subscriber: payloads of `size` bytes, latencies recorded when `sampled`. */
export type ReceiverFactory = (size: number, stats: PublicationStats, sampled: boolean) => Receiver;

const publicationReceiver: ReceiverFactory = (size, stats, sampled) => new PublicationReceiver(size, stats, sampled);

export class Subscribers {
  readonly sockets: net.Socket[];
  receivers: Receiver[] = [];
  private closing = false;
  private readonly stats: PublicationStats;
  private readonly makeReceiver: ReceiverFactory;

  /** `makeReceiver`: by default, binary frames of exactly the publication's bytes (PublicationReceiver). */
  constructor(opened: { socket: net.Socket; rest: Buffer }[], stats: PublicationStats, makeReceiver: ReceiverFactory = publicationReceiver) {
    this.stats = stats;
    this.makeReceiver = makeReceiver;
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
    this.receivers = this.sockets.map((_, i) => this.makeReceiver(size, this.stats, i % stride === 0));
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
