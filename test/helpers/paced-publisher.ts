// Publications that keep coming whatever else a test does meanwhile (a node
// restarted, Redis killed): "0", "1", "2"… one every `everyMs`, each awaited
// before the next so their order is the order they were made in, until the
// test says how many more. Stop it in the test's cleanup: a failed test must
// not leave it publishing.
import { describeMs, scaled } from './timeouts.js';

export class PacedPublisher {
  /** Publications made so far (and answered, when `publish` returns a promise). */
  sent = 0;
  private limit = Number.POSITIVE_INFINITY;
  private readonly done: Promise<void>;

  constructor(
    publish: (data: string) => unknown,
    private readonly everyMs: number,
  ) {
    this.done = (async () => {
      while (this.sent < this.limit) {
        await publish(String(this.sent));
        this.sent++;
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
    // A failed publication is reported by finish(); until then it must not be an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Makes `more` publications after those made so far, then stops; resolves with how many were made in all. */
  async finish(more: number): Promise<number> {
    this.limit = this.sent + more;
    const ms = more * this.everyMs + 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${more} more publications not made within ${describeMs(ms)} (${this.sent} made)`)), scaled(ms));
    });
    try {
      await Promise.race([this.done, late]);
    } finally {
      clearTimeout(timer);
    }
    return this.sent;
  }

  /** Stops after the publication under way, if any. */
  stop(): void {
    this.limit = this.sent;
  }
}
