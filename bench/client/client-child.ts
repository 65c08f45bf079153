// Case 11's client process: WssdClient (src/client/wssd-client.ts) in Node,
// compiled to JavaScript before it runs (bench/harness/compiled.ts) as an
// application would load it from dist/client/, over Node's own WebSocket —
// global from Node 22, behind --experimental-websocket on Node 20, as the
// client's tests run it — and beside it a bare WebSocket of that same class
// on the node's raw path: the floor a client without the protocol has.
//
//   node [--experimental-websocket] test-output/bench-servers/bench/client/client-child.js
//   (with NODE_EXTRA_CA_CERTS naming the dev CA, for wss://)
//
// Both check every publication the same way — its size, and that it carries
// the next sequence number (bench/harness/publications.ts) — so that what
// separates them is the protocol: JSON.parse of the push, base64, the
// topic's cursor, the callbacks.
//
// For the resume part a WssdClient runs over a gated transport: 'drop'
// closes its socket, as a lost connection would end it (the client sees the
// close and reconnects, with its backoff); its next connection waits, parked,
// until 'back' lets it through, and the time runs from that socket's open.
//
// IPC (bench/harness/parent-link.ts): ready at once (no port: 0); ClientRequest in, ClientReply out.
import { webSocketTransport, WssdClient, type Publication, type SubscribeResult, type Transport, type TransportFactory, type WebSocketConstructor } from '../../src/client/wssd-client.js';
import { reply as sendToParent, serveParent } from '../harness/parent-link.js';
import { resumeSeq, type ClientKind, type ClientReply, type ClientRequest, type CpuWindow } from './client-requests.js';

/** What the bench needs of the platform's WebSocket (the WHATWG API). */
interface BareSocket {
  binaryType: string;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}
type BareSocketClass = new (url: string, protocols?: string[]) => BareSocket;

const WebSocketClass = (globalThis as { WebSocket?: BareSocketClass }).WebSocket;
if (WebSocketClass === undefined) throw new Error('no global WebSocket: run with --experimental-websocket on Node 20');

function cpuNow(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

interface Expectation {
  size: number;
  count: number;
  cpu0: number;
  t0: number;
  result?: { received: number; error?: string } & CpuWindow;
  waiter?: (result: { received: number; error?: string } & CpuWindow) => void;
}

interface Resume {
  /** While true, a new connection waits (parked) until 'back'. */
  away: boolean;
  parked: (() => void)[];
  socket: Transport | undefined;
  seqs: number[];
  gaps: number;
  backAt: number;
  openedAt: number;
  lastAt: number;
  repliedAt: number;
  result: SubscribeResult | undefined;
  until: number;
  error?: string;
  waiter?: () => void;
  /** Called when a connection attempt is parked. */
  onParked?: () => void;
}

class BenchClient {
  next = 0;
  expectation: Expectation | undefined;
  wssd: WssdClient | undefined;
  bare: BareSocket | undefined;
  resume: Resume | undefined;
  /** Answers 'open' once subscribed. */
  onOpen: ((error?: string) => void) | undefined;

  constructor(
    readonly kind: ClientKind,
    url: string,
    topic: string,
    gated: boolean,
    since: { offset: number; epoch: string } | undefined,
  ) {
    if (kind === 'bare') {
      const ws = new WebSocketClass!(url);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => this.opened();
      ws.onmessage = ({ data }) => this.bytes(data as ArrayBuffer);
      ws.onerror = () => this.fail('WebSocket error');
      ws.onclose = ({ code }) => this.fail(`closed with ${code}`);
      this.bare = ws;
      return;
    }
    const base = webSocketTransport(WebSocketClass as unknown as WebSocketConstructor);
    if (gated) this.resume = { away: false, parked: [], socket: undefined, seqs: [], gaps: 0, backAt: 0, openedAt: 0, lastAt: 0, repliedAt: 0, result: undefined, until: Infinity };
    const client = new WssdClient(url, this.resume === undefined ? { transport: base } : { transport: this.gated(base, this.resume) });
    client.on('error', (e) => this.fail(`client error: ${e.code} ${e.message}`));
    client.subscribe(topic, {
      ...(since === undefined ? {} : { since }),
      onPublication: this.resume === undefined ? (pub) => this.publication(pub) : (pub) => this.resumed(pub),
      onGap: (gap) => {
        if (this.resume !== undefined) this.resume.gaps++;
        this.fail(`a gap: ${JSON.stringify(gap)}`);
      },
      onSubscribed: (result) => {
        if (this.resume !== undefined) this.replied(result);
        this.opened();
      },
      onError: (e) => this.fail(`subscribe: ${e.code} ${e.message}`),
    });
    client.connect();
    this.wssd = client;
  }

  /** The transport `base` makes, but a connection made while away waits until 'back'; the socket's open is timed. */
  private gated(base: TransportFactory, r: Resume): TransportFactory {
    return (url, protocols) => {
      let real: Transport | undefined;
      let closed = false;
      const t: Transport = {
        send: (text) => (real as Transport).send(text),
        close: (code, reason) => {
          closed = true;
          real?.close(code, reason);
        },
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null,
      };
      const start = (): void => {
        if (closed) return;
        real = base(url, protocols);
        r.socket = real;
        real.onopen = (protocol) => {
          r.openedAt = performance.now();
          t.onopen?.(protocol);
        };
        real.onmessage = (text) => t.onmessage?.(text);
        real.onclose = (code, reason) => t.onclose?.(code, reason);
        real.onerror = (error) => t.onerror?.(error);
      };
      if (r.away) {
        r.parked.push(start);
        r.onParked?.();
      } else start();
      return t;
    };
  }

  private opened(): void {
    const answer = this.onOpen;
    this.onOpen = undefined;
    answer?.();
  }

  /** A bare WebSocket's message: a publication's bytes. */
  private bytes(data: ArrayBuffer): void {
    const e = this.expectation;
    if (e === undefined || e.result !== undefined) return this.fail('a message nobody expected');
    if (!(data instanceof ArrayBuffer) || data.byteLength !== e.size) return this.fail(`a message of ${(data as ArrayBuffer).byteLength} bytes, expected ${e.size}`);
    this.check(new DataView(data).getUint32(0, true), e);
  }

  /** WssdClient's publication: the same bytes, decoded from its push. */
  private publication(pub: Publication): void {
    const e = this.expectation;
    const data = pub.data;
    if (e === undefined || e.result !== undefined) return this.fail('a publication nobody expected');
    if (typeof data === 'string' || data.byteLength !== e.size) return this.fail(`a publication of ${typeof data === 'string' ? 'text' : `${data.byteLength} bytes`}, expected ${e.size} bytes`);
    this.check(new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true), e);
  }

  private check(seq: number, e: Expectation): void {
    if (seq !== this.next) return this.fail(`publication ${seq}, expected ${this.next}`);
    this.next++;
    if (this.next === e.count) this.finish(e, undefined);
  }

  private finish(e: Expectation, error: string | undefined): void {
    if (e.result !== undefined) return;
    e.result = { received: this.next, cpuUs: cpuNow() - e.cpu0, wallMs: performance.now() - e.t0, ...(error === undefined ? {} : { error }) };
    e.waiter?.(e.result);
  }

  expect(size: number, count: number): void {
    this.next = 0;
    this.expectation = { size, count, cpu0: cpuNow(), t0: performance.now() };
  }

  // ---- Resume

  private resumed(pub: Publication): void {
    const r = this.resume as Resume;
    const seq = resumeSeq(pub.data);
    if (Number.isNaN(seq)) return this.fail(`not a resume publication: ${String(pub.data).slice(0, 60)}`);
    r.seqs.push(seq);
    if (r.seqs.length === r.until) {
      r.lastAt = performance.now();
      this.maybeBack();
    }
  }

  private replied(result: SubscribeResult): void {
    const r = this.resume as Resume;
    r.result = result;
    r.repliedAt = performance.now();
    this.maybeBack();
  }

  private maybeBack(): void {
    const r = this.resume as Resume;
    if (r.waiter !== undefined && (r.error !== undefined || (r.seqs.length >= r.until && r.repliedAt > r.backAt && r.lastAt > 0))) {
      const waiter = r.waiter;
      r.waiter = undefined;
      waiter();
    }
  }

  drop(done: () => void): void {
    const r = this.resume;
    const client = this.wssd;
    if (r === undefined || client === undefined || r.socket === undefined) return this.fail('drop: not a resume client, or not connected');
    // Answered once the client has noticed and its next attempt — after its backoff — waits at the
    // gate: the time from 'back' is then the connection's own, not what is left of the backoff.
    r.away = true;
    r.onParked = () => {
      r.onParked = undefined;
      done();
    };
    r.socket.close(1000, 'bench: connection lost');
  }

  back(until: number, done: () => void): void {
    const r = this.resume as Resume;
    r.until = until;
    r.lastAt = 0;
    r.repliedAt = 0;
    r.result = undefined;
    r.backAt = performance.now();
    r.waiter = done;
    r.away = false;
    for (const start of r.parked.splice(0)) start();
    this.maybeBack();
  }

  fail(message: string): void {
    const r = this.resume;
    if (r !== undefined) {
      r.error ??= message;
      this.maybeBack();
    }
    const e = this.expectation;
    if (e !== undefined) this.finish(e, message);
    else if (r === undefined) process.stderr.write(`bench client: ${message}\n`);
    const answer = this.onOpen;
    this.onOpen = undefined;
    answer?.(message);
  }

  close(): void {
    this.onOpen = undefined;
    this.expectation = undefined;
    if (this.bare !== undefined) {
      this.bare.onclose = null;
      this.bare.close();
    }
    this.wssd?.disconnect();
  }
}

const clients = new Map<string, BenchClient>();
const reply = (message: ClientReply): void => sendToParent(message);
function client(name: string): BenchClient {
  const c = clients.get(name);
  if (c === undefined) throw new Error(`no client ${name}`);
  return c;
}

serveParent<ClientRequest>(0, (msg) => {
  switch (msg.type) {
    case 'open': {
      const c = new BenchClient(msg.kind, msg.url, msg.topic, msg.gated === true, msg.since);
      clients.set(msg.name, c);
      c.onOpen = (error) => reply(error === undefined ? { type: 'opened', id: msg.id } : { type: 'opened', id: msg.id, error });
      return;
    }
    case 'idle': {
      const cpu0 = cpuNow();
      const t0 = performance.now();
      setTimeout(() => reply({ type: 'idle', id: msg.id, cpuUs: cpuNow() - cpu0, wallMs: performance.now() - t0 }), msg.ms);
      return;
    }
    case 'expect':
      client(msg.name).expect(msg.size, msg.count);
      reply({ type: 'expecting', id: msg.id });
      return;
    case 'done': {
      const e = client(msg.name).expectation;
      if (e === undefined) throw new Error(`client ${msg.name} expects nothing`);
      const answer = (r: NonNullable<Expectation['result']>): void => reply({ type: 'done', id: msg.id, ...r });
      if (e.result !== undefined) answer(e.result);
      else e.waiter = answer;
      return;
    }
    case 'received': {
      const r = client(msg.name).resume;
      reply({ type: 'received', id: msg.id, seqs: r?.seqs ?? [], gaps: r?.gaps ?? 0 });
      return;
    }
    case 'drop':
      client(msg.name).drop(() => reply({ type: 'dropped', id: msg.id }));
      return;
    case 'back': {
      const c = client(msg.name);
      c.back(msg.until, () => {
        const r = c.resume as Resume;
        reply({
          type: 'back',
          id: msg.id,
          connectMs: r.openedAt - r.backAt,
          openToLastMs: r.lastAt - r.openedAt,
          openToReplyMs: r.repliedAt - r.openedAt,
          recovered: r.result?.recovered ?? false,
          replayed: r.result?.replayed ?? 0,
          gaps: r.gaps,
          ...(r.error === undefined ? {} : { error: r.error }),
        });
      });
      return;
    }
    case 'close':
      clients.get(msg.name)?.close();
      clients.delete(msg.name);
      reply({ type: 'closed', id: msg.id });
      return;
    default:
      return;
  }
});
