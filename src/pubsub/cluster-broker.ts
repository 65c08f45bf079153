// The --workers bus, in each worker: subscriptions and publications go to the
// primary over node:cluster's IPC channel, and it relays each publication to
// the workers that have subscribers of its topic (cluster-relay.ts). What one
// tick does — subscribe, unsubscribe, publish — leaves in one IPC message, in
// order, so a worker's publications reach every other worker in the order
// they were made, and a burst of subscriptions costs one message, not one each.
import { asBuffer, isClusterMessage, type ClusterMessage, type Operation } from './cluster-messages.js';
import { PublicationKind, type Broker, type BrokerHost, type BrokerQuestion } from './broker.js';

/**
 * IPC messages handed to Node but not yet written: past this many the bus is
 * backed up (the primary or another worker does not keep up), and a
 * publication is reported undelivered rather than queued without bound.
 * Subscriptions are never refused (they are bounded by the topic limits).
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
  private pending: Operation[] = [];
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
    this.add(['s', topic]);
  }

  unsubscribe(topic: string): void {
    this.add(['u', topic]);
  }

  publish(topic: string, payload: Buffer, binary: boolean, _token?: number, kind: PublicationKind = PublicationKind.Data): void {
    if (this.unsent >= MAX_UNSENT) {
      this.host?.undelivered?.(topic, new Error(`the --workers bus is backed up (${this.unsent} messages not yet written)`), 0, 'workers-bus-backlog');
      return;
    }
    this.add(['p', topic, payload, binary, kind]);
  }

  gather(question: BrokerQuestion): Promise<unknown[]> {
    const id = this.nextAsk++;
    // What this worker did before asking reaches the primary first.
    this.flush();
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

  private add(operation: Operation): void {
    this.pending.push(operation);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hands what this tick did to the primary, as one message. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const ops = this.pending;
    this.pending = [];
    this.unsent++;
    this.channel.send({ wssd: 'ops', ops }, this.written);
  }

  private receive(message: unknown): void {
    if (!isClusterMessage(message) || this.host === undefined) return;
    switch (message.wssd) {
      case 'pub':
        for (const [topic, payload, binary, kind] of message.batch) this.host.deliver(topic, asBuffer(payload), binary, undefined, undefined, kind);
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
