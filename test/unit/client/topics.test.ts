// WssdClient's topics: subscribe and its reply, every push, resuming with `since` after a
// reconnect with each publication delivered once and in order, gaps, and the server's own
// subscriptions.
import { describe, expect, it } from 'vitest';
import type { Gap, Publication, SubscribeOptions, SubscribeResult } from '../../../src/client/wssd-client.js';
import { harness } from './fake-server.js';
import type { FakeSocket, Frame, Harness } from './fake-server.js';

interface Recorder extends SubscribeOptions {
  seen: string[];
}

/** Subscribe options that write down everything that happens, in order. */
function recorder(extra: SubscribeOptions = {}): Recorder {
  const seen: string[] = [];
  return {
    ...extra,
    seen,
    onPublication: (p: Publication) => seen.push(`pub ${p.epoch ?? ''}${p.offset ?? ''} ${String(p.data)}`),
    onGap: (g: Gap) => seen.push(`gap ${g.reason} ${JSON.stringify([g.from, g.to])}`),
    onSubscribed: (r: SubscribeResult) => seen.push(`subscribed ${JSON.stringify(r)}`),
    onJoin: (m) => seen.push(`join ${m.client}`),
    onLeave: (m) => seen.push(`leave ${m.client}`),
    onError: (e) => seen.push(`error ${e.code}`),
    onUnsubscribed: () => seen.push('unsubscribed'),
  };
}

const pub = (socket: FakeSocket, topic: string, offset: number, epoch = 'E'): void => socket.push('pub', { topic, data: `m${offset}`, offset, epoch });

function connected(options = {}): Harness & { socket: FakeSocket } {
  const h = harness(options);
  h.client.connect();
  return { ...h, socket: h.net.last.open() };
}

/** Drops the connection and opens the next one. */
function reconnect(h: Harness): FakeSocket {
  h.net.last.serverClose(1001);
  h.clock.advance(20_000);
  return h.net.last.open();
}

describe('subscribe', () => {
  it('sends subscribe (with presence when asked), reports the reply, delivers pubs, joins and leaves', () => {
    const { client, socket } = connected();
    const r = recorder({ presence: true });
    const sub = client.subscribe('room:1', r);
    const cmd = socket.last('subscribe');
    expect(cmd).toMatchObject({ cmd: 'subscribe', topic: 'room:1', presence: true });
    expect(cmd.since).toBeUndefined();
    expect(sub.state).toBe('subscribing');
    socket.reply(cmd, { recovered: true, replayed: 0, position: { offset: 4, epoch: 'E' } });
    expect(sub.state).toBe('subscribed');
    pub(socket, 'room:1', 5);
    socket.push('join', { topic: 'room:1', client: 'c2', user: 'u2' });
    socket.push('leave', { topic: 'room:1', client: 'c2' });
    expect(r.seen).toEqual(['subscribed {"recovered":true,"replayed":0,"position":{"offset":4,"epoch":"E"}}', 'pub E5 m5', 'join c2', 'leave c2']);
    expect(sub.position).toEqual({ offset: 5, epoch: 'E' });
  });

  it('made while disconnected, it is sent once connected', () => {
    const h = harness();
    h.client.subscribe('t', recorder());
    h.client.connect();
    expect(h.net.last.open().last('subscribe').topic).toBe('t');
  });

  it('a refusal reaches onError and ends the subscription; the topic can be subscribed again', () => {
    const { client, socket } = connected();
    const r = recorder();
    const sub = client.subscribe('admin', r);
    socket.fail(socket.last('subscribe'), 'permission_denied');
    expect(r.seen).toEqual(['error permission_denied']);
    expect(sub.state).toBe('unsubscribed');
    client.subscribe('admin', recorder());
    expect(socket.commands('subscribe')).toHaveLength(2);
  });

  it('a refusal with no onError goes to the client\'s error event', () => {
    const { client, socket, events } = connected();
    const sub = client.subscribe('admin');
    socket.fail(socket.last('subscribe'), 'permission_denied', 'not allowed to subscribe to admin');
    expect(events.filter((e) => e.name === 'error').map((e) => e.value)).toMatchObject([{ code: 'permission_denied', message: 'not allowed to subscribe to admin' }]);
    expect(sub.state).toBe('unsubscribed');
  });

  it('unavailable is tried again after a backoff, the subscription kept', () => {
    const { client, socket, clock } = connected();
    const r = recorder();
    const sub = client.subscribe('t', r);
    socket.fail(socket.last('subscribe'), 'unavailable');
    expect(sub.state).toBe('subscribing');
    clock.advance(500);
    expect(socket.commands('subscribe')).toHaveLength(2);
    socket.reply(socket.last('subscribe'), { recovered: true, replayed: 0 });
    expect(sub.state).toBe('subscribed');
    expect(r.seen[0]).toBe('error unavailable');
  });

  it('is refused locally twice for one topic, and past maxSubscriptions', () => {
    const { client } = connected({ maxSubscriptions: 2 });
    client.subscribe('a');
    expect(() => client.subscribe('a')).toThrow(expect.objectContaining({ code: 'already_subscribed' }));
    client.subscribe('b');
    expect(() => client.subscribe('c')).toThrow(expect.objectContaining({ code: 'limit_exceeded' }));
  });

  it('unsubscribe() sends unsubscribe, drops what still arrives, and is not resubscribed', () => {
    const h = connected();
    const r = recorder();
    const sub = h.client.subscribe('t', r);
    h.socket.replyAll();
    sub.unsubscribe();
    expect(h.socket.last('unsubscribe').topic).toBe('t');
    pub(h.socket, 't', 1);
    expect(r.seen).toEqual(['subscribed {"recovered":true,"replayed":0}']);
    h.socket.replyAll();
    expect(reconnect(h).commands('subscribe')).toHaveLength(0);
  });

  it('unsubscribe() before the subscribe was sent sends nothing', () => {
    const h = harness();
    h.client.subscribe('t').unsubscribe();
    h.client.connect();
    expect(h.net.last.open().sent).toEqual([]);
  });
});

describe('resuming', () => {
  it('resubscribes with since after a reconnect; an overlapping replay is delivered exactly once, in order', () => {
    const h = connected();
    const r = recorder();
    h.client.subscribe('t', r);
    h.socket.reply(h.socket.last('subscribe'), { recovered: true, replayed: 0, position: { offset: 2, epoch: 'E' } });
    pub(h.socket, 't', 3);
    pub(h.socket, 't', 4);
    const socket = reconnect(h);
    expect(socket.last('subscribe').since).toEqual({ offset: 4, epoch: 'E' });
    for (const n of [3, 4, 5, 6]) pub(socket, 't', n); // the replay overlaps what came live
    pub(socket, 't', 6); // and one twice
    socket.reply(socket.last('subscribe'), { recovered: true, replayed: 2, position: { offset: 6, epoch: 'E' } });
    pub(socket, 't', 7);
    expect(r.seen.filter((s) => s.startsWith('pub'))).toEqual(['pub E3 m3', 'pub E4 m4', 'pub E5 m5', 'pub E6 m6', 'pub E7 m7']);
  });

  it('trimmed: the gap is reported before the publications after it', () => {
    const h = connected();
    const r = recorder();
    h.client.subscribe('t', r);
    h.socket.reply(h.socket.last('subscribe'), { recovered: true, replayed: 0, position: { offset: 41, epoch: 'E' } });
    const socket = reconnect(h);
    pub(socket, 't', 50);
    pub(socket, 't', 51);
    socket.reply(socket.last('subscribe'), { recovered: false, reason: 'trimmed', replayed: 2, position: { offset: 51, epoch: 'E' } });
    expect(r.seen.slice(1)).toEqual([
      'subscribed {"recovered":false,"replayed":2,"reason":"trimmed","position":{"offset":51,"epoch":"E"}}',
      'gap trimmed [{"offset":41,"epoch":"E"},{"offset":49,"epoch":"E"}]',
      'pub E50 m50',
      'pub E51 m51',
    ]);
  });

  it('while a replayed batch is handed over, subscription.position is that of the publication (or gap) being delivered', () => {
    const h = connected();
    const positions: string[] = [];
    const sub = h.client.subscribe('t', {
      onPublication: (p) => positions.push(`pub ${p.offset} at ${JSON.stringify(sub.position)}`),
      onGap: (g) => positions.push(`gap to ${g.to?.offset} at ${JSON.stringify(sub.position)}`),
    });
    h.socket.reply(h.socket.last('subscribe'), { recovered: true, replayed: 0, position: { offset: 41, epoch: 'E' } });
    const socket = reconnect(h);
    for (const n of [50, 51, 52]) pub(socket, 't', n);
    socket.reply(socket.last('subscribe'), { recovered: false, reason: 'trimmed', replayed: 3, position: { offset: 52, epoch: 'E' } });
    expect(positions).toEqual([
      'gap to 49 at {"offset":49,"epoch":"E"}',
      'pub 50 at {"offset":50,"epoch":"E"}',
      'pub 51 at {"offset":51,"epoch":"E"}',
      'pub 52 at {"offset":52,"epoch":"E"}',
    ]);
    expect(sub.position).toEqual({ offset: 52, epoch: 'E' });
  });

  it('epoch: the new epoch is delivered after the gap', () => {
    const h = connected();
    const r = recorder();
    h.client.subscribe('t', { ...r, since: { offset: 9, epoch: 'E' } });
    expect(h.socket.last('subscribe').since).toEqual({ offset: 9, epoch: 'E' });
    pub(h.socket, 't', 1, 'F');
    h.socket.reply(h.socket.last('subscribe'), { recovered: false, reason: 'epoch', replayed: 1 });
    expect(r.seen.slice(1)).toEqual(['gap epoch [{"offset":9,"epoch":"E"},{"offset":0,"epoch":"F"}]', 'pub F1 m1']);
  });

  it('a topic without history: a reconnect reports that what was published meanwhile is lost', () => {
    const h = connected();
    const r = recorder();
    h.client.subscribe('t', r);
    h.socket.replyAll();
    h.socket.push('pub', { topic: 't', data: 'x' });
    const socket = reconnect(h);
    expect(socket.last('subscribe').since).toBeUndefined();
    socket.replyAll();
    expect(r.seen.slice(1)).toEqual(['pub  x', 'subscribed {"recovered":true,"replayed":0}', 'gap no-history [null,null]']);
  });
});

describe('pushes that belong to no subscribe()', () => {
  it('the server subscribing the client: subscribed, publication, join, gap after a reconnect, unsubscribed', () => {
    const h = connected();
    const names = (): string[] => h.events.filter((e) => e.name !== 'connecting' && e.name !== 'connected' && e.name !== 'disconnected').map((e) => `${e.name} ${JSON.stringify(e.value)}`);
    h.socket.push('subscribe', { topic: 'user:1', position: { offset: 1, epoch: 'E' } });
    pub(h.socket, 'user:1', 2);
    pub(h.socket, 'user:1', 2);
    h.socket.push('join', { topic: 'user:1', client: 'c9' });
    const socket = reconnect(h);
    socket.push('subscribe', { topic: 'user:1', position: { offset: 5, epoch: 'E' } });
    socket.push('unsubscribe', { topic: 'user:1' });
    pub(socket, 'user:1', 6);
    expect(names()).toEqual([
      'subscribed {"topic":"user:1","position":{"offset":1,"epoch":"E"}}',
      'publication {"topic":"user:1","data":"m2","offset":2,"epoch":"E"}',
      'join {"topic":"user:1","client":"c9"}',
      'subscribed {"topic":"user:1","position":{"offset":5,"epoch":"E"}}',
      'gap {"topic":"user:1","reason":"missed","from":{"offset":2,"epoch":"E"},"to":{"offset":5,"epoch":"E"}}',
      'unsubscribed {"topic":"user:1"}',
      'publication {"topic":"user:1","data":"m6","offset":6,"epoch":"E"}',
    ]);
  });

  it('subscribe() of a topic the server subscribed takes it over (already_subscribed is no error)', () => {
    const { client, socket } = connected();
    socket.push('subscribe', { topic: 't', position: { offset: 3, epoch: 'E' } });
    const r = recorder();
    const sub = client.subscribe('t', r);
    expect(socket.last('subscribe').since).toEqual({ offset: 3, epoch: 'E' });
    socket.fail(socket.last('subscribe'), 'already_subscribed');
    pub(socket, 't', 4);
    expect(sub.state).toBe('subscribed');
    expect(r.seen).toEqual(['subscribed {"recovered":true,"replayed":0,"position":{"offset":3,"epoch":"E"}}', 'pub E4 m4']);
  });

  it('the server unsubscribing a subscribe(): onUnsubscribed, and no resubscribe', () => {
    const h = connected();
    const r = recorder();
    const sub = h.client.subscribe('t', r);
    h.socket.replyAll();
    h.socket.push('unsubscribe', { topic: 't' });
    expect(sub.state).toBe('unsubscribed');
    expect(r.seen.at(-1)).toBe('unsubscribed');
    expect(reconnect(h).commands('subscribe')).toHaveLength(0);
  });

  it('message pushes, text and binary', () => {
    const { socket, events } = connected();
    socket.push('message', { data: 'hi' });
    socket.push('message', { data_base64: 'AP8=' });
    expect(events.filter((e) => e.name === 'message').map((e) => e.value)).toEqual([{ data: 'hi' }, { data: new Uint8Array([0, 255]) }]);
  });

  it('an unknown push is ignored; a throwing handler is reported and does not stop delivery', () => {
    const { client, socket, events } = connected();
    const seen: Frame[] = [];
    client.subscribe('t', {
      onPublication: (p) => {
        seen.push({ offset: p.offset });
        throw new Error('app bug');
      },
    });
    socket.replyAll();
    socket.push('future-thing', { topic: 't' });
    pub(socket, 't', 1);
    pub(socket, 't', 2);
    expect(seen).toEqual([{ offset: 1 }, { offset: 2 }]);
    expect(events.filter((e) => e.name === 'error')).toHaveLength(2);
    expect(client.state).toBe('connected');
  });
});
