// Three wssd nodes as separate processes (the real command line, each with
// its own --port and its own Redis connection) and one redis-server: a chat
// room across all three — every client gets every other client's messages,
// in order per sender — while a room with members on one node only is never
// subscribed by the other two.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisClient } from '../../src/redis/redis-client.js';
import { parseRedisUrl } from '../../src/redis/redis-url.js';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { Op, RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';

const CHAT_APP = fileURLToPath(new URL('../../examples/chat-app.mjs', import.meta.url));

let redis: RedisServer | undefined;
const processes: WssdProcess[] = [];
const clients: RawClient[] = [];
const admins: RedisClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of processes.splice(0)) p.kill();
  for (const a of admins.splice(0)) await a.close();
  await redis?.stop();
  redis = undefined;
});

describe('three nodes, one Redis (separate processes)', () => {
  it('a room across three nodes: every member gets every other member’s messages in order; a one-node room is never subscribed elsewhere', async () => {
    redis = await RedisServer.start();
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      ports.push(port);
      const p = new WssdProcess(['--plain', '--host', '127.0.0.1', '--port', String(port), '--redis', redis.url, '--app', CHAT_APP]);
      processes.push(p);
    }
    for (const p of processes) await p.waitForLine(/broker: connected/, 10_000);
    const members: { client: RawClient; name: string }[] = [];
    for (const port of ports) {
      const client = await RawClient.connect({ port, tls: false });
      clients.push(client);
      await client.upgrade({ path: '/?room=everywhere' });
      members.push({ client, name: `127.0.0.1:${client.socket.localPort}` });
    }
    // A room only on the first node.
    const loner = await RawClient.connect({ port: ports[0], tls: false });
    clients.push(loner);
    await loner.upgrade({ path: '/?room=node1only' });
    const watch = new RedisClient({ endpoint: parseRedisUrl(redis.url) });
    admins.push(watch);
    await watch.connect();
    const numsub = async (channel: string): Promise<number> => Number(((await watch.command(['PUBSUB', 'NUMSUB', channel])) as unknown[])[1]);
    await eventually(async () => (await numsub('wssd:room:everywhere')) === 3, 5000, 'all three nodes subscribed to the shared room');
    expect(await numsub('wssd:room:node1only')).toBe(1);

    for (const [i, m] of members.entries()) for (let k = 0; k < 20; k++) m.client.sendText(`from ${i} #${k}`);
    for (const [i, m] of members.entries()) {
      const wanted = members.flatMap((_, j) => (j === i ? [] : Array.from({ length: 20 }, (_, k) => `${members[j].name}: from ${j} #${k}`)));
      const missing = new Set(wanted);
      const frames = await m.client.readFramesUntil(
        (f) => {
          expect(f.opcode).toBe(Op.Text);
          missing.delete(f.payload.toString());
          return missing.size === 0;
        },
        10_000,
        `node ${i}'s member: all 40 messages of the others`,
      );
      const chatter = frames.map((f) => f.payload.toString()).filter((t) => !t.startsWith('* '));
      for (let j = 0; j < members.length; j++) {
        if (j === i) continue;
        // In order per sender, and nothing of its own.
        expect(chatter.filter((t) => t.startsWith(`${members[j].name}:`))).toEqual(Array.from({ length: 20 }, (_, k) => `${members[j].name}: from ${j} #${k}`));
      }
      expect(chatter.filter((t) => t.startsWith(`${m.name}:`))).toEqual([]);
    }
  });
});
