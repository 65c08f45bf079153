// The --workers bus, in the primary: it remembers which worker has
// subscribers of which topic and relays each publication only to those
// (interest routing: a worker without subscribers of a topic pays nothing
// for it), never back to the worker that made it. It also gathers answers
// from every worker (subscriber counts, stats). A worker that exits loses its
// interests; when it is restarted, its new subscribers register them again.
import type { Worker } from 'node:cluster';
import { GATHER_TIMEOUT, isClusterMessage, type Carried, type ClusterMessage, type Operation, type RelayAnswer } from './cluster-messages.js';

/** Relayed messages not yet written to one worker: past this many, what is for it is dropped and counted. */
export const MAX_UNSENT_PER_WORKER = 1024;

export class ClusterRelay {
  private readonly interest = new Map<string, Set<Worker>>();
  /** Messages handed to Node for each worker and not yet written. */
  private readonly unsent = new Map<Worker, number>();
  /** Publications not relayed to a worker that did not keep up. */
  dropped = 0;
  private nextAsk = 1;
  private readonly asks = new Map<number, { answers: unknown[]; waiting: Set<Worker>; done: () => void }>();

  constructor(
    private readonly workers: () => Worker[],
    /** Told when publications are dropped for a worker that does not keep up (rate-limit it). */
    private readonly onDrop: (worker: Worker, count: number) => void = () => {},
  ) {}

  /** Takes a worker's messages (call for each worker forked). */
  attach(worker: Worker): void {
    worker.on('message', (message: unknown) => {
      if (isClusterMessage(message)) this.receive(worker, message);
    });
    worker.on('exit', () => this.forget(worker));
  }

  /** Workers with subscribers of `topic` (for tests and /stats). */
  interested(topic: string): number {
    return this.interest.get(topic)?.size ?? 0;
  }

  private receive(from: Worker, message: ClusterMessage): void {
    switch (message.wssd) {
      case 'ops':
        this.apply(from, message.ops);
        return;
      case 'ask':
        this.ask(from, message.id, message);
        return;
      case 'reply': {
        const ask = this.asks.get(message.id);
        if (ask === undefined || !ask.waiting.delete(from)) return;
        ask.answers.push(message.answer);
        if (ask.waiting.size === 0) ask.done();
        return;
      }
      default:
        return;
    }
  }

  /** A worker's tick, in order: interest changes as they come, each run of publications relayed as one message per destination. */
  private apply(from: Worker, ops: Operation[]): void {
    let run: Carried[] = [];
    for (const op of ops) {
      if (op[0] === 'p') {
        run.push([op[1], op[2], op[3], op[4]]);
        continue;
      }
      if (run.length > 0) this.relay(from, run);
      run = [];
      const topic = op[1];
      if (op[0] === 's') {
        let workers = this.interest.get(topic);
        if (workers === undefined) this.interest.set(topic, (workers = new Set()));
        workers.add(from);
      } else {
        const workers = this.interest.get(topic);
        workers?.delete(from);
        if (workers?.size === 0) this.interest.delete(topic);
      }
    }
    if (run.length > 0) this.relay(from, run);
  }

  /** One message per destination worker, the publications in their order. */
  private relay(from: Worker, batch: Carried[]): void {
    const out = new Map<Worker, Carried[]>();
    for (const carried of batch) {
      const workers = this.interest.get(carried[0]);
      if (workers === undefined) continue;
      for (const worker of workers) {
        if (worker === from) continue;
        let list = out.get(worker);
        if (list === undefined) out.set(worker, (list = []));
        list.push(carried);
      }
    }
    for (const [worker, list] of out) {
      const unsent = this.unsent.get(worker) ?? 0;
      if (unsent >= MAX_UNSENT_PER_WORKER) {
        this.dropped += list.length;
        this.onDrop(worker, list.length);
        continue;
      }
      this.unsent.set(worker, unsent + 1);
      send(worker, { wssd: 'pub', batch: list }, () => this.unsent.set(worker, (this.unsent.get(worker) ?? 1) - 1));
    }
  }

  /** Asks every live worker (the asker too), answers the asker with what came back within GATHER_TIMEOUT. */
  private ask(from: Worker, askerId: number, message: Extract<ClusterMessage, { wssd: 'ask' }>): void {
    const id = this.nextAsk++;
    const waiting = new Set(this.workers().filter((w) => w.isConnected()));
    const answers: unknown[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      this.asks.delete(id);
      // The relay's own losses travel with the workers' stats, so /stats counts what the primary dropped too.
      if (message.question.kind === 'stats') answers.push({ relay: { losses: { 'workers-relay-backlog': this.dropped } } } satisfies RelayAnswer);
      send(from, { wssd: 'answers', id: askerId, answers });
    };
    this.asks.set(id, { answers, waiting, done });
    timer = setTimeout(done, GATHER_TIMEOUT);
    timer.unref();
    if (waiting.size === 0) return done();
    for (const worker of waiting) send(worker, { wssd: 'ask', id, question: message.question });
  }

  private forget(worker: Worker): void {
    this.unsent.delete(worker);
    for (const [topic, workers] of this.interest) {
      workers.delete(worker);
      if (workers.size === 0) this.interest.delete(topic);
    }
    for (const ask of this.asks.values()) {
      if (ask.waiting.delete(worker) && ask.waiting.size === 0) ask.done();
    }
  }
}

function send(worker: Worker, message: ClusterMessage, written?: () => void): void {
  if (worker.isConnected()) worker.send(message, undefined, written === undefined ? undefined : () => written());
  else written?.();
}
