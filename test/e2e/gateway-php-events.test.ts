// Backend events to a real PHP backend: router.php's /events checks each
// request's X-Wssd-Signature with hash_hmac and hash_equals and logs the
// batches it takes; the test reads that log. Events arrive in order, signed;
// a batch PHP answers 500 or lets hang is sent again, the same batch, until
// taken; a bad signature is refused by PHP and counted by wssd; with the
// endpoint down and a small --events-max-queue the events past it are
// dropped and counted, and no connection waits for any of it.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { count, expectText, freshPort, openClient, PhpBackend, PHP_TEST_TIMEOUT, secret, startGateway, stopAll, type BackendEvent, type EventBatch, type Wssd } from './php-support.js';

afterEach(stopAll, PHP_TEST_TIMEOUT);

/** What router.php noted of each request to /events: the batch and its answer. */
interface Attempt {
  batch: string | null;
  answer: number | 'hang';
}

/** PHP with the secrets, and wssd sending it events (to `endpoint`, /events by default) with the same secret unless told. */
async function scene(options: { endpoint?: string; eventsSecret?: string; args?: string[]; hangMs?: number } = {}): Promise<{ php: PhpBackend; wssd: Wssd; jwtSecret: string }> {
  const jwtSecret = secret();
  const eventsSecret = secret();
  const php = await PhpBackend.start({ jwtSecret, eventsSecret, hangMs: options.hangMs });
  const wssd = await startGateway([
    '--jwt-secret',
    jwtSecret,
    '--events-url',
    php.url(options.endpoint ?? '/events'),
    '--events-secret',
    options.eventsSecret ?? eventsSecret,
    ...(options.args ?? []),
  ]);
  return { php, wssd, jwtSecret };
}

/** The client id of the one connection of `user`. */
async function clientOf(wssd: Wssd, user: string): Promise<string> {
  const answer = await wssd.api('GET', `/api/users/${user}`);
  const connections = answer.body.connections as { client: string }[];
  expect(connections).toHaveLength(1);
  return connections[0].client;
}

function shape(events: BackendEvent[]): string[] {
  return events.map((e) => [e.type, e.topic ?? e.code ?? ''].join(' ').trim());
}

describe('backend events (router.php /events)', () => {
  it(
    'connect, subscribe, unsubscribe and disconnect reach PHP in order, each batch signed, with who, where and why',
    async () => {
      const { php, wssd } = await scene();
      const client = await openClient(wssd.port, `/live?token=${await php.token({ user: '42', topics: 'news' })}`);
      const id = await clientOf(wssd, '42');
      expect((await wssd.api('POST', '/api/subscribe', { client: id, topic: 'room:9' })).status).toBe(200);
      expect((await wssd.api('POST', '/api/unsubscribe', { user: '42', topic: 'room:9' })).status).toBe(200);
      client.sendClose(1000, 'bye');
      expect((await client.readClose()).code).toBe(1000);

      await eventually(() => php.eventsOf(id).some((e) => e.type === 'disconnect'), 5000, () => `the disconnect of ${id} in PHP's log:\n${JSON.stringify(php.events())}`);
      const events = php.eventsOf(id);
      // The close unsubscribes what is left, then the connection is gone.
      expect(shape(events)).toEqual(['connect', 'subscribe news', 'subscribe room:9', 'unsubscribe room:9', 'unsubscribe news', 'disconnect 1000']);
      const [connect] = events;
      expect(connect).toMatchObject({ user: '42', ip: '127.0.0.1', path: '/live', info: { issuer: 'php' } });
      expect(events.every((e) => e.user === '42')).toBe(true);
      expect(events.at(-1)).toMatchObject({ reason: 'bye' });
      const times = events.map((e) => e.time);
      expect([...times].sort((a, b) => a - b)).toEqual(times);

      // Every batch PHP took passed its signature check (it logs no other), in the order wssd numbered them.
      const batches = php.log<EventBatch>('events.log');
      expect(batches.every((b) => b.node === id.slice(0, 12))).toBe(true);
      const numbers = batches.map((b) => Number(b.batch.split('-')[1]));
      expect(numbers).toEqual(numbers.map((_, i) => i));
      expect(php.log<Attempt>('attempts.log').every((a) => a.answer === 200)).toBe(true);
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a wrong --events-secret: PHP answers 401 to the signature, wssd drops the batch and counts it (events-refused), the connection is not affected',
    async () => {
      const { php, wssd } = await scene({ eventsSecret: 'not-what-php-knows' });
      const client = await openClient(wssd.port, `/?token=${await php.token({ user: '5' })}`);
      await eventually(async () => count((await wssd.stats()).losses, 'events-refused') >= 1, 5000, 'a refused batch counted in /stats losses');
      expect(php.log<Attempt>('attempts.log').map((a) => a.answer)).toEqual([401]);
      expect(php.events()).toEqual([]);
      expect(count((await wssd.stats()).backendErrors, 'events-refused')).toBe(1);
      client.sendText('unaffected');
      await expectText(client, 'unaffected');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'an endpoint answering 500 three times: the same batch is sent again (backoff) until PHP takes it, nothing lost',
    async () => {
      const { php, wssd } = await scene({ endpoint: '/events?fail=3' });
      await openClient(wssd.port, `/?token=${await php.token({ user: '6', topics: 't6' })}`);
      const id = await clientOf(wssd, '6');
      await eventually(() => php.eventsOf(id).length >= 2, 15_000, () => `the events of ${id} taken after the failures; attempts: ${JSON.stringify(php.log('attempts.log'))}`);
      const attempts = php.log<Attempt>('attempts.log');
      expect(attempts.slice(0, 4).map((a) => a.answer)).toEqual([500, 500, 500, 200]);
      // One batch, four times: retried, not replaced.
      expect(new Set(attempts.slice(0, 4).map((a) => a.batch)).size).toBe(1);
      expect(php.log<EventBatch>('events.log')[0].batch).toBe(attempts[0].batch);
      expect(shape(php.eventsOf(id))).toEqual(['connect', 'subscribe t6']);
      const stats = await wssd.stats();
      expect(count(stats.backendErrors, 'events-status')).toBe(3);
      expect(stats.losses).toEqual({});
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'an endpoint that hangs: each request times out and is retried; meanwhile connections open, echo and get publications without waiting',
    async () => {
      const timeout = 500;
      // Four hangs of 500 ms, with the backoff between them: the events wait about 4 s.
      const { php, wssd } = await scene({ endpoint: '/events?hang=4', hangMs: 3000, args: ['--proxy-timeout', String(timeout)] });
      // Tokens first: PHP's workers are busy hanging later.
      const tokens = [await php.token({ user: 'h1', topics: 'hang-news' }), await php.token({ user: 'h2', topics: 'hang-news' })];
      const first = await openClient(wssd.port, `/?token=${tokens[0]}`);
      // The first request is hanging in PHP now.
      await eventually(() => php.log<Attempt>('attempts.log').length >= 1, 5000, 'the first events request reached PHP');
      const second = await openClient(wssd.port, `/?token=${tokens[1]}`);
      second.sendText('no wait');
      await expectText(second, 'no wait');
      await wssd.api('POST', '/api/publish', { topic: 'hang-news', data: 'published while hanging' });
      await expectText(first, 'published while hanging');
      await expectText(second, 'published while hanging');
      // All that happened before any event was taken: nothing waited for the backend.
      expect(php.events()).toEqual([]);

      const ids = [await clientOf(wssd, 'h1'), await clientOf(wssd, 'h2')];
      await eventually(() => ids.every((id) => php.eventsOf(id).length === 2), 20_000, () => `every event taken after the hangs; attempts: ${JSON.stringify(php.log('attempts.log'))}`);
      const attempts = php.log<Attempt>('attempts.log');
      expect(attempts.slice(0, 4).map((a) => a.answer)).toEqual(['hang', 'hang', 'hang', 'hang']);
      expect(attempts[4]).toEqual({ batch: attempts[0].batch, answer: 200 });
      for (const id of ids) expect(shape(php.eventsOf(id))).toEqual(['connect', 'subscribe hang-news']);
      const stats = await wssd.stats();
      expect(count(stats.backendErrors, 'events-timeout')).toBe(4);
      expect(stats.losses).toEqual({});
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'an endpoint that is down with --events-max-queue 3: events past the queue are dropped and counted (events-queue-full); handshakes, echoes and publications go on',
    async () => {
      const deadPort = await freshPort();
      const jwtSecret = secret();
      const php = await PhpBackend.start({ jwtSecret });
      const wssd = await startGateway(['--jwt-secret', jwtSecret, '--events-url', `http://127.0.0.1:${deadPort}/events`, '--events-secret', secret(), '--events-max-queue', '3']);
      const clients = [];
      for (let i = 0; i < 8; i++) clients.push(await openClient(wssd.port, `/?token=${await php.token({ user: `d${i}`, topics: 'down-news' })}`));
      await wssd.api('POST', '/api/publish', { topic: 'down-news', data: 'nothing blocks' });
      for (const client of clients) await expectText(client, 'nothing blocks');
      clients[0].sendText('echo');
      await expectText(clients[0], 'echo');

      // 8 connects and 8 subscribes; at most 3 wait, the rest are dropped and counted.
      const stats = await wssd.stats();
      expect(count(stats.losses, 'events-queue-full')).toBeGreaterThanOrEqual(16 - 3);
      expect(count(stats.backendErrors, 'events-network')).toBeGreaterThanOrEqual(1);
    },
    PHP_TEST_TIMEOUT,
  );
});
