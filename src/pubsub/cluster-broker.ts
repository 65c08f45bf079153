// The --workers bus, in each worker: subscriptions and publications go to the
// primary over node:cluster's IPC channel, and it relays each publication to
// the workers that have subscribers of its topic (cluster-relay.ts). What one
// tick publishes leaves in one IPC message, in order, so a worker's
// publications reach every other worker in the order they were made.
import { asBuffer, isClusterMessage, type Carried, type ClusterMessage } from './cluster-messages.js';
import type { Broker, BrokerHost, BrokerQuestion } from './broker.js';

/**
 * IPC messages handed to Node but not yet written: past this many the bus is
 * backed up (the primary or another worker does not keep up), and a
 * publication is reported undelivered rather than queued without bound.
 */
export const MAX_UNSENT = 1024;

/** The IPC side a worker has (process in a node:cluster worker). */
export interface IpcChannel {
  send(message: ClusterMessage, callback?: (error: Error | null) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export class ClusterBroker implements Broker {
  private host: BrokerHost | undefined;
  private pending: Carried[] = [];
  private flushScheduled = false;
  private nextAsk = 1;
  private readonly asks = new Map<number, (answers: unknown[]) => void>();
  private readonly onMessage = (message: unknown): void => this.receive(message);
  /** Messages sent and not yet written by Node. */
  private unsent = 0;
  private readonly written = (): void => {
    this.unsent--;
  };

  constructor(private readonly channel: IpcChannel = processChannel()) {}

  start(host: BrokerHost): void {
    this.host = host;
    this.channel.on('message', this.onMessage);
  }

  subscribe(topic: string): void {
    this.flush();
    this.channel.send({ wssd: 'sub', topic });
  }

  unsubscribe(topic: string): void {
    this.flush();
    this.channel.send({ wssd: 'unsub', topic });
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    if (this.unsent >= MAX_UNSENT) {
      this.host?.undelivered?.(topic, new Error(`the --workers bus is backed up (${this.unsent} messages not yet written)`), 0);
      return;
    }
    this.pending.push([topic, payload, binary]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  gather(question: BrokerQuestion): Promise<unknown[]> {
    const id = this.nextAsk++;
    return new Promise((resolve) => {
      this.asks.set(id, resolve);
      this.channel.send({ wssd: 'ask', id, question });
    });
  }

  async close(): Promise<void> {
    this.flush();
    this.channel.off('message', this.onMessage);
    for (const resolve of this.asks.values()) resolve([]);
    this.asks.clear();
  }

  /** Hands what this tick published to the primary, as one message. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.unsent++;
    this.channel.send({ wssd: 'pub', batch }, this.written);
  }

  private receive(message: unknown): void {
    if (!isClusterMessage(message) || this.host === undefined) return;
    switch (message.wssd) {
      case 'pub':
        for (const [topic, payload, binary] of message.batch) this.host.deliver(topic, asBuffer(payload), binary);
        return;
      case 'ask':
        this.channel.send({ wssd: 'reply', id: message.id, answer: this.host.answer(message.question) });
        return;
      case 'answers': {
        const resolve = this.asks.get(message.id);
        this.asks.delete(message.id);
        resolve?.(message.answers);
        return;
      }
      default:
        return;
    }
  }
}

/** This worker's channel to its primary. */
function processChannel(): IpcChannel {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('ClusterBroker needs a node:cluster worker (process.send is missing)');
  return {
    send: (message, callback) => send(message, undefined, undefined, callback),
    on: (event, listener) => process.on(event, listener),
    off: (event, listener) => process.off(event, listener),
  };
}
