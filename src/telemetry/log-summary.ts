// Repeated conditions in the log: the first of a kind is logged at once; the
// same kind again within the interval is only counted, and one line at the
// end of the interval says how many more there were and shows the last. A
// Redis that is down at full publishing rate, a flood of refused
// subscriptions or a handler that throws on every message costs a few lines a
// minute, not one per event.
import type { Clock, Timer } from '../io/clock.js';
import type { Logger } from './log.js';

type Level = 'info' | 'warn' | 'error';

interface Held {
  level: Level;
  last: string;
  count: number;
}

export class LogSummary {
  /** Kinds seen in the current interval, with what came after the first. */
  private readonly held = new Map<string, Held>();
  private timer: Timer | undefined;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 10_000,
  ) {}

  info(kind: string, message: string): void {
    this.say('info', kind, message);
  }

  warn(kind: string, message: string): void {
    this.say('warn', kind, message);
  }

  error(kind: string, message: string): void {
    this.say('error', kind, message);
  }

  private say(level: Level, kind: string, message: string): void {
    const held = this.held.get(kind);
    if (held !== undefined) {
      held.count++;
      held.last = message;
      return;
    }
    this.log[level](message);
    this.held.set(kind, { level, last: message, count: 0 });
    this.timer ??= this.clock.setTimeout(() => this.flush(), this.intervalMs).unref();
  }

  /** The interval is over: a line for each kind that repeated; kinds that did not are forgotten. */
  flush(): void {
    this.timer = undefined;
    const seconds = Math.round(this.intervalMs / 1000);
    for (const [kind, held] of this.held) {
      if (held.count === 0) {
        this.held.delete(kind);
        continue;
      }
      this.log[held.level](`${held.last} (${held.count} more like this in the last ${seconds} s)`);
      held.count = 0;
    }
    // A kind that repeated stays held another interval, so a steady flood gives one line per interval.
    if (this.held.size > 0) this.timer = this.clock.setTimeout(() => this.flush(), this.intervalMs).unref();
  }

  /** Says what is held now (at shutdown). */
  close(): void {
    this.clock.clearTimeout(this.timer);
    this.flush();
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
  }
}
