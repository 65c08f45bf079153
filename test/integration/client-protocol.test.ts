// wssd.v1 over real sockets: every command answered with its id, every push,
// permissions from tokens and prefixes, the token's expiry and refresh, and
// hostile input — each refusal an error reply with its code, the connection
// and the server carrying on.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PLAIN_MODE, startServer, type StartOptions, type TestServer } from '../helpers/test-server.js';
import { V1Raw } from '../helpers/v1-raw.js';

const SECRET = 'a secret of the tests, long enough';
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function token(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', SECRET).update(signed).digest('base64url')}`;
}

async function server(options: StartOptions = {}): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, demoPage: true, presencePrefix: ['demo:'], ...options });
  servers.push(ts);
  return ts;
}

async function v1(ts: TestServer, path = '/'): Promise<V1Raw> {
  return V1Raw.open(await ts.connect(), path);
}

describe('wssd.v1', () => {
  it('a client that does not offer it keeps raw messages; one that does gets the protocol', async () => {
    const ts = await startServer(PLAIN_MODE, {});
    servers.push(ts);
    const raw = await ts.open();
    raw.sendText('tom');
    expect((await raw.readFrame()).payload.toString()).toBe('tom');
    const client = await v1(ts);
    expect(await client.call('ping')).toEqual({ id: 1, result: {} });
  });

  it('subscribe, publish, presence with joins and leaves, unsubscribe: replies by id, pushes in order', async () => {
    const ts = await server();
    const a = await v1(ts);
    const b = await v1(ts);
    expect(await a.call('subscribe', { topic: 'demo:room', presence: true })).toMatchObject({ result: { recovered: true, replayed: 0 } });
    await b.call('subscribe', { topic: 'demo:room', presence: true });
    const join = await a.push('join');
    expect(join).toMatchObject({ topic: 'demo:room', client: ts.accepted[1].connection.id });
    expect(await b.call('publish', { topic: 'demo:room', data: 'hello' })).toMatchObject({ result: {} });
    for (const c of [a, b]) expect(await c.push('pub')).toEqual({ push: 'pub', topic: 'demo:room', data: 'hello' });
    await a.call('publish', { topic: 'demo:room', data_base64: Buffer.from([0, 1, 255]).toString('base64') });
    expect(await b.push('pub')).toEqual({ push: 'pub', topic: 'demo:room', data_base64: 'AAH/' });
    // What /stats counts out is what went: the envelope, for each of the two.
    const before = (JSON.parse(ts.server.statsJson()) as { bytes: { out: number } }).bytes.out;
    ts.server.publish('demo:room', 'x'.repeat(100));
    for (const c of [a, b]) await c.push('pub');
    const envelope = Buffer.byteLength(JSON.stringify({ push: 'pub', topic: 'demo:room', data: 'x'.repeat(100) }));
    expect((JSON.parse(ts.server.statsJson()) as { bytes: { out: number } }).bytes.out - before).toBe(2 * envelope);
    const presence = await a.call('presence', { topic: 'demo:room' });
    expect((presence.result as { total: number }).total).toBe(2);
    expect(await b.call('unsubscribe', { topic: 'demo:room' })).toMatchObject({ result: {} });
    expect(await a.push('leave')).toMatchObject({ topic: 'demo:room', client: ts.accepted[1].connection.id });
    expect(await b.call('unsubscribe', { topic: 'demo:room' })).toMatchObject({ error: { code: 'not_subscribed' } });
  });

  it('sends, server-side subscriptions and a kick reach a wssd.v1 client as pushes', async () => {
    const ts = await server({ jwtSecret: [SECRET] });
    const c = await v1(ts, `/?token=${token({ sub: '42', exp: Date.now() / 1000 + 60, topics: ['news'] })}`);
    // The token's topics, subscribed at connect, pushed; then taken over by the client's own subscribe.
    expect(await c.push('subscribe')).toEqual({ push: 'subscribe', topic: 'news' });
    expect(await c.call('subscribe', { topic: 'news' })).toMatchObject({ result: { recovered: true } });
    ts.server.send({ user: '42' }, 'to the user');
    expect(await c.push('message')).toEqual({ push: 'message', data: 'to the user' });
    ts.server.send({ client: ts.accepted[0].connection.id }, Buffer.from('bytes'));
    expect(await c.push('message')).toEqual({ push: 'message', data_base64: Buffer.from('bytes').toString('base64') });
    ts.server.subscribe({ user: '42' }, 'alerts');
    expect(await c.push('subscribe')).toEqual({ push: 'subscribe', topic: 'alerts' });
    ts.server.unsubscribe({ user: '42' }, 'alerts');
    expect(await c.push('unsubscribe')).toEqual({ push: 'unsubscribe', topic: 'alerts' });
    ts.server.disconnect({ user: '42' });
    expect(await c.push('disconnect')).toEqual({ push: 'disconnect', code: 4000, reason: 'disconnected by the server', reconnect: false });
    expect(await c.raw.readClose()).toMatchObject({ code: 4000 });
  });

  it("permissions: the token's allow and publish claims, the server's prefixes; refusals are replies, the connection stays", async () => {
    const ts = await server({ jwtSecret: [SECRET], clientSubscribePrefix: ['public:'], demoPage: false });
    const c = await v1(ts, `/?token=${token({ sub: '7', exp: Date.now() / 1000 + 60, allow: ['room:*', 'exact'], publish: ['room:*'] })}`);
    expect(await c.call('subscribe', { topic: 'room:1' })).toMatchObject({ result: { recovered: true } });
    expect(await c.call('subscribe', { topic: 'exact' })).toMatchObject({ result: {} });
    expect(await c.call('subscribe', { topic: 'public:news' })).toMatchObject({ result: {} });
    expect(await c.call('subscribe', { topic: 'exactly' })).toMatchObject({ error: { code: 'permission_denied' } });
    expect(await c.call('subscribe', { topic: 'demo:room' })).toMatchObject({ error: { code: 'permission_denied' } });
    expect(await c.call('publish', { topic: 'room:1', data: 'x' })).toMatchObject({ result: {} });
    expect(await c.call('publish', { topic: 'public:news', data: 'x' })).toMatchObject({ error: { code: 'permission_denied' } });
    expect(await c.call('presence', { topic: 'secret' })).toMatchObject({ error: { code: 'permission_denied' } });
    expect(await c.call('ping')).toMatchObject({ result: {} });
  });

  it('a token expiring without a refresh closes the connection with 4001 after a disconnect push; a refresh for the same user extends it', async () => {
    const ts = await server({ jwtSecret: [SECRET] });
    const exp = Math.floor(Date.now() / 1000) + 2;
    const c = await v1(ts, `/?token=${token({ sub: '9', exp })}`);
    const other = await c.call('refresh', { token: token({ sub: '10', exp: exp + 60 }) });
    expect(other).toMatchObject({ error: { code: 'token_invalid' } });
    expect(await c.call('refresh', { token: 'garbage' })).toMatchObject({ error: { code: 'token_invalid' } });
    const refreshed = await c.call('refresh', { token: token({ sub: '9', exp: exp + 1 }) });
    expect(refreshed).toEqual({ id: 3, result: { expires_at: exp + 1 } });
    const expired = await c.push('disconnect', 6000);
    expect(expired).toEqual({ push: 'disconnect', code: 4001, reason: 'token expired', reconnect: true });
    expect(await c.raw.readClose()).toMatchObject({ code: 4001 });
  });

  it('hostile input: each gets an error reply with its code, and the connection, the others and the server carry on', async () => {
    const ts = await server({ maxTopicsPerConnection: 50 });
    const bystander = await v1(ts);
    await bystander.call('subscribe', { topic: 'demo:b' });
    const c = await v1(ts);
    const errorOf = async (text: string | Buffer, binary = false): Promise<unknown> => {
      if (binary) c.raw.sendBinary(text as Buffer);
      else c.raw.sendText(text);
      return (await c.take((f) => f.error !== undefined)).error;
    };
    expect(await errorOf('not json')).toMatchObject({ code: 'bad_request' });
    expect(await errorOf('[1,2]')).toMatchObject({ code: 'bad_request' });
    expect(await errorOf('{"cmd":"ping"}')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('id') });
    expect(await errorOf(`{"id":${2 ** 53},"cmd":"ping"}`)).toMatchObject({ code: 'bad_request' });
    expect(await errorOf('{"id":"1","cmd":"ping"}')).toMatchObject({ code: 'bad_request' });
    expect(await errorOf('{"id":5,"cmd":"launch"}')).toMatchObject({ code: 'unknown_command' });
    expect(await errorOf('{"id":6,"cmd":"__proto__"}')).toMatchObject({ code: 'unknown_command' });
    expect(await errorOf('{"id":7,"cmd":"subscribe","topic":""}')).toMatchObject({ code: 'bad_request' });
    expect(await errorOf(`{"id":8,"cmd":"subscribe","topic":"demo:${'x'.repeat(300)}"}`)).toMatchObject({ code: 'bad_request' });
    expect(await errorOf('{"id":9,"cmd":"publish","topic":"elsewhere","data":"x"}')).toMatchObject({ code: 'permission_denied' });
    expect(await errorOf('{"id":10,"cmd":"publish","topic":"demo:a","data_base64":"not base64!"}')).toMatchObject({ code: 'bad_request' });
    expect(await errorOf(Buffer.from('{"id":11,"cmd":"ping"}'), true)).toMatchObject({ code: 'bad_request' });
    // 10,000 subscribes in one go: 50 made, the rest refused with limit_exceeded.
    for (let i = 0; i < 10_000; i++) c.raw.sendText(`{"id":${100 + i},"cmd":"subscribe","topic":"demo:t${i}"}`);
    let made = 0;
    let refused = 0;
    for (let i = 0; i < 10_000; i++) {
      const frame = await c.take((f) => typeof f.id === 'number' && (f.id as number) >= 100);
      if (frame.result !== undefined) made++;
      else if ((frame.error as { code: string }).code === 'limit_exceeded') refused++;
    }
    expect([made, refused]).toEqual([50, 9950]);
    expect(await c.call('ping')).toMatchObject({ result: {} });
    await bystander.call('publish', { topic: 'demo:b', data: 'still here' });
    expect(await bystander.push('pub')).toMatchObject({ data: 'still here' });
    expect(JSON.parse(ts.server.statsJson()).losses['topic-limit']).toBe(9950);
  });

  it('rpc: answered by the application, in order; at most 64 waiting, the rest refused; without a handler, rpc_unavailable', async () => {
    const waiting: (() => void)[] = [];
    const ts = await server({ onRpc: (_c: unknown, data: string | Buffer) => (String(data) === 'hold' ? new Promise((resolve) => waiting.push(() => resolve('held'))) : `re: ${String(data)}`) });
    const c = await v1(ts);
    expect(await c.call('rpc', { data: 'hi' })).toMatchObject({ result: { data: 're: hi' } });
    for (let i = 0; i < 70; i++) c.send('rpc', { data: 'hold' });
    const refusals = [];
    for (let i = 0; i < 6; i++) refusals.push(await c.take((f) => f.error !== undefined));
    for (const r of refusals) expect(r).toMatchObject({ error: { code: 'limit_exceeded' } });
    for (const release of waiting.splice(0)) release();
    for (let i = 0; i < 64; i++) expect(await c.take((f) => f.result !== undefined)).toMatchObject({ result: { data: 'held' } });
    const plain = await server();
    const d = await v1(plain);
    expect(await d.call('rpc', { data: 'x' })).toMatchObject({ error: { code: 'rpc_unavailable' } });
  });
});

