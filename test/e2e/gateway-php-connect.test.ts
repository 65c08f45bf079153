// The connect proxy with a real PHP backend: wssd POSTs each handshake to
// router.php's /connect, which reads the session cookie and says who the
// client is (user, topics, info) or refuses it (403 "login first"). A slow
// backend, one that fails and one that is down are 503s after at most
// --proxy-timeout, and never hold up the connections already open or the
// handshakes that the backend answers.
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { scaled } from '../helpers/timeouts.js';
import { count, expectText, openClient, PhpBackend, PHP_TEST_TIMEOUT, refusedHandshake, startGateway, stopAll, type Wssd } from './php-support.js';

/** wssd's --proxy-timeout here; PHP's slow mode sleeps well past it. */
const PROXY_TIMEOUT_MS = 2000;

let started: Promise<{ php: PhpBackend; wssd: Wssd }> | undefined;

function scene(): Promise<{ php: PhpBackend; wssd: Wssd }> {
  started ??= (async () => {
    const php = await PhpBackend.start({ slowMs: PROXY_TIMEOUT_MS + 2000 });
    const wssd = await startGateway(['--connect-url', php.url('/connect'), '--proxy-timeout', String(PROXY_TIMEOUT_MS)]);
    return { php, wssd };
  })();
  return started;
}

afterAll(stopAll, PHP_TEST_TIMEOUT);

interface ConnectRequest {
  client: string;
  ip: string;
  path: string;
  query: string;
  headers: Record<string, string>;
}

describe('the connect proxy (router.php /connect)', () => {
  it(
    'a session cookie makes the connection its user, with the topics and info PHP named; PHP was shown the allowed headers only',
    async () => {
      const { php, wssd } = await scene();
      const client = await openClient(wssd.port, '/chat?room=7', { Cookie: 'theme=dark; session=s-42', 'User-Agent': 'e2e-agent', Origin: 'https://example.test', 'X-Internal-Secret': 'never forwarded' });
      const who = await wssd.api('GET', '/api/users/42');
      expect(who.body.online).toBe(true);
      const [connection] = who.body.connections as { client: string; node: string }[];
      expect(connection.client).toMatch(/^[0-9a-f]{20}$/);

      const seen = php.log<ConnectRequest>('connect.log').find((r) => r.client === connection.client);
      expect(seen).toMatchObject({ ip: '127.0.0.1', path: '/chat', query: 'room=7' });
      expect(seen?.headers).toEqual({ cookie: 'theme=dark; session=s-42', 'user-agent': 'e2e-agent', origin: 'https://example.test' });

      // PHP's topics: subscribed server-side at connect.
      await wssd.api('POST', '/api/publish', { topic: 'lobby', data: 'to the lobby' });
      await wssd.api('POST', '/api/publish', { topic: 'user:42', data: 'to 42' });
      await expectText(client, 'to the lobby');
      await expectText(client, 'to 42');
      // And its info, as presence shows it.
      const presence = await wssd.api('GET', '/api/topics/lobby/presence');
      expect(presence.body.members).toContainEqual({ client: connection.client, user: '42', info: { name: 'User 42', via: 'php-connect' } });
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    "no cookie: PHP's refusal goes to the client as it said it (403 \"login first\"); an unknown session: 401",
    async () => {
      const { wssd } = await scene();
      const before = (await wssd.stats()).handshakes.refusals;
      const none = await refusedHandshake(wssd.port, '/');
      expect(none.status).toBe(403);
      expect(none.body.toString('utf8')).toMatch(/login first/);
      const unknown = await refusedHandshake(wssd.port, '/', { Cookie: 'session=forged!' });
      expect(unknown.status).toBe(401);
      expect(unknown.body.toString('utf8')).toMatch(/unknown session/);
      expect(count((await wssd.stats()).handshakes.refusals, 'WS_HS_REFUSED_BY_BACKEND')).toBe(count(before, 'WS_HS_REFUSED_BY_BACKEND') + 2);
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a slow backend: 503 once --proxy-timeout passed; meanwhile an open connection echoes and a new one is admitted',
    async () => {
      const { php, wssd } = await scene();
      const open = await openClient(wssd.port, '/', { Cookie: 'session=s-open' });
      const before = await wssd.stats();
      const t0 = performance.now();
      let slowSettled = false;
      const slow = refusedHandshake(wssd.port, '/?mode=slow', { Cookie: 'session=s-slow' }, PROXY_TIMEOUT_MS + 10_000).finally(() => (slowSettled = true));
      // While a PHP worker sleeps on that one (see router.php).
      await eventually(() => php.log<ConnectRequest>('connect.log').some((r) => r.query === 'mode=slow'), 5000, 'PHP got the slow handshake');
      open.sendText('not held up');
      await expectText(open, 'not held up');
      const other = await openClient(wssd.port, '/', { Cookie: 'session=s-other' });
      other.sendText('admitted');
      await expectText(other, 'admitted');
      // Admitted while the slow one still waited on PHP.
      expect(slowSettled).toBe(false);
      const answer = await slow;
      const took = performance.now() - t0;
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('5');
      expect(took).toBeGreaterThanOrEqual(PROXY_TIMEOUT_MS - 50);
      expect(took).toBeLessThan(PROXY_TIMEOUT_MS + scaled(1500));
      const after = await wssd.stats();
      expect(count(after.handshakes.refusals, 'WS_HS_PROXY_UNAVAILABLE')).toBe(count(before.handshakes.refusals, 'WS_HS_PROXY_UNAVAILABLE') + 1);
      expect(count(after.backendErrors, 'connect-proxy-timeout')).toBe(count(before.backendErrors, 'connect-proxy-timeout') + 1);
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a backend answering 500: 503, counted as connect-proxy-status',
    async () => {
      const { wssd } = await scene();
      const before = await wssd.stats();
      const answer = await refusedHandshake(wssd.port, '/?mode=500', { Cookie: 'session=s-1' });
      expect(answer.status).toBe(503);
      expect(answer.body.toString('utf8')).toMatch(/could not be asked who you are/);
      const after = await wssd.stats();
      expect(count(after.backendErrors, 'connect-proxy-status')).toBe(count(before.backendErrors, 'connect-proxy-status') + 1);
      expect(count(after.handshakes.refusals, 'WS_HS_PROXY_UNAVAILABLE')).toBe(count(before.handshakes.refusals, 'WS_HS_PROXY_UNAVAILABLE') + 1);
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'the backend goes down: new handshakes get 503 (connection refused), the connections it admitted carry on',
    async () => {
      // A scene of its own: its PHP is stopped.
      const php = await PhpBackend.start();
      const wssd = await startGateway(['--connect-url', php.url('/connect'), '--proxy-timeout', String(PROXY_TIMEOUT_MS)]);
      const admitted = await openClient(wssd.port, '/', { Cookie: 'session=s-9' });
      await php.stop();

      const answer = await refusedHandshake(wssd.port, '/', { Cookie: 'session=s-10' });
      expect(answer.status).toBe(503);
      const stats = await wssd.stats();
      expect(stats.handshakes.refusals).toEqual({ WS_HS_PROXY_UNAVAILABLE: 1 });
      // Refused by the network (nothing listens), not timed out.
      expect(stats.backendErrors).toEqual({ 'connect-proxy-network': 1 });

      admitted.sendText('still here');
      await expectText(admitted, 'still here');
      await wssd.api('POST', '/api/send', { user: '9', data: 'reached by user' });
      await expectText(admitted, 'reached by user');
    },
    PHP_TEST_TIMEOUT,
  );
});
