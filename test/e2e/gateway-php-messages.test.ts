// The message proxy with a real PHP backend: wssd (no --app) POSTs each
// client message to router.php's /message and sends PHP's answer back to
// that client — text, binary (application/octet-stream), nothing (204) —
// in order per connection. A slow PHP costs a timeout, counted, and the
// connection stays; "push:USER:TEXT" makes PHP call wssd's server API,
// which reaches another user's connection.
import { afterAll, describe, expect, it } from 'vitest';
import { Op, type RawClient } from '../helpers/raw-client.js';
import { eventually } from '../helpers/poll.js';
import { count, expectText, freshPort, openClient, PhpBackend, PHP_TEST_TIMEOUT, secret, startGateway, stopAll, type Wssd } from './php-support.js';

/** --proxy-timeout: PHP answers in milliseconds, its "slow" sleeps well past this. */
const PROXY_TIMEOUT_MS = 1000;

interface Scene {
  php: PhpBackend;
  wssd: Wssd;
}

let started: Promise<Scene> | undefined;

/** PHP knows the API of wssd (for push), wssd knows PHP's /message. Ports are chosen first, so each can name the other. */
function scene(): Promise<Scene> {
  started ??= (async () => {
    const jwtSecret = secret();
    const apiKey = secret();
    const apiPort = await freshPort();
    const php = await PhpBackend.start({ jwtSecret, apiUrl: `http://127.0.0.1:${apiPort}`, apiKey, slowMs: PROXY_TIMEOUT_MS + 2000 });
    const wssd = await startGateway(['--jwt-secret', jwtSecret, '--message-url', php.url('/message'), '--proxy-timeout', String(PROXY_TIMEOUT_MS)], { apiPort, apiKey });
    return { php, wssd };
  })();
  return started;
}

afterAll(stopAll, PHP_TEST_TIMEOUT);

async function user(id: string): Promise<RawClient> {
  const { php, wssd } = await scene();
  return openClient(wssd.port, `/?token=${await php.token({ user: id })}`);
}

describe('the message proxy (router.php /message)', () => {
  it(
    '"hello" is answered "echo:hello" by PHP, and "whoami" with the token\'s user',
    async () => {
      const client = await user('42');
      client.sendText('hello');
      await expectText(client, 'echo:hello');
      client.sendText('whoami');
      await expectText(client, 'user:42');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    '50 messages sent at once are answered in the order they were sent',
    async () => {
      const client = await user('order');
      const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
      for (const text of sent) client.sendText(text);
      const got: string[] = [];
      for (let i = 0; i < sent.length; i++) got.push((await client.readFrame(10_000)).payload.toString('utf8'));
      expect(got).toEqual(sent.map((t) => `echo:${t}`));
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'binary goes to PHP as data_base64 and its application/octet-stream answer comes back binary; a 204 sends nothing',
    async () => {
      const client = await user('bin');
      // Bytes that are not UTF-8, and bytes that are: binary because PHP said application/octet-stream.
      for (const bytes of [Buffer.from([0x00, 0xff, 0x80, 0x41, 0xc3, 0x28]), Buffer.from('plain ASCII bytes')]) {
        client.sendBinary(bytes);
        const frame = await client.readFrame(5000);
        expect(frame.opcode).toBe(Op.Binary);
        expect([...frame.payload]).toEqual([...bytes].reverse());
      }
      // "quiet" gets a 204: the next frame is the answer to the message after it.
      client.sendText('quiet');
      client.sendText('after quiet');
      await expectText(client, 'echo:after quiet');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a slow answer: timed out after --proxy-timeout and counted (backendErrors, losses); the connection stays, its next message is answered, other connections are not held up',
    async () => {
      const { php, wssd } = await scene();
      const client = await user('slow');
      const other = await user('other');
      const before = await wssd.stats();
      const t0 = performance.now();
      client.sendText('slow');
      client.sendText('next');
      // Once a PHP worker sleeps on "slow" (see router.php), another one answers.
      await eventually(() => php.log<{ data?: string }>('message.log').some((m) => m.data === 'slow'), 5000, 'PHP got "slow"');
      other.sendText('meanwhile');
      const answered: string[] = [];
      await Promise.all([
        expectText(other, 'echo:meanwhile').then(() => answered.push('other')),
        // PHP's late answer to "slow" never comes: the next frame is the answer to "next".
        expectText(client, 'echo:next', PROXY_TIMEOUT_MS + 5000).then(() => answered.push('slow one')),
      ]);
      expect(answered).toEqual(['other', 'slow one']);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(PROXY_TIMEOUT_MS - 50);
      const after = await wssd.stats();
      expect(count(after.backendErrors, 'message-proxy-timeout')).toBe(count(before.backendErrors, 'message-proxy-timeout') + 1);
      expect(count(after.losses, 'message-proxy')).toBe(count(before.losses, 'message-proxy') + 1);
      client.sendText('still open');
      await expectText(client, 'echo:still open');
      expect(client.closed).toBe(false);
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    '"push:77:hi" from one user: PHP calls POST /api/send of wssd, user 77 gets "hi", the sender "pushed"',
    async () => {
      const target = await user('77');
      const sender = await user('7');
      sender.sendText('push:77:hi');
      await expectText(target, 'hi');
      await expectText(sender, 'pushed');
      // No echo without --app: the message went to PHP only.
      sender.sendText('whoami');
      await expectText(sender, 'user:7');
    },
    PHP_TEST_TIMEOUT,
  );
});
