// Connection tokens minted by a real PHP backend (router.php's /token:
// hash_hmac for HS256, openssl_sign for RS256) and verified by the real
// wssd before the upgrade: the token's user and topics take effect, and every
// bad token — expired, forged, alg none, garbage, algorithm confusion, too
// large — is an HTTP 401 (431 for a head too large) counted under its code,
// while the process and its connections carry on.
import { afterAll, describe, expect, it } from 'vitest';
import { Op, type RawClient } from '../helpers/raw-client.js';
import { startServer, TLS_MODE } from '../helpers/test-server.js';
import { removeDir, tempDir } from './support.js';
import { count, expectText, later, openClient, PhpBackend, PHP_TEST_TIMEOUT, refusedHandshake, rsaKeyPair, secret, startGateway, stopAll, type Wssd } from './php-support.js';

interface Scene {
  php: PhpBackend;
  wssd: Wssd;
  jwtSecret: string;
  publicKey: string;
}

let started: Promise<Scene> | undefined;

/** PHP and one wssd with the HS256 secret and the RS256 public key, started once for the file. */
function scene(): Promise<Scene> {
  started ??= (async () => {
    const dir = tempDir('php-tokens');
    later(() => removeDir(dir));
    const keys = rsaKeyPair(dir);
    const jwtSecret = secret();
    const php = await PhpBackend.start({ jwtSecret, keys });
    const wssd = await startGateway(['--jwt-secret', jwtSecret, '--jwt-public-key', keys.publicKey]);
    return { php, wssd, jwtSecret, publicKey: keys.publicKey };
  })();
  return started;
}

afterAll(stopAll, PHP_TEST_TIMEOUT);

/** The client ids of a user's connections, as the server API reports them. */
async function clientsOf(wssd: Wssd, user: string): Promise<string[]> {
  const answer = await wssd.api('GET', `/api/users/${user}`);
  expect(answer.status).toBe(200);
  return (answer.body.connections as { client: string }[]).map((c) => c.client).sort();
}

describe('tokens a PHP backend issues', () => {
  it(
    'HS256 (hash_hmac): the connection is the token\'s user, subscribed to its topics, in ?token= and in Authorization: Bearer',
    async () => {
      const { php, wssd } = await scene();
      const inQuery = await openClient(wssd.port, `/?token=${await php.token({ user: 'hs-42', topics: 'news,room:1' })}`);
      const inHeader = await openClient(wssd.port, '/', { Authorization: `Bearer ${await php.token({ user: 'hs-43', topics: 'news' })}` });
      expect(await clientsOf(wssd, 'hs-42')).toHaveLength(1);
      expect(await clientsOf(wssd, 'hs-43')).toHaveLength(1);
      expect((await wssd.api('GET', '/api/topics/room:1')).body).toEqual({ subscribers: 1 });

      expect((await wssd.api('POST', '/api/publish', { topic: 'news', data: 'extra' })).body).toEqual({ ok: true });
      await expectText(inQuery, 'extra');
      await expectText(inHeader, 'extra');
      // room:1 is hs-42's alone: the next thing hs-43 gets is the later news.
      await wssd.api('POST', '/api/publish', { topic: 'room:1', data: 'room one' });
      await wssd.api('POST', '/api/publish', { topic: 'news', data: 'later' });
      await expectText(inQuery, 'room one');
      await expectText(inQuery, 'later');
      await expectText(inHeader, 'later');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'RS256 (openssl_sign) with --jwt-public-key: user and topics',
    async () => {
      const { php, wssd } = await scene();
      const client = await openClient(wssd.port, `/?token=${await php.token({ alg: 'RS256', user: 'rs-7', topics: 'rs-news' })}`);
      expect(await clientsOf(wssd, 'rs-7')).toHaveLength(1);
      await wssd.api('POST', '/api/publish', { topic: 'rs-news', data: 'signed by RSA' });
      await expectText(client, 'signed by RSA');
      // An echo without --app: the connection is an ordinary one.
      client.sendText('ping');
      await expectText(client, 'ping');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'every bad token is a 401 with its reason, counted by its code; a connection already open keeps getting publications',
    async () => {
      const { php, wssd } = await scene();
      const bystander = await openClient(wssd.port, `/?token=${await php.token({ user: 'bystander', topics: 'alerts' })}`);
      const cases: { what: string; path: string; headers?: Record<string, string>; code: string; reason: RegExp }[] = [
        { what: 'expired', path: `/?token=${await php.token({ user: 'x', exp: '-60' })}`, code: 'WS_HS_TOKEN_EXPIRED', reason: /token expired/ },
        { what: 'forged with another secret', path: `/?token=${await php.token({ user: 'x', key: 'other' })}`, code: 'WS_HS_TOKEN_SIGNATURE', reason: /signature does not verify/ },
        { what: 'alg none', path: `/?token=${await php.token({ user: 'x', alg: 'none' })}`, code: 'WS_HS_TOKEN_ALGORITHM', reason: /algorithm "none": unsecured tokens are refused/ },
        { what: 'garbage', path: '/?token=garbage!', code: 'WS_HS_TOKEN_MALFORMED', reason: /malformed token/ },
        { what: 'garbage as a Bearer', path: '/', headers: { Authorization: 'Bearer not.a.jwt' }, code: 'WS_HS_TOKEN_MALFORMED', reason: /malformed token/ },
        // HS256 signed with the public key's PEM: checked against the HMAC secrets only.
        { what: 'algorithm confusion', path: `/?token=${await php.token({ user: 'x', key: 'public' })}`, code: 'WS_HS_TOKEN_SIGNATURE', reason: /signature does not verify/ },
        { what: 'no token', path: '/', code: 'WS_HS_TOKEN_MISSING', reason: /no token/ },
      ];
      for (const c of cases) {
        const before = count((await wssd.stats()).handshakes.refusals, c.code);
        const answer = await refusedHandshake(wssd.port, c.path, c.headers);
        const body = answer.body.toString('utf8');
        expect({ what: c.what, status: answer.status }).toEqual({ what: c.what, status: 401 });
        expect(body, c.what).toMatch(c.reason);
        expect(answer.headers['www-authenticate'], c.what).toMatch(/^Bearer/);
        // No reason repeats the token.
        const token = new URLSearchParams(c.path.slice(2)).get('token');
        if (token !== null && token.length > 20) expect(body).not.toContain(token.slice(-20));
        expect(count((await wssd.stats()).handshakes.refusals, c.code), c.what).toBe(before + 1);
      }
      await wssd.api('POST', '/api/publish', { topic: 'alerts', data: 'still subscribed' });
      await expectText(bystander, 'still subscribed');
      const fresh = await openClient(wssd.port, `/?token=${await php.token({ user: 'after' })}`);
      fresh.sendText('fine');
      await expectText(fresh, 'fine');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a 20 KB token: the executable refuses the head (431) before reading it; a server whose head limits let it through refuses the token (401 WS_HS_TOKEN_TOO_LARGE)',
    async () => {
      const { php, wssd, jwtSecret } = await scene();
      const bystander = await openClient(wssd.port, `/?token=${await php.token({ user: 'bystander-2', topics: 'alerts-2' })}`);
      const huge = await php.token({ user: 'x', pad: '20000' });
      expect(huge.length).toBeGreaterThan(20_000);
      const byCli = await refusedHandshake(wssd.port, `/?token=${huge}`);
      expect(byCli.status).toBe(431);
      expect(count((await wssd.stats()).handshakes.refusals, 'HTTP_ERR_HEAD_TOO_LARGE')).toBe(1);
      await wssd.api('POST', '/api/publish', { topic: 'alerts-2', data: 'carry on' });
      await expectText(bystander, 'carry on');

      // The token layer's own limit (8 KiB), behind head limits raised past it.
      const ts = await startServer(TLS_MODE, { jwtSecret: [jwtSecret], maxHeadBytes: 64 * 1024, maxLineBytes: 64 * 1024 });
      later(() => ts.close());
      for (const [path, headers] of [[`/?token=${huge}`, {}], ['/', { Authorization: `Bearer ${huge}` }]] as const) {
        const answer = await refusedHandshake(ts.port, path, headers);
        expect(answer.status).toBe(401);
        expect(answer.body.toString('utf8')).toMatch(/token longer than 8192 bytes/);
      }
      expect(JSON.parse(ts.server.statsJson()).handshakes.refusals).toEqual({ WS_HS_TOKEN_TOO_LARGE: 2 });
      const fine: RawClient = await ts.open({ path: `/?token=${await php.token({ user: 'small' })}` });
      fine.sendBinary(Buffer.from([1, 2, 3]));
      const echo = await fine.readFrame(5000);
      expect({ opcode: echo.opcode, bytes: [...echo.payload] }).toEqual({ opcode: Op.Binary, bytes: [1, 2, 3] });
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'algorithm confusion against a server with only --jwt-public-key: HS256 is refused before any key is touched (WS_HS_TOKEN_ALGORITHM)',
    async () => {
      const { php, publicKey } = await scene();
      const rsOnly = await startGateway(['--jwt-public-key', publicKey]);
      const answer = await refusedHandshake(rsOnly.port, `/?token=${await php.token({ user: 'x', key: 'public' })}`);
      expect(answer.status).toBe(401);
      expect(answer.body.toString('utf8')).toMatch(/token algorithm "HS256": no HMAC secret is configured/);
      expect((await rsOnly.stats()).handshakes.refusals).toEqual({ WS_HS_TOKEN_ALGORITHM: 1 });
      // The same server takes PHP's RS256 token.
      const client = await openClient(rsOnly.port, `/?token=${await php.token({ alg: 'RS256', user: 'rs-only' })}`);
      client.sendText('rs');
      await expectText(client, 'rs');
    },
    PHP_TEST_TIMEOUT,
  );
});
