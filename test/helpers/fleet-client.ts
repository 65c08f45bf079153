// A client of test/integration/apps/fleet-app.mjs: it learns its client id
// and process from the greeting, then asks the fleet's verbs and reads their
// "ok" answers, keeping every other frame (what was sent to it) in order.
import type { Frame, RawClient } from './raw-client.js';

/**
 * How long a client waits for a frame (nominal; scaled by the timeout factor):
 * what crosses workers goes through the primary, which a loaded 2-core
 * machine running the whole suite can starve for seconds.
 */
const WAIT_MS = 6000;

export interface Hello {
  client: string;
  node: string;
  pid: number;
}

export class FleetClient {
  /** Frames that were not answers: what the fleet sent to this connection, in order. */
  readonly received: string[] = [];

  private constructor(
    readonly raw: RawClient,
    readonly hello: Hello,
  ) {}

  static async greet(raw: RawClient): Promise<FleetClient> {
    const first = (await raw.readFrame()).payload.toString();
    if (!first.startsWith('hello ')) throw new Error(`unexpected greeting ${first}`);
    return new FleetClient(raw, JSON.parse(first.slice(6)) as Hello);
  }

  /** Sends a command and returns the JSON of its "ok" answer; anything before it is kept in `received`. */
  async ask<T = unknown>(command: string, ms = WAIT_MS): Promise<T> {
    this.raw.sendText(command);
    return JSON.parse((await this.take((text) => text.startsWith('ok '), ms, `the answer to ${JSON.stringify(command)}`)).slice(3)) as T;
  }

  /** The next frame that is not an answer, nor a presence event (from `received` first). */
  async next(ms = WAIT_MS): Promise<string> {
    return this.take((text) => !text.startsWith('presence ') && !text.startsWith('ok '), ms, 'a message');
  }

  /** The next presence event: "presence {topic, type, client, user, info}". */
  async presence(ms = WAIT_MS): Promise<Record<string, unknown>> {
    return JSON.parse((await this.take((text) => text.startsWith('presence '), ms, 'a presence event')).slice('presence '.length)) as Record<string, unknown>;
  }

  /** The first kept or next frame that `wanted` takes; the others stay kept, in order. A timeout names the client, what it waited for and what it kept. */
  private async take(wanted: (text: string) => boolean, ms: number, what: string): Promise<string> {
    const at = this.received.findIndex(wanted);
    if (at >= 0) return this.received.splice(at, 1)[0];
    for (;;) {
      let frame: Frame;
      try {
        frame = await this.raw.readFrame(ms);
      } catch (error) {
        const kept = JSON.stringify(this.received);
        throw new Error(`client ${this.hello.client} (pid ${this.hello.pid}) waiting for ${what}: ${(error as Error).message}; kept so far: ${kept}`);
      }
      const text = frame.payload.toString();
      if (wanted(text)) return text;
      this.received.push(text);
    }
  }
}
