// The gateway over a fleet, with a real PHP backend: two wssd nodes (the real
// CLI) joined by one real redis-server, PHP's message proxy and api.php on
// node A, a client of user 42 on node B — A's API reaches, counts, lists and
// disconnects what B holds. Then `--workers 2`: the API port is shared by
// the workers, and a call one worker answers reaches clients of the other.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import type { RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';
import { expectText, freshPort, later, openClient, PhpBackend, PHP_TEST_TIMEOUT, secret, startGateway, stopAll, type Stats, type Wssd } from './php-support.js';

afterEach(stopAll, PHP_TEST_TIMEOUT);

interface NodeInfo {
  node: string;
  pid: number;
  connections: number;
}

interface UserAnswer {
  online: boolean;
  connections: { client: string; node: string }[];
}

/** The node (12 hex digits) of the process with this pid, as the fleet reports it through `wssd`'s API. */
async function nodeOfPid(wssd: Wssd, pid: number | undefined): Promise<string> {
  const nodes = (await wssd.api('GET', '/api/info')).body.nodes as NodeInfo[];
  const node = nodes.find((n) => n.pid === pid);
  if (node === undefined) throw new Error(`no node with pid ${pid} in ${JSON.stringify(nodes)}`);
  return node.node;
}

describe('the gateway over a fleet', () => {
  it(
    'two nodes and redis-server: a push through node A\'s API reaches user 42 on node B; A sees, lists and disconnects B\'s connection; history is shared',
    async () => {
      const redis = await RedisServer.start();
      later(() => redis.stop());
      const jwtSecret = secret();
      const apiKey = secret();
      const apiPort = await freshPort();
      const php = await PhpBackend.start({ jwtSecret, apiUrl: `http://127.0.0.1:${apiPort}`, apiKey });
      const common = ['--jwt-secret', jwtSecret, '--redis', redis.url, '--history-size', '10', '--history-prefix', 'news'];
      const a = await startGateway([...common, '--message-url', php.url('/message')], { apiPort, apiKey });
      const b = await startGateway(common);
      for (const node of [a, b]) await node.process.waitForLine(/broker: connected/, 5000);

      const on42 = await openClient(b.port, `/?token=${await php.token({ user: '42', topics: 'room:1,news' })}`);
      const on7 = await openClient(a.port, `/?token=${await php.token({ user: '7', topics: 'room:1' })}`);
      const nodeA = await nodeOfPid(a, a.process.child.pid);
      const nodeB = await nodeOfPid(a, b.process.child.pid);
      expect(nodeA).not.toBe(nodeB);

      // Node A knows B's connection of user 42, and which node holds it.
      const who = (await a.api('GET', '/api/users/42')).body as unknown as UserAnswer;
      expect(who.online).toBe(true);
      expect(who.connections).toHaveLength(1);
      expect(who.connections[0].node).toBe(nodeB);
      expect(who.connections[0].client.startsWith(nodeB)).toBe(true);

      // User 7 on A asks PHP to push; PHP calls A's API; the send crosses to B.
      on7.sendText('push:42:hi');
      await expectText(on42, 'hi');
      await expectText(on7, 'pushed');

      // Presence asked of A lists the members of both nodes.
      const presence = await a.api('GET', '/api/topics/room:1/presence');
      const members = presence.body.members as { client: string; user: string }[];
      expect(presence.body.total).toBe(2);
      expect(members.map((m) => ({ user: m.user, node: m.client.slice(0, 12) })).sort((x, y) => x.user.localeCompare(y.user))).toEqual([
        { user: '42', node: nodeB },
        { user: '7', node: nodeA },
      ]);

      // A publication through A's API has a position; B's subscriber gets it; B's history has it.
      const published = await a.api('POST', '/api/publish', { topic: 'news', data: 'kept' });
      expect(published.body).toMatchObject({ ok: true, offset: 1 });
      expect(published.body.epoch).toEqual(expect.any(String));
      await expectText(on42, 'kept');
      const history = await b.api('GET', '/api/topics/news/history');
      expect(history.body).toMatchObject({ publications: [{ offset: 1, data: 'kept' }] });

      // Disconnected through A, closed by B.
      expect((await a.api('POST', '/api/disconnect', { user: '42' })).status).toBe(200);
      expect(await on42.readClose(5000)).toMatchObject({ code: 4000, reason: 'disconnected by the server' });
      await eventually(async () => ((await a.api('GET', '/api/users/42')).body as unknown as UserAnswer).online === false, 5000, 'user 42 offline, seen from A');
      on7.sendText('whoami');
      await expectText(on7, 'user:7');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    '--workers 2 with --api-port: the workers share the API port, and a call answered by either worker reaches the clients of the other',
    async () => {
      const jwtSecret = secret();
      const php = await PhpBackend.start({ jwtSecret });
      const wssd = await startGateway(['--workers', '2', '--jwt-secret', jwtSecret]);
      await eventually(() => wssd.process.stderr.filter((l) => l.includes('listening on')).length >= 2, 15_000, () => `both workers listening:\n${wssd.process.stderr.join('\n')}`);

      // Connections go to the workers in turn: open until one client is on each.
      const byNode = new Map<string, { user: string; client: RawClient }>();
      for (let i = 0; i < 20 && byNode.size < 2; i++) {
        const user = `w${i}`;
        const client = await openClient(wssd.port, `/?token=${await php.token({ user })}`);
        const who = (await wssd.api('GET', `/api/users/${user}`)).body as unknown as UserAnswer;
        expect(who.connections).toHaveLength(1);
        if (!byNode.has(who.connections[0].node)) byNode.set(who.connections[0].node, { user, client });
      }
      expect(byNode.size).toBe(2);
      const nodes = (await wssd.api('GET', '/api/info')).body.nodes as NodeInfo[];
      expect(nodes.map((n) => n.node).sort()).toEqual([...byNode.keys()].sort());
      const nodeOf = new Map(nodes.map((n) => [n.pid, n.node]));

      /** API requests answered so far, by worker node (from /stats of every worker). */
      const answeredBy = async (): Promise<Map<string, number>> => {
        const stats = await wssd.stats();
        return new Map((stats.perProcess ?? []).map((p: Stats) => [nodeOf.get(p.pid) ?? `pid ${p.pid}`, p.api.requests]));
      };

      // One call at a time until a call answered by each worker reached the other's client.
      // The primary hands API connections to the workers in strict turn, so a
      // target that alternated every call could stay in step with the answering
      // worker forever; targets go A, A, B, B so that any phase crosses both ways.
      const crossed = new Set<string>();
      const targets = [...byNode.entries()];
      for (let call = 0; call < 16 && crossed.size < 2; call++) {
        const [targetNode, target] = targets[Math.floor(call / 2) % 2];
        const before = await answeredBy();
        expect((await wssd.api('POST', '/api/send', { user: target.user, data: `call ${call}` })).status).toBe(200);
        const after = await answeredBy();
        const answering = [...after.keys()].filter((node) => (after.get(node) ?? 0) > (before.get(node) ?? 0));
        expect(answering).toHaveLength(1);
        await expectText(target.client, `call ${call}`);
        if (answering[0] !== targetNode) crossed.add(`${answering[0]} -> ${targetNode}`);
      }
      expect([...crossed].sort()).toEqual(targets.map(([node], i) => `${targets[1 - i][0]} -> ${node}`).sort());
    },
    PHP_TEST_TIMEOUT,
  );
});
