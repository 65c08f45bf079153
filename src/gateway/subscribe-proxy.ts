// The subscribe proxy: a wssd.v1 client asks to subscribe to a topic its
// token does not allow; the backend decides. POSTs {client, user, topic};
// 200 with {} (or anything but a refusal) allows, {refuse: {reason}}
// refuses. A timeout or an error is "unavailable" (the client may try
// again), never a silent allow.
import { Semaphore } from '../pubsub/semaphore.js';
import { HttpPostError, post } from './http-post.js';

export interface SubscribeProxyOptions {
  url: URL;
  timeout: number;
  concurrency: number;
  onFailure: (cause: string, message: string) => void;
}

export type SubscribeVerdict = { allowed: true } | { allowed: false; reason: string } | { allowed: undefined };

export class SubscribeProxy {
  private readonly slots: Semaphore;

  constructor(private readonly options: SubscribeProxyOptions) {
    this.slots = new Semaphore(options.concurrency);
  }

  async allows(client: string, user: string | undefined, topic: string): Promise<SubscribeVerdict> {
    if (this.slots.queued >= this.options.concurrency) return { allowed: undefined };
    const body = JSON.stringify({ client, user: user ?? null, topic });
    let answer;
    try {
      answer = await this.slots.run(() => post(this.options.url, body, { timeout: this.options.timeout, maxBody: 16 * 1024 }));
    } catch (error) {
      const kind = error instanceof HttpPostError ? error.kind : 'network';
      this.options.onFailure(`subscribe-proxy-${kind}`, `the subscribe proxy failed: ${error instanceof Error ? error.message : String(error)}`);
      return { allowed: undefined };
    }
    if (answer.status !== 200) {
      this.options.onFailure('subscribe-proxy-status', `the subscribe proxy answered ${answer.status}`);
      return { allowed: undefined };
    }
    let value: unknown = {};
    if (answer.body.length > 0) {
      try {
        value = JSON.parse(answer.body.toString('utf8'));
      } catch {
        this.options.onFailure('subscribe-proxy-answer', 'the subscribe proxy answered something that is not JSON');
        return { allowed: undefined };
      }
    }
    const refuse = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).refuse : undefined;
    if (refuse === undefined) return { allowed: true };
    const reason = typeof refuse === 'object' && refuse !== null && typeof (refuse as Record<string, unknown>).reason === 'string' ? String((refuse as Record<string, unknown>).reason).slice(0, 200) : 'refused by the backend';
    return { allowed: false, reason };
  }
}
