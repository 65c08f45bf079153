// A client of test/integration/apps/fleet-app.mjs: it learns its client id
// and process from the greeting, then asks the fleet's verbs and reads their
// "ok" answers, keeping every other frame (what was sent to it) in order.
import type { Frame, RawClient } from './raw-client.js';

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
  async ask<T = unknown>(command: string, ms = 3000): Promise<T> {
    this.raw.sendText(command);
    for (;;) {
      const text = (await this.raw.readFrame(ms)).payload.toString();
      if (text.startsWith('ok ')) return JSON.parse(text.slice(3)) as T;
      this.received.push(text);
    }
  }

  /** The next frame that is not an answer, nor a presence event (from `received` first). */
  async next(ms = 3000): Promise<string> {
    return this.take((text) => !text.startsWith('presence '), ms);
  }

  /** The next presence event: "presence {topic, type, client, user, info}". */
  async presence(ms = 3000): Promise<Record<string, unknown>> {
    return JSON.parse((await this.take((text) => text.startsWith('presence '), ms)).slice('presence '.length)) as Record<string, unknown>;
  }

  /** The first kept or next frame that `wanted` takes; the others stay kept, in order. */
  private async take(wanted: (text: string) => boolean, ms: number): Promise<string> {
    const at = this.received.findIndex(wanted);
    if (at >= 0) return this.received.splice(at, 1)[0];
    for (;;) {
      const frame: Frame = await this.raw.readFrame(ms);
      const text = frame.payload.toString();
      if (wanted(text)) return text;
      this.received.push(text);
    }
  }
}
