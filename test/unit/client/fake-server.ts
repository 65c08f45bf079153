// A stand-in for the network under WssdClient: every connection the client makes is a
// FakeSocket the test opens, feeds frames to, and closes, while reading what the client sent.
// With the manual clock, the client's behaviour is tested without a socket or a sleep.
import { WssdClient } from '../../../src/client/wssd-client.js';
import type { ClientOptions, Transport, TransportFactory } from '../../../src/client/wssd-client.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { rng } from '../helpers/prng.js';

export type Frame = Record<string, unknown>;

export class FakeSocket implements Transport {
  readonly sent: Frame[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  /** When set, send() throws this (a socket that broke under the client). */
  sendError: Error | undefined;
  onopen: ((protocol?: string) => void) | null = null;
  onmessage: ((text: string) => void) | null = null;
  onclose: ((code: number, reason: string) => void) | null = null;
  onerror: Transport['onerror'] = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  send(text: string): void {
    if (this.sendError !== undefined) throw this.sendError;
    this.sent.push(JSON.parse(text) as Frame);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  open(protocol: string | undefined = 'wssd.v1'): this {
    this.onopen?.(protocol);
    return this;
  }

  frame(value: Frame): void {
    this.onmessage?.(JSON.stringify(value));
  }

  push(push: string, fields: Frame = {}): void {
    this.frame({ push, ...fields });
  }

  /** Commands sent, optionally only those of one kind. */
  commands(cmd?: string): Frame[] {
    return cmd === undefined ? this.sent : this.sent.filter((f) => f.cmd === cmd);
  }

  /** The last command of this kind; fails the test when there is none. */
  last(cmd: string): Frame {
    const found = this.commands(cmd).at(-1);
    if (found === undefined) throw new Error(`no ${cmd} sent (sent: ${JSON.stringify(this.sent)})`);
    return found;
  }

  reply(command: Frame, result: Frame = {}): void {
    this.frame({ id: command.id, result });
  }

  fail(command: Frame, code: string, message = code): void {
    this.frame({ id: command.id, error: { code, message } });
  }

  /** Answers every command not answered yet with `{}` (subscribes with recovered: true). */
  replyAll(): void {
    for (const command of this.sent.splice(0)) this.reply(command, command.cmd === 'subscribe' ? { recovered: true, replayed: 0 } : {});
  }

  serverClose(code: number, reason = ''): void {
    this.onclose?.(code, reason);
  }
}

export class FakeNetwork {
  readonly sockets: FakeSocket[] = [];
  readonly factory: TransportFactory = (url, protocols) => {
    const socket = new FakeSocket(url, protocols);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error('no connection made');
    return socket;
  }
}

export interface Harness {
  client: WssdClient;
  net: FakeNetwork;
  clock: ManualClock;
  events: { name: string; value: unknown }[];
}

/** A client over a fake network, a manual clock and a seeded random; every event it emits is recorded. */
export function harness(options: ClientOptions = {}, urls: string | string[] = 'wss://a.example/wss'): Harness {
  const net = new FakeNetwork();
  const clock = new ManualClock();
  const random = rng(7);
  const client = new WssdClient(urls, { transport: net.factory, clock, random: random.next, ...options });
  const events: Harness['events'] = [];
  for (const name of ['connecting', 'connected', 'disconnected', 'error', 'message', 'subscribed', 'unsubscribed', 'publication', 'join', 'leave', 'gap'] as const) {
    client.on(name, (value) => events.push({ name, value }));
  }
  return { client, net, clock, events };
}

/** Lets promise callbacks (getToken, awaited replies) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A JWT-shaped token (unsigned: the client never verifies) with these claims. */
export function jwt(claims: Frame): string {
  const part = (value: Frame): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}
