// The GatewayWorker e2e tests' WebSocket client of php/Events.php's test
// application: GwClient reads raw frames (every byte a Gateway sends is seen,
// a masked frame or a missing Close included), records them as Entry strings
// so a transcript under PHP's Gateway compares with one under wssd, and calls
// the application's RPC. Kept apart from support.ts (the processes and the
// Gateways), which re-exports it.
import { isUtf8 } from 'node:buffer';
import { expect } from 'vitest';
import { Op, RawClient, type Frame } from '../../helpers/raw-client.js';
import { later } from '../php-support.js';
import type { GatewayUnderTest } from './support.js';

export interface OpenOptions {
  /** Where to connect (default 127.0.0.1). */
  host?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Wait this long for the hello (default 5000 ms); 0: read no hello. */
  helloMs?: number;
}

/**
 * What a client received, one string per frame: a text frame's text (or
 * `<text 0x…>` when it is not UTF-8), `<binary 0x…>`, `<close CODE>`,
 * `<ping 0x…>`, `<masked> …` before a masked one; `<end>` when the TCP
 * connection ended.
 */
export type Entry = string;

export function entryOf(frame: Frame): Entry {
  const entry = unmaskedEntryOf(frame);
  // A server must not mask (RFC 6455 §5.1): a browser fails such a connection.
  return frame.masked ? `<masked> ${entry}` : entry;
}

function unmaskedEntryOf(frame: Frame): Entry {
  const hex = frame.payload.toString('hex');
  switch (frame.opcode) {
    case Op.Text:
      return isUtf8(frame.payload) ? frame.payload.toString('utf8') : `<text 0x${hex}>`;
    case Op.Binary:
      return `<binary 0x${hex}>`;
    case Op.Close:
      return frame.payload.length >= 2 ? `<close ${frame.payload.readUInt16BE(0)}>` : '<close>';
    case Op.Ping:
      return `<ping 0x${hex}>`;
    default:
      return `<opcode ${frame.opcode} 0x${hex}>`;
  }
}

/** An RPC answer of php/Events.php. */
interface Answer {
  re: string;
  r: unknown;
}

function answerOf(entry: Entry): Answer | undefined {
  if (!entry.startsWith('{"re":')) return undefined;
  return JSON.parse(entry) as Answer;
}

/** A WebSocket client of the test application (raw frames: every byte the Gateway sends is seen). */
export class GwClient {
  /** Its client id, from the hello. */
  id = '';
  /** Everything received, in order (answers included). */
  readonly received: Entry[] = [];
  /** What was received and not taken yet, answers to its own calls left out. */
  private inbox: Entry[] = [];
  private ended = false;
  private closeSent = false;

  private constructor(
    readonly name: string,
    readonly raw: RawClient,
  ) {}

  static async open(name: string, gateway: GatewayUnderTest, options: OpenOptions = {}): Promise<GwClient> {
    const raw = await RawClient.connect({ host: options.host, port: gateway.port, tls: gateway.tls, timeoutMs: 5000 });
    later(() => raw.destroy());
    const client = new GwClient(name, raw);
    try {
      const host = options.host === undefined ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
      await raw.upgrade({ path: options.path ?? '/', headers: options.headers, host: `${host}:${gateway.port}` }, 5000);
      const helloMs = options.helloMs ?? 5000;
      if (helloMs > 0) {
        const hello = await client.next(helloMs);
        const match = /^hello:([0-9a-f]{20})$/.exec(hello);
        if (match === null) throw new Error(`${name}: the first message was ${JSON.stringify(hello)}, not hello:<client id>`);
        client.id = match[1];
        client.take();
      }
    } catch (error) {
      raw.destroy();
      throw error;
    }
    return client;
  }

  /** Takes the id from a hello that came later (a client that waited for a BusinessWorker). */
  async hello(timeoutMs = 5000): Promise<string> {
    const hello = await this.waitFor((e) => e.startsWith('hello:'), timeoutMs, 'its hello');
    this.id = hello.slice('hello:'.length);
    return this.id;
  }

  /** The next frame (or `<end>`), recorded. */
  async next(timeoutMs = 5000): Promise<Entry> {
    if (this.ended) throw new Error(`${this.name}: the connection has ended`);
    let frame: Frame;
    try {
      frame = await this.raw.readFrame(timeoutMs);
    } catch (error) {
      if (!/connection closed/.test(String(error))) throw new Error(`${this.name}: ${String(error)}; received so far: ${JSON.stringify(this.received)}`);
      this.ended = true;
      this.record('<end>');
      return '<end>';
    }
    const entry = entryOf(frame);
    this.record(entry);
    if (frame.opcode === Op.Close) this.answerClose(frame);
    return entry;
  }

  private record(entry: Entry): void {
    this.received.push(entry);
    this.inbox.push(entry);
  }

  /**
   * The first entry satisfying `match`, taken from the inbox if it is there,
   * else read (bounded: 200 frames, `timeoutMs` each); what is read before it
   * stays in the inbox.
   */
  async waitFor(match: (entry: Entry) => boolean, timeoutMs = 5000, what = 'the entry awaited'): Promise<Entry> {
    const held = this.inbox.findIndex(match);
    if (held >= 0) return this.inbox.splice(held, 1)[0];
    for (let i = 0; i < 200; i++) {
      const entry = await this.next(timeoutMs).catch((error: unknown) => {
        throw new Error(`${this.name}, waiting for ${what}: ${String(error)}`);
      });
      if (match(entry)) {
        this.inbox.splice(this.inbox.lastIndexOf(entry), 1);
        return entry;
      }
      if (entry === '<end>') throw new Error(`${this.name} ended while waiting for ${what}; received ${JSON.stringify(this.received)}`);
    }
    throw new Error(`${this.name}: 200 frames and not ${what}`);
  }

  /**
   * The next entries are these, in this order, nothing else before or
   * between them (taken from the inbox first, then read). For what a
   * GatewayClient sends: its connection is not the BusinessWorker's, so a
   * round trip through the BusinessWorker (sync) does not show it arrived.
   */
  async expectNext(...expected: Entry[]): Promise<void> {
    const got: Entry[] = [];
    for (let i = 0; i < expected.length; i++) {
      if (this.inbox.length === 0) {
        await this.next(8000).catch((error: unknown) => {
          throw new Error(`${this.name}, waiting for ${JSON.stringify(expected)} (got ${JSON.stringify(got)}): ${String(error)}`);
        });
      }
      got.push(this.inbox.shift() as Entry);
    }
    expect(got, `what ${this.name} received`).toEqual(expected);
  }

  /** Sends a text message as it is. */
  send(text: string): void {
    this.raw.sendText(text);
  }

  /** Calls php/Events.php's NAME(args) and returns its result; what came before the answer stays in the inbox. */
  async call(call: string, ...args: unknown[]): Promise<unknown> {
    this.raw.sendText(JSON.stringify({ call, args }));
    const entry = await this.waitFor((e) => answerOf(e)?.re === call, 5000, `the answer to ${call}`);
    return (answerOf(entry) as Answer).r;
  }

  /** As call(), with the arguments written as JSON text (what JSON.stringify cannot say: int64, -0.0, key order of numeric keys). */
  async callJson(call: string, argsJson: string): Promise<unknown> {
    this.raw.sendText(`{"call":${JSON.stringify(call)},"args":${argsJson}}`);
    const entry = await this.waitFor((e) => answerOf(e)?.re === call, 5000, `the answer to ${call}`);
    return (answerOf(entry) as Answer).r;
  }

  /** A round trip through the BusinessWorker: what the Gateway wrote to this client before it is in the inbox. */
  async sync(): Promise<void> {
    await this.call('sync');
  }

  /** What is in the inbox (emptied). */
  take(): Entry[] {
    return this.inbox.splice(0);
  }

  /** Syncs, then takes the inbox. */
  async inboxAfterSync(): Promise<Entry[]> {
    await this.sync();
    return this.take();
  }

  /** Reads until the connection ends (a Close from the server is answered); returns the inbox, `<end>` last. */
  async ending(timeoutMs = 8000): Promise<Entry[]> {
    for (let i = 0; i < 200 && !this.ended; i++) await this.next(timeoutMs);
    if (!this.ended) throw new Error(`${this.name}: 200 frames and the connection has not ended`);
    return this.take();
  }

  /** Closes from the client side (a Close with `code`, null: with no code) and reads to the end; returns what came. */
  async close(code: number | null = 1000, reason = ''): Promise<Entry[]> {
    if (this.ended) return this.take();
    this.closeSent = true;
    this.raw.sendClose(code ?? undefined, reason);
    return this.ending();
  }

  destroy(): void {
    this.raw.destroy();
  }

  private answerClose(frame: Frame): void {
    // As a browser does: echo the code (unless this side started the closing handshake), then wait for the server to end TCP.
    if (this.closeSent || this.raw.socket.destroyed) return;
    this.closeSent = true;
    this.raw.sendClose(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined);
  }
}

/** `value` with each client's id written `<name>` (JSON round trip), so two Gateways' answers compare. */
export function labelled<T>(value: T, clients: readonly GwClient[]): T {
  let text = JSON.stringify(value);
  for (const c of clients) if (c.id !== '') text = text.split(c.id).join(`<${c.name}>`);
  return JSON.parse(text) as T;
}

/** `expect` shorthand: the entries are these, in order. */
export function expectEntries(actual: readonly Entry[], expected: readonly Entry[]): void {
  expect([...actual]).toEqual([...expected]);
}
