// The two transports: the default one over a WebSocket class, and WeChat's over
// wx.connectSocket, each against a stand-in that behaves as its documentation says.
import { describe, expect, it } from 'vitest';
import { webSocketTransport, WssdClient } from '../../../src/client/wssd-client.js';
import type { ClientEvents, Transport } from '../../../src/client/wssd-client.js';
import { wechatTransport } from '../../../src/client/wechat.js';
import type { SocketTask, WechatApi } from '../../../src/client/wechat.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { settle } from './fake-server.js';

/** Like the browser's WebSocket: events as properties, data a string or (binaryType) an ArrayBuffer. */
class FakeWebSocket {
  static made: FakeWebSocket[] = [];
  binaryType = 'blob';
  protocol = '';
  readyState = 0;
  sent: string[] = [];
  closed: [number | undefined, string | undefined] | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeWebSocket.made.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed = [code, reason];
  }
}

function record(client: WssdClient): string[] {
  const seen: string[] = [];
  client.on('connected', () => seen.push('connected'));
  client.on('disconnected', (d: ClientEvents['disconnected']) => seen.push(`disconnected ${d.code} ${d.reason} ${d.reconnect}`));
  client.on('error', (e) => seen.push(`error ${e.code}`));
  client.on('message', (m) => seen.push(`message ${String(m.data)}`));
  return seen;
}

/** A client over FakeWebSocket, its first socket opened with wssd.v1. */
function openOverWebSocket(): { ws: FakeWebSocket; seen: string[] } {
  FakeWebSocket.made = [];
  const client = new WssdClient('wss://a/wss', { websocket: FakeWebSocket, clock: new ManualClock() });
  const seen = record(client);
  client.connect();
  const ws = FakeWebSocket.made[0];
  ws.protocol = 'wssd.v1';
  ws.onopen?.({});
  return { ws, seen };
}

describe('the default transport (a WebSocket class)', () => {
  it('offers wssd.v1, asks for ArrayBuffers, passes text, close codes and the chosen subprotocol', () => {
    const { ws, seen } = openOverWebSocket();
    expect(ws.protocols).toEqual(['wssd.v1']);
    expect(ws.binaryType).toBe('arraybuffer');
    ws.onmessage?.({ data: '{"push":"message","data":"hi"}' });
    ws.onclose?.({ code: 1001, reason: 'restart' });
    expect(seen).toEqual(['connected', 'message hi', 'disconnected 1001 restart true']);
  });

  it('a binary frame is a protocol error: reported, the connection dropped', () => {
    const { ws, seen } = openOverWebSocket();
    ws.onmessage?.({ data: new ArrayBuffer(2) });
    expect(seen).toEqual(['connected', 'error protocol_error', 'disconnected 1002 a binary frame: wssd.v1 is text only true']);
    expect(ws.closed?.[0]).toBe(1000);
  });

  it("an opening that fails with an error and no close (Node 20's WebSocket, still CONNECTING) ends the attempt at once", () => {
    FakeWebSocket.made = [];
    const clock = new ManualClock();
    const client = new WssdClient('wss://a/wss', { websocket: FakeWebSocket, clock, random: () => 0.5, backoffBase: 100 });
    const seen = record(client);
    client.connect();
    FakeWebSocket.made[0].onerror?.({});
    expect(seen).toEqual(['error transport_error', 'disconnected 1006 could not connect true']);
    clock.advance(50);
    expect(FakeWebSocket.made).toHaveLength(2);
    // A WebSocket that closes as the standard says (readyState 3 by the error, then close) is heard once.
    const t = webSocketTransport(FakeWebSocket)('wss://a/wss', ['wssd.v1']);
    const closes: number[] = [];
    t.onclose = (code) => closes.push(code);
    FakeWebSocket.made[2].readyState = 3;
    FakeWebSocket.made[2].onerror?.({});
    FakeWebSocket.made[2].onclose?.({ code: 1006, reason: '' });
    expect(closes).toEqual([1006]);
  });

  it('once open, a transport reports errors without closing; close() passes code and reason', () => {
    FakeWebSocket.made = [];
    const t = webSocketTransport(FakeWebSocket)('wss://a/wss', ['wssd.v1']);
    const errors: string[] = [];
    t.onerror = (e) => errors.push(e.code);
    t.onclose = () => errors.push('closed');
    FakeWebSocket.made[0].readyState = 1;
    FakeWebSocket.made[0].onerror?.({});
    t.close(4321, 'why');
    expect(errors).toEqual(['transport_error']);
    expect(FakeWebSocket.made[0].closed).toEqual([4321, 'why']);
  });
});

type Listener<T> = (result: T) => void;

/**
 * wx.connectSocket as documented: callbacks come later (here, on a microtask), send and close
 * answer through success/fail, close before the open may fail ('fail') or say nothing ('silent').
 */
class FakeTask implements SocketTask {
  state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  sent: string[] = [];
  closeCalls: { code?: number; reason?: string }[] = [];
  sendFails = false;
  private readonly on: { open: Listener<unknown>[]; message: Listener<{ data: string | ArrayBuffer }>[]; close: Listener<{ code: number; reason: string }>[]; error: Listener<{ errMsg: string }>[] } = {
    open: [], message: [], close: [], error: [],
  };
  constructor(readonly options: { url: string; protocols?: string[] }, readonly closeBeforeOpen: 'fail' | 'silent') {}
  onOpen(cb: Listener<unknown>): void {
    this.on.open.push(cb);
  }
  onMessage(cb: Listener<{ data: string | ArrayBuffer }>): void {
    this.on.message.push(cb);
  }
  onClose(cb: Listener<{ code: number; reason: string }>): void {
    this.on.close.push(cb);
  }
  onError(cb: Listener<{ errMsg: string }>): void {
    this.on.error.push(cb);
  }
  send(o: { data: string | ArrayBuffer; success?: () => void; fail?: Listener<{ errMsg: string }> }): void {
    const ok = this.state === 'open' && !this.sendFails;
    if (ok) this.sent.push(o.data as string);
    queueMicrotask(() => (ok ? o.success?.() : o.fail?.({ errMsg: 'sendSocketMessage:fail WebSocket is not connected' })));
  }
  close(o: { code?: number; reason?: string; success?: () => void; fail?: Listener<{ errMsg: string }> }): void {
    this.closeCalls.push({ code: o.code, reason: o.reason });
    if (this.state === 'connecting' && this.closeBeforeOpen === 'fail') {
      queueMicrotask(() => o.fail?.({ errMsg: 'closeSocket:fail WebSocket is not connected' }));
      return;
    }
    queueMicrotask(() => o.success?.());
    if (this.state === 'open') {
      this.state = 'closing';
      queueMicrotask(() => this.serverClose(o.code ?? 1000, o.reason ?? ''));
    }
  }
  // What the network does:
  serverOpen(header: Record<string, string> = { 'Sec-WebSocket-Protocol': 'wssd.v1' }): void {
    this.state = 'open';
    for (const cb of this.on.open) cb({ header, profile: {} });
  }
  serverMessage(data: string | ArrayBuffer): void {
    for (const cb of this.on.message) cb({ data });
  }
  serverClose(code: number, reason = ''): void {
    this.state = 'closed';
    for (const cb of this.on.close) cb({ code, reason });
  }
  serverError(errMsg: string): void {
    for (const cb of this.on.error) cb({ errMsg });
  }
}

class FakeWx implements WechatApi {
  tasks: FakeTask[] = [];
  failConnect = false;
  constructor(readonly closeBeforeOpen: 'fail' | 'silent' = 'fail') {}
  connectSocket(o: { url: string; protocols?: string[]; fail?: Listener<{ errMsg: string }> }): SocketTask {
    const task = new FakeTask(o, this.closeBeforeOpen);
    this.tasks.push(task);
    if (this.failConnect) o.fail?.({ errMsg: 'connectSocket:fail url not in domain list' }); // synchronously: the worst case
    return task;
  }
  get last(): FakeTask {
    return this.tasks[this.tasks.length - 1];
  }
}

function bare(wx: FakeWx): { t: Transport; seen: string[] } {
  const t = wechatTransport(wx)('wss://a/wss', ['wssd.v1']);
  const seen: string[] = [];
  t.onopen = (p) => seen.push(`open ${p}`);
  t.onmessage = (m) => seen.push(`message ${m}`);
  t.onclose = (code, reason) => seen.push(`close ${code} ${reason}`);
  t.onerror = (e) => seen.push(`error ${e.code}`);
  return { t, seen };
}

describe('WeChat (wx.connectSocket)', () => {
  it('drives a client: url, protocols, text frames, the server close', async () => {
    const wx = new FakeWx();
    const client = new WssdClient('wss://a/wss', { transport: wechatTransport(wx), token: 't', clock: new ManualClock() });
    const seen = record(client);
    client.connect();
    expect(wx.last.options).toMatchObject({ url: 'wss://a/wss?token=t', protocols: ['wssd.v1'] });
    wx.last.serverOpen();
    client.publish('x', 'y').catch(() => {}); // fails as disconnected below
    expect(JSON.parse(wx.last.sent[0])).toMatchObject({ cmd: 'publish', topic: 'x', data: 'y' });
    wx.last.serverMessage('{"push":"message","data":"hi"}');
    wx.last.serverClose(1001, 'restart');
    expect(seen).toEqual(['connected', 'message hi', 'disconnected 1001 restart true']);
  });

  it('close before the open does not throw and ends in exactly one onclose, whether WeChat fails it or says nothing', async () => {
    for (const mode of ['fail', 'silent'] as const) {
      const wx = new FakeWx(mode);
      const { t, seen } = bare(wx);
      expect(() => t.close(1000, 'bye')).not.toThrow();
      await settle();
      wx.last.serverOpen(); // it opened after all: closed then, and nothing reaches the client
      await settle();
      expect(seen, mode).toEqual(['close 1000 bye']);
      expect(wx.last.closeCalls.length, mode).toBeGreaterThanOrEqual(mode === 'silent' ? 2 : 1);
    }
  });

  it('a send that fails is a broken connection: error, close 1006, the task closed; the client reconnects', async () => {
    const wx = new FakeWx();
    const clock = new ManualClock();
    const client = new WssdClient('wss://a/wss', { transport: wechatTransport(wx), clock });
    const seen = record(client);
    client.connect();
    wx.last.serverOpen();
    wx.last.sendFails = true;
    void client.rpc('x').catch(() => {});
    await settle();
    expect(seen.slice(1)).toEqual([
      'error transport_error',
      'disconnected 1006 send failed: sendSocketMessage:fail WebSocket is not connected true',
    ]);
    expect(wx.tasks[0].closeCalls).toHaveLength(1);
    clock.advance(1_000);
    expect(wx.tasks).toHaveLength(2);
  });

  it('onClose without onOpen, and a connectSocket that fails at once, both end the attempt', async () => {
    const wx = new FakeWx();
    const first = bare(wx);
    wx.last.serverError('connect failed');
    wx.last.serverClose(1006, 'abnormal');
    wx.last.serverClose(1006, 'twice'); // ignored
    expect(first.seen).toEqual(['error transport_error', 'close 1006 abnormal']);
    wx.failConnect = true;
    const second = bare(wx);
    await settle();
    expect(second.seen).toEqual(['error transport_error', 'close 1006 connectSocket:fail url not in domain list']);
  });

  it('reads the chosen subprotocol from the open header; a binary message is a protocol error', () => {
    const wx = new FakeWx();
    const { seen } = bare(wx);
    wx.last.serverOpen({ 'sec-websocket-protocol': 'wssd.v1' });
    wx.last.serverMessage(new ArrayBuffer(1));
    const other = bare(wx);
    wx.last.serverOpen({});
    expect(seen).toEqual(['open wssd.v1', 'error protocol_error']);
    expect(other.seen).toEqual(['open undefined']);
  });
});
