// Which BusinessWorker a client's events go to (spec §5.3): GatewayWorker's
// routerBind. A client is given a worker at its first event and keeps it
// while that worker is connected, so its events stay in order on one worker;
// when the worker goes, the client's next event picks again. The pick is
// least-connections (the first worker, in the order they connected, with the
// fewest clients given to it) or random.

export type RouterMode = 'least-connections' | 'random';

export class WorkerRouter {
  /** Clients given to each worker, by worker key, in the order the workers connected. */
  private readonly given = new Map<string, number>();

  constructor(
    private readonly mode: RouterMode,
    private readonly random: () => number = Math.random,
  ) {}

  /** A worker connected (or connected again under the same key: it goes to the end, counting from 0). */
  add(key: string): void {
    this.given.delete(key);
    this.given.set(key, 0);
  }

  remove(key: string): void {
    this.given.delete(key);
  }

  has(key: string): boolean {
    return this.given.has(key);
  }

  get size(): number {
    return this.given.size;
  }

  /**
   * The worker for a client that has `current` (undefined: none yet): the
   * same while it is connected, else a new pick, counted. Undefined when no
   * worker is connected.
   */
  route(current: string | undefined): string | undefined {
    if (current !== undefined && this.given.has(current)) return current;
    const key = this.pick();
    if (key !== undefined) this.given.set(key, (this.given.get(key) ?? 0) + 1);
    return key;
  }

  /** A client of `key` is gone. */
  release(key: string | undefined): void {
    if (key === undefined) return;
    const count = this.given.get(key);
    if (count !== undefined && count > 0) this.given.set(key, count - 1);
  }

  private pick(): string | undefined {
    if (this.given.size === 0) return undefined;
    if (this.mode === 'random') {
      const index = Math.floor(this.random() * this.given.size);
      let i = 0;
      for (const key of this.given.keys()) if (i++ === index) return key;
    }
    let best: string | undefined;
    let fewest = Infinity;
    for (const [key, count] of this.given) {
      if (count < fewest) {
        best = key;
        fewest = count;
      }
    }
    return best;
  }
}
