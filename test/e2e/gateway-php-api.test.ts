// The server API driven from PHP: `php api.php METHOD PATH [BODY]` (the
// file_get_contents + stream context client of php-backend/wssd-api.php)
// publishes, sends to users and clients, asks who is online and who is in a
// topic, disconnects users, runs batches — and its hostile callers (no key,
// a wrong key, malformed JSON, 100 MiB bodies from curl and from a chunked
// stream) get 401, 400 and 413 without the server buffering the body, while
// the server carries on.
import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { Op, type RawClient } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';
import { removeDir, requireTool, tempDir } from './support.js';
import { count, CURL, expectText, later, openClient, PhpBackend, phpApi, PHP_TEST_TIMEOUT, secret, startGateway, stopAll, type Wssd } from './php-support.js';

const MiB = 1024 * 1024;

let started: Promise<{ php: PhpBackend; wssd: Wssd }> | undefined;

function scene(): Promise<{ php: PhpBackend; wssd: Wssd }> {
  started ??= (async () => {
    const jwtSecret = secret();
    const php = await PhpBackend.start({ jwtSecret });
    const wssd = await startGateway(['--jwt-secret', jwtSecret]);
    return { php, wssd };
  })();
  return started;
}

afterAll(stopAll, PHP_TEST_TIMEOUT);

async function connect(user: string, topics = ''): Promise<RawClient> {
  const { php, wssd } = await scene();
  return openClient(wssd.port, `/?token=${await php.token({ user, topics })}`);
}

interface UserAnswer {
  online: boolean;
  connections: { client: string; node: string }[];
}

describe('the server API from PHP (api.php)', () => {
  it(
    'publish: text, data_base64 (binary) and a JSON value reach the topic\'s subscribers',
    async () => {
      const { wssd } = await scene();
      const a = await connect('pub-a', 'pub-news');
      const b = await connect('pub-b', 'pub-news');
      expect(await wssd.api('POST', '/api/publish', { topic: 'pub-news', data: 'from php' })).toEqual({ status: 200, body: { ok: true } });
      for (const c of [a, b]) await expectText(c, 'from php');
      await wssd.api('POST', '/api/publish', { topic: 'pub-news', data_base64: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64') });
      await wssd.api('POST', '/api/publish', { topic: 'pub-news', data: { price: 12.5 } });
      for (const c of [a, b]) {
        const binary = await c.readFrame(5000);
        expect({ opcode: binary.opcode, hex: binary.payload.toString('hex') }).toEqual({ opcode: Op.Binary, hex: 'deadbeef' });
        await expectText(c, '{"price":12.5}');
      }
      expect(await wssd.api('GET', '/api/topics/pub-news')).toEqual({ status: 200, body: { subscribers: 2 } });
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'send: to every connection of a user, or to one client; users/{user} says who is online, then offline once they left',
    async () => {
      const { wssd } = await scene();
      const first = await connect('send-42', 'send-all');
      const second = await connect('send-42', 'send-all');
      const other = await connect('send-7', 'send-all');
      const who = (await wssd.api('GET', '/api/users/send-42')).body as unknown as UserAnswer;
      expect(who.online).toBe(true);
      expect(who.connections).toHaveLength(2);
      const node = (await wssd.api('GET', '/api/info')).body.nodes as { node: string }[];
      expect(who.connections.every((c) => c.node === node[0].node && c.client.startsWith(c.node))).toBe(true);

      expect((await wssd.api('POST', '/api/send', { user: 'send-42', data: 'for 42' })).status).toBe(200);
      await expectText(first, 'for 42');
      await expectText(second, 'for 42');
      // Ids are handed out in the order of the handshakes: the second connection has the larger.
      const [, secondId] = who.connections.map((c) => c.client).sort();
      await wssd.api('POST', '/api/send', { client: secondId, data: 'just you' });
      await wssd.api('POST', '/api/publish', { topic: 'send-all', data: 'marker' });
      // Only that connection got "just you"; user send-7 got neither send.
      await expectText(second, 'just you');
      for (const c of [first, second, other]) await expectText(c, 'marker');

      expect(await wssd.api('GET', '/api/users/nobody')).toEqual({ status: 200, body: { online: false, connections: [] } });
      for (const c of [first, second]) {
        c.sendClose(1000);
        await c.readClose();
      }
      await eventually(async () => ((await wssd.api('GET', '/api/users/send-42')).body as unknown as UserAnswer).online === false, 5000, 'user send-42 offline');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'disconnect: a user\'s connections close with 4000, a client with the code and reason given; a code outside 4000–4999 is a 400',
    async () => {
      const { wssd } = await scene();
      const a = await connect('kick-1');
      const b = await connect('kick-2');
      expect(await wssd.api('POST', '/api/disconnect', { user: 'kick-1' })).toEqual({ status: 200, body: { ok: true } });
      expect(await a.readClose(5000)).toMatchObject({ code: 4000, reason: 'disconnected by the server' });
      const [client] = ((await wssd.api('GET', '/api/users/kick-2')).body as unknown as UserAnswer).connections;
      const refused = await wssd.api('POST', '/api/disconnect', { client: client.client, code: 1000 });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: { code: 'API_ERR_BAD_PARAMS' } });
      await wssd.api('POST', '/api/disconnect', { client: client.client, code: 4321, reason: 'bye from php' });
      expect(await b.readClose(5000)).toMatchObject({ code: 4321, reason: 'bye from php' });
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'presence: a topic\'s members with their user and token info, a page at a time; info: the node and its connections; batch: several commands, one answer each',
    async () => {
      const { wssd } = await scene();
      await connect('p-1', 'presence-room');
      await connect('p-2', 'presence-room');
      const all = await wssd.api('GET', '/api/topics/presence-room/presence');
      const members = all.body.members as { client: string; user: string; info: unknown }[];
      expect(all.body.total).toBe(2);
      expect(members.map((m) => m.user).sort()).toEqual(['p-1', 'p-2']);
      expect(members.every((m) => JSON.stringify(m.info) === '{"issuer":"php"}')).toBe(true);
      const ids = members.map((m) => m.client);
      expect([...ids].sort()).toEqual(ids);
      const page = await wssd.api('GET', '/api/topics/presence-room/presence?limit=1');
      expect(page.body).toMatchObject({ members: [members[0]], total: 2, next: ids[0] });
      const rest = await wssd.api('GET', `/api/topics/presence-room/presence?limit=1&after=${ids[0]}`);
      expect((rest.body.members as unknown[])).toEqual([members[1]]);

      const info = await wssd.api('GET', '/api/info');
      const stats = await wssd.stats();
      expect(info.body).toMatchObject({ totals: { nodes: 1, connections: stats.connections } });
      expect((info.body.nodes as { pid: number }[])[0].pid).toBe(wssd.process.child.pid);

      const batch = await wssd.api('POST', '/api/batch', {
        commands: [
          { method: 'topic', params: { topic: 'presence-room' } },
          { method: 'user', params: { user: 'p-1' } },
          { method: 'no-such-method', params: {} },
        ],
      });
      expect(batch.status).toBe(200);
      const results = batch.body.results as Record<string, unknown>[];
      expect(results[0]).toEqual({ subscribers: 2 });
      expect(results[1]).toMatchObject({ online: true });
      expect(results[2]).toMatchObject({ error: { code: 'API_ERR_UNKNOWN_METHOD' } });
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'hostile callers: no key and a wrong key (401), malformed JSON (400), a wrong method (405), an unknown route (404); counted, and the server carries on',
    async () => {
      const { wssd } = await scene();
      const listener = await connect('after-hostile', 'hostile-news');
      const before = (await wssd.stats()).api.errors;
      const noKey = await phpApi(wssd.apiUrl, '', 'POST', '/api/publish', { topic: 'hostile-news', data: 'x' });
      const wrongKey = await phpApi(wssd.apiUrl, secret(), 'POST', '/api/publish', { topic: 'hostile-news', data: 'x' });
      for (const answer of [noKey, wrongKey]) expect(answer).toMatchObject({ status: 401, body: { error: { code: 'API_ERR_UNAUTHORIZED' } } });
      expect(await wssd.api('POST', '/api/publish', '{"topic": "hostile-news", "data": ')).toMatchObject({ status: 400, body: { error: { code: 'API_ERR_MALFORMED_JSON' } } });
      expect(await wssd.api('GET', '/api/publish')).toMatchObject({ status: 405, body: { error: { code: 'API_ERR_METHOD' } } });
      expect(await wssd.api('GET', '/api/nothing-here')).toMatchObject({ status: 404, body: { error: { code: 'API_ERR_NOT_FOUND' } } });
      const after = (await wssd.stats()).api.errors;
      for (const [code, n] of [['API_ERR_UNAUTHORIZED', 2], ['API_ERR_MALFORMED_JSON', 1], ['API_ERR_METHOD', 1], ['API_ERR_NOT_FOUND', 1]] as const) {
        expect(count(after, code), code).toBe(count(before, code) + n);
      }
      // Nothing was published by the refused calls: the next frame is this one.
      await wssd.api('POST', '/api/publish', { topic: 'hostile-news', data: 'carried on' });
      await expectText(listener, 'carried on');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a 100 MiB body, declared (curl) or chunked: 413 after at most the limit was read, the body never buffered, the server carries on',
    async () => {
      requireTool(CURL, 'curl');
      const { wssd } = await scene();
      const listener = await connect('after-413', 'big-news');
      const rssBefore = (await wssd.stats()).memory.rss;

      // curl uploads a sparse 100 MiB file with Content-Length, without waiting for 100-continue.
      const dir = tempDir('php-api-413');
      later(() => removeDir(dir));
      const file = join(dir, 'big.json');
      const fd = openSync(file, 'w');
      ftruncateSync(fd, 100 * MiB);
      closeSync(fd);
      const curl = await run(CURL, ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_upload}', '-X', 'POST', '-H', `Authorization: Bearer ${wssd.apiKey}`, '-H', 'Content-Type: application/json', '-H', 'Expect:', '-T', file, `${wssd.apiUrl}/api/publish`]);
      const [status, uploaded] = curl.stdout.trim().split(' ').map(Number);
      expect(status, curl.stderr).toBe(413);
      expect(uploaded).toBeLessThan(100 * MiB);

      // A chunked body announces no length: refused once past --api-max-body (1 MiB).
      const chunked = await streamUntilAnswered(`${wssd.apiUrl}/api/publish`, wssd.apiKey, 100 * MiB);
      expect(chunked.status).toBe(413);
      expect(chunked.body).toMatch(/API_ERR_BODY_TOO_LARGE/);
      expect(chunked.writtenWhenAnswered).toBeGreaterThan(1 * MiB);
      expect(chunked.writtenWhenAnswered).toBeLessThan(32 * MiB);

      const stats = await wssd.stats();
      expect(count(stats.api.errors, 'API_ERR_BODY_TOO_LARGE')).toBeGreaterThanOrEqual(2);
      expect(stats.memory.rss - rssBefore).toBeLessThan(50 * MiB);
      await wssd.api('POST', '/api/publish', { topic: 'big-news', data: 'still serving' });
      await expectText(listener, 'still serving');
    },
    PHP_TEST_TIMEOUT,
  );
});

/** Runs a program to its end (bounded), with its output. */
function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} still running after ${scaled(30_000)} ms: ${stderr}`));
    }, scaled(30_000));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * POSTs a chunked body of up to `total` zero bytes, 64 KiB at a time with
 * backpressure, and stops writing as soon as an answer comes: the answer,
 * and how many bytes had been written by then.
 */
function streamUntilAnswered(url: string, key: string, total: number): Promise<{ status: number; body: string; writtenWhenAnswered: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const chunk = Buffer.alloc(64 * 1024);
    const request = http.request(url, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer after ${written} bytes within ${scaled(30_000)} ms`));
    }, scaled(30_000));
    request.on('response', (response) => {
      answered = true;
      const writtenWhenAnswered = written;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (d: string) => (body += d));
      const finish = (): void => {
        clearTimeout(timer);
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body, writtenWhenAnswered });
      };
      response.on('end', finish);
      response.on('error', finish);
    });
    // Writing into a socket the server closed after its answer: expected.
    request.on('error', (error) => {
      if (!answered) {
        clearTimeout(timer);
        reject(error);
      }
    });
    const pump = (): void => {
      while (!answered && written < total) {
        written += chunk.length;
        if (!request.write(chunk)) {
          request.once('drain', pump);
          return;
        }
      }
      if (!answered) request.end();
    };
    pump();
  });
}
