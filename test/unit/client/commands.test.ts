// WssdClient's commands: results and error replies, binary data, the pending bound (the
// server's 64), the offline queue (its bound, its timeout, its place after the resubscriptions),
// and what becomes of commands when a connection ends.
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../../src/client/wssd-client.js';
import { harness, settle } from './fake-server.js';
import type { FakeSocket, Harness } from './fake-server.js';

function connected(options = {}): Harness & { socket: FakeSocket } {
  const h = harness(options);
  h.client.connect();
  return { ...h, socket: h.net.last.open() };
}

interface Outcome<T> {
  value?: T;
  code?: string;
}

/** Watches a promise from now on; `outcome` reads what it settled with by then. */
function watch<T>(promise: Promise<T>): Outcome<T> {
  const seen: Outcome<T> = { code: 'pending' };
  promise.then(
    (value) => Object.assign(seen, { value, code: undefined }),
    (error: unknown) => Object.assign(seen, { code: error instanceof ClientError ? error.code : String(error) }),
  );
  return seen;
}

async function outcome<T>(watched: Outcome<T> | Promise<T>): Promise<Outcome<T>> {
  const seen = watched instanceof Promise ? watch(watched) : watched;
  await settle();
  return seen.code === undefined ? { value: seen.value } : { code: seen.code };
}

describe('results', () => {
  it('publish answers its position; binary data goes as data_base64', async () => {
    const { client, socket } = connected();
    const done = client.publish('t', new Uint8Array([1, 2, 3]));
    expect(socket.last('publish')).toMatchObject({ topic: 't', data_base64: 'AQID' });
    socket.reply(socket.last('publish'), { offset: 7, epoch: 'E' });
    expect(await done).toEqual({ offset: 7, epoch: 'E' });
    const plain = client.publish('t', 'text');
    expect(socket.last('publish').data).toBe('text');
    socket.reply(socket.last('publish'));
    expect(await plain).toEqual({});
  });

  it('rpc round-trips bytes; presence and history are read', async () => {
    const { client, socket } = connected();
    const bytes = new Uint8Array(256).map((_, i) => i);
    const answer = client.rpc(bytes.buffer);
    socket.reply(socket.last('rpc'), { data_base64: socket.last('rpc').data_base64 });
    expect(await answer).toEqual(bytes);
    const members = client.presence('room', { limit: 2 });
    expect(socket.last('presence')).toMatchObject({ topic: 'room', limit: 2 });
    socket.reply(socket.last('presence'), { members: [{ client: 'c1', user: 'u1' }], total: 3, next: 'c1' });
    expect(await members).toEqual({ members: [{ client: 'c1', user: 'u1' }], total: 3, next: 'c1' });
    const history = client.history('room', { since: { offset: 1, epoch: 'E' }, limit: 10 });
    expect(socket.last('history')).toMatchObject({ since: { offset: 1, epoch: 'E' }, limit: 10 });
    socket.reply(socket.last('history'), { publications: [{ offset: 2, data: 'x' }], position: { offset: 2, epoch: 'E' }, recovered: true });
    expect((await history).publications).toEqual([{ topic: 'room', data: 'x', offset: 2, epoch: 'E' }]);
  });

  it('an error reply rejects with its code and message', async () => {
    const { client, socket } = connected();
    const done = client.publish('admin', 'x');
    socket.fail(socket.last('publish'), 'permission_denied', 'not allowed to publish on admin');
    await expect(done).rejects.toMatchObject({ name: 'ClientError', code: 'permission_denied', message: 'not allowed to publish on admin' });
  });

  it('an error reply with id null is reported as an error event', () => {
    const { socket, events } = connected();
    socket.frame({ id: null, error: { code: 'bad_request', message: 'id out of range' } });
    expect(events.at(-1)).toMatchObject({ name: 'error', value: { code: 'bad_request' } });
  });
});

describe('the pending bound', () => {
  it('past 64 commands waiting for a reply, the next is refused locally with limit_exceeded', async () => {
    const { client, socket } = connected();
    const calls = Array.from({ length: 64 }, (_, i) => watch(client.rpc(`${i}`)));
    expect(await outcome(client.rpc('one too many'))).toEqual({ code: 'limit_exceeded' });
    socket.reply(socket.commands('rpc')[0]);
    expect(await outcome(calls[0])).toEqual({ value: undefined });
    expect(await outcome(client.rpc('room again'))).toEqual({ code: 'pending' });
  });

  it('never more than 64 on the wire, subscribes included: the rest wait for replies', () => {
    const { client, socket } = connected();
    for (let i = 0; i < 100; i++) client.subscribe(`t${i}`);
    expect(socket.sent).toHaveLength(64);
    socket.replyAll();
    expect(socket.sent).toHaveLength(36);
  });

  it('a command that timed out on the wire keeps its place until its reply, then frees it', async () => {
    const { client, socket, clock } = connected({ maxPending: 2, timeout: 1_000 });
    const late = watch(client.rpc('slow'));
    client.subscribe('t');
    clock.advance(1_000);
    expect(await outcome(late)).toEqual({ code: 'timeout' });
    client.subscribe('u');
    expect(socket.commands('subscribe')).toHaveLength(1); // the window is still full
    socket.reply(socket.last('rpc'), { data: 'too late' });
    expect(socket.commands('subscribe')).toHaveLength(2);
  });
});

describe('the offline queue', () => {
  it('holds commands made while disconnected and sends them after the resubscriptions', () => {
    const h = harness();
    h.client.subscribe('t');
    void h.client.publish('t', 'queued');
    void h.client.rpc('queued too');
    h.client.connect();
    const socket = h.net.last.open();
    expect(socket.sent.map((f) => f.cmd)).toEqual(['subscribe', 'publish', 'rpc']);
  });

  it('holds at most maxQueued; past it, or past its timeout, a command fails with unavailable', async () => {
    const h = harness({ maxQueued: 3, timeout: 5_000 });
    const queued: Outcome<unknown>[] = [watch(h.client.publish('t', '1')), watch(h.client.publish('t', '2')), watch(h.client.rpc('3', { timeout: 8_000 }))];
    expect(await outcome(h.client.publish('t', '4'))).toEqual({ code: 'unavailable' });
    h.clock.advance(5_000);
    expect(await Promise.all(queued.map((q) => outcome(q)))).toEqual([{ code: 'unavailable' }, { code: 'unavailable' }, { code: 'pending' }]);
    const later = watch(h.client.rpc('later'));
    h.clock.advance(3_000);
    expect(await outcome(queued[2])).toEqual({ code: 'unavailable' });
    expect(await outcome(later)).toEqual({ code: 'pending' });
    h.client.connect();
    expect(h.net.last.open().sent.map((f) => f.data)).toEqual(['later']);
  });

  it('a connection lost with commands on the wire fails them (disconnected); queued ones wait for the next', async () => {
    const h = connected();
    const sent = watch(h.client.rpc('on the wire'));
    h.socket.serverClose(1006);
    const queued = watch(h.client.rpc('queued'));
    expect(await outcome(sent)).toEqual({ code: 'disconnected' });
    h.clock.advance(1_000);
    const socket = h.net.last.open();
    expect(socket.last('rpc').data).toBe('queued');
    socket.reply(socket.last('rpc'), { data: 'ok' });
    expect(await outcome(queued)).toEqual({ value: 'ok' });
  });

  it('disconnect() fails what is queued, and keeps no timer', async () => {
    const h = harness();
    h.client.connect();
    const queued = watch(h.client.publish('t', 'x'));
    h.client.disconnect();
    expect(await outcome(queued)).toEqual({ code: 'disconnected' });
    expect(h.clock.timers).toBe(0);
  });

  it('a send that throws is a broken connection: closed, and tried again', () => {
    const h = connected();
    h.socket.sendError = new Error('EPIPE');
    void h.client.publish('t', 'x').catch(() => {});
    expect(h.events.filter((e) => e.name === 'disconnected')).toMatchObject([{ value: { code: 1006, reason: 'send failed', reconnect: true } }]);
  });
});
