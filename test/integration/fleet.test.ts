// The fleet's verbs — send, subscribe, disconnect by user or client; a user's
// connections, a topic's members, the nodes — the same on one process,
// across --workers 2 (the real CLI) and across two nodes joined by a real
// redis-server: whichever process is asked, the connections of every
// process are reached.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { FleetClient } from '../helpers/fleet-client.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis-server.js';
import { PLAIN_MODE, startServer, type StartOptions, type TestServer } from '../helpers/test-server.js';

const APP = fileURLToPath(new URL('./apps/fleet-app.mjs', import.meta.url));
const { onConnection } = (await import(APP)) as { onConnection: (ws: unknown, request: unknown, server: unknown) => void };

const servers: TestServer[] = [];
const processes: WssdProcess[] = [];
const raws: RawClient[] = [];
let redis: RedisServer | undefined;
afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  for (const s of servers.splice(0)) await s.close();
  for (const p of processes.splice(0)) p.kill();
  await redis?.stop();
  redis = undefined;
});

async function inProcess(options: StartOptions = {}): Promise<TestServer> {
  const ts = await startServer(PLAIN_MODE, { echo: false, presencePrefix: ['room'], ...options });
  ts.server.on('connection', (ws, request) => onConnection(ws, request, ts.server));
  servers.push(ts);
  return ts;
}

async function client(port: number, user?: string): Promise<FleetClient> {
  const raw = await RawClient.connect({ port, tls: false });
  raws.push(raw);
  await raw.upgrade({ path: user === undefined ? '/' : `/?user=${user}` });
  return FleetClient.greet(raw);
}

/** Opens a connection on process 0 or 1 of the setup. */
type Open = (where: 0 | 1, user?: string) => Promise<FleetClient>;

/** The one scenario, whatever the setup: user 42 on both processes, user 7 on the second. */
async function scenario(open: Open, distinctNodes: boolean): Promise<void> {
  const a1 = await open(0, '42');
  const a2 = await open(1, '42');
  const b = await open(1, '7');
  expect(a1.hello.client).toMatch(/^[0-9a-f]{20}$/);
  expect(a1.hello.client.slice(0, 12)).toBe(a1.hello.node);
  if (distinctNodes) expect(a1.hello.node).not.toBe(a2.hello.node);

  // Every connection of user 42, wherever it is; not user 7.
  await a1.ask('send user 42 hello 42');
  expect(await a1.next()).toBe('hello 42');
  expect(await a2.next()).toBe('hello 42');
  // One client, from a process that does not hold it.
  await b.ask(`send client ${a1.hello.client} just you`);
  expect(await a1.next()).toBe('just you');

  const who = await b.ask<{ online: boolean; connections: { client: string; node: string }[] }>('who 42');
  expect(who.online).toBe(true);
  expect(who.connections.map((c) => c.client).sort()).toEqual([a1.hello.client, a2.hello.client].sort());
  expect(who.connections.find((c) => c.client === a1.hello.client)?.node).toBe(a1.hello.node);
  expect(await b.ask('who nobody')).toEqual({ online: false, connections: [] });

  // Server-side subscriptions by user; a publication then reaches both.
  await b.ask('sub user 42 room');
  await eventually(async () => (await b.ask<{ total: number }>('presence room')).total === 2, 6000, 'both in room');
  await b.ask('publish room news');
  expect(await a1.next()).toBe('news');
  expect(await a2.next()).toBe('news');
  // Members over the fleet, in client id order, a page at a time.
  const ids = [a1.hello.client, a2.hello.client].sort();
  const first = await b.ask<{ members: { client: string; user: string }[]; total: number; next?: string }>('presence room  1');
  expect(first.members).toEqual([{ client: ids[0], user: '42' }]);
  expect(first.next).toBe(ids[0]);
  const second = await b.ask<{ members: { client: string }[]; next?: string }>(`presence room ${ids[0]} 1`);
  expect(second.members.map((m) => m.client)).toEqual([ids[1]]);

  // Presence events: b joins the room, both members hear it.
  await b.ask('join room');
  for (const member of [a1, a2]) {
    let event = await member.presence();
    while (event.client !== b.hello.client) event = await member.presence();
    expect(event).toMatchObject({ topic: 'room', type: 'join', client: b.hello.client, user: '7' });
  }
  await b.ask('unsub user 42 room');
  await eventually(async () => (await b.ask<{ total: number }>('presence room')).total === 1, 6000, 'only b in room');

  const nodes = await b.ask<{ node: string; connections: number }[]>('nodes');
  expect(nodes.length).toBe(distinctNodes ? 2 : 1);
  expect(nodes.reduce((n, x) => n + x.connections, 0)).toBe(3);

  // Kicked: every connection of user 42, with 4000, wherever it is.
  await b.ask('kick user 42');
  for (const member of [a1, a2]) expect(await member.raw.readClose(6000)).toMatchObject({ code: 4000, reason: 'disconnected by the server' });
  expect(await b.ask('who 42')).toEqual({ online: false, connections: [] });
}

describe('the fleet', () => {
  it('one process', async () => {
    const ts = await inProcess();
    await scenario((_, user) => client(ts.port, user), false);
  });

  it('two nodes joined by redis-server', async () => {
    redis = await RedisServer.start();
    const nodes = [await inProcess({ redis: redis.url }), await inProcess({ redis: redis.url })];
    for (const n of nodes) await eventually(() => n.logs.lines('info').some((l) => l.startsWith('broker: connected')), 3000, 'connected');
    await scenario((where, user) => client(nodes[where].port, user), true);
  });

  it('--workers 2 (node:cluster)', async () => {
    const port = await freePort();
    const p = new WssdProcess(['--workers', '2', '--plain', '--port', String(port), '--host', '127.0.0.1', '--app', APP, '--presence-prefix', 'room']);
    processes.push(p);
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 2, 10_000, 'both workers listening');
    // Connections are spread over the workers in turn: open until one lands on each.
    const byNode = new Map<string, number>();
    const open: Open = async (where, user) => {
      for (let attempt = 0; attempt < 40; attempt++) {
        const c = await client(port, user);
        const known = byNode.get(c.hello.node) ?? (byNode.size < 2 ? byNode.size : undefined);
        if (known !== undefined) byNode.set(c.hello.node, known);
        if (known === where) return c;
        c.raw.destroy();
      }
      throw new Error('no connection landed on the wanted worker');
    };
    await scenario(open, true);
  });
});
