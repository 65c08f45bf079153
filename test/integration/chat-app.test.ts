// The chat example, examples/chat-app.mjs, run as operators would run it
// (node dist/server.js --app examples/chat-app.mjs), on topics: rooms from the
// query, join and leave notices, messages to the room but not back to the
// sender, private messages through per-user topics, binary refused with
// 1003 — and the same with --workers 4, where the room spans processes.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { Op, RawClient, type Frame } from '../helpers/raw-client.js';

const CHAT_APP = fileURLToPath(new URL('../../examples/chat-app.mjs', import.meta.url));

/** Reads text frames until one matches `pattern`; fails on a non-text frame or after the deadline. */
async function receive(client: RawClient, pattern: RegExp, timeoutMs = 3000): Promise<string> {
  const frames = await client.readFramesUntil(
    (frame) => {
      expect(frame.opcode).toBe(Op.Text);
      return pattern.test(frame.payload.toString('utf8'));
    },
    timeoutMs,
    `a text frame matching ${pattern}`,
  );
  return (frames.pop() as Frame).payload.toString('utf8');
}

/** Reads text frames until every one of `wanted` came; returns all the texts read. */
async function receiveAll(client: RawClient, wanted: readonly string[], timeoutMs = 5000): Promise<string[]> {
  const missing = new Set(wanted);
  const frames = await client.readFramesUntil(
    (frame) => {
      expect(frame.opcode).toBe(Op.Text);
      missing.delete(frame.payload.toString('utf8'));
      return missing.size === 0;
    },
    timeoutMs,
    `all of ${wanted.length} messages`,
  );
  return frames.map((f) => f.payload.toString('utf8'));
}

describe('the chat example app (node dist/server.js --app examples/chat-app.mjs)', () => {
  let p: WssdProcess | undefined;
  afterEach(() => {
    p?.kill();
    p = undefined;
  });

  it('one process: join notices with the count, messages to the others in the room, /msg to one user, 1003 for binary, leave notice', async () => {
    const port = await freePort();
    p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', '--app', CHAT_APP]);
    await p.waitForLine(/listening/);
    const join = async (room: string): Promise<{ client: RawClient; name: string }> => {
      const client = await RawClient.connect({ port, tls: true });
      await client.upgrade({ path: `/?room=${room}` });
      return { client, name: `127.0.0.1:${client.socket.localPort}` };
    };
    const alice = await join('lobby');
    expect(await receive(alice.client, /joined/)).toBe(`* ${alice.name} joined lobby (1 here)`);
    const bob = await join('lobby');
    expect(await receive(bob.client, /joined/)).toBe(`* ${bob.name} joined lobby (2 here)`);
    expect(await receive(alice.client, /joined/)).toBe(`* ${bob.name} joined lobby (2 here)`);
    const carol = await join('kitchen');
    expect(await receive(carol.client, /joined/)).toBe(`* ${carol.name} joined kitchen (1 here)`);

    alice.client.sendText('hello, room');
    expect(await receive(bob.client, /room/)).toBe(`${alice.name}: hello, room`);
    bob.client.sendText('hi alice');
    // Alice's next frame is bob's answer: her own message did not come back to her.
    expect((await alice.client.readFrame()).payload.toString()).toBe(`${bob.name}: hi alice`);

    carol.client.sendText(`/msg ${alice.name} psst`);
    expect((await alice.client.readFrame()).payload.toString()).toBe(`${carol.name} (privately): psst`);
    // Nothing of the lobby reached the kitchen, nothing private reached bob:
    // the next thing each reads is a marker sent after all of it.
    carol.client.sendText('/msg ' + carol.name + ' marker');
    expect((await carol.client.readFrame()).payload.toString()).toBe(`${carol.name} (privately): marker`);
    alice.client.sendText('to bob only');
    expect((await bob.client.readFrame()).payload.toString()).toBe(`${alice.name}: to bob only`);

    bob.client.sendBinary(Buffer.from([1, 2, 3]));
    expect((await bob.client.readClose()).code).toBe(1003);
    bob.client.sendClose(1003);
    await bob.client.waitClosed(2000);
    expect(await receive(alice.client, /left/)).toBe(`* ${bob.name} left lobby`);
    alice.client.destroy();
    carol.client.destroy();
  });

  it('--workers 4: every client of a room gets every message of the others, across workers; no client of another room gets any', async () => {
    const port = await freePort();
    p = new WssdProcess(['--plain', '--port', String(port), '--host', '127.0.0.1', '--workers', '4', '--stats', '--app', CHAT_APP]);
    const started = p;
    await eventually(() => started.stderr.filter((l) => l.includes('listening')).length >= 4, 10_000, 'all four workers listening');
    const clients: { client: RawClient; name: string; room: string }[] = [];
    // 12 clients, round-robin over the 4 workers: each room has clients on several workers.
    for (let i = 0; i < 12; i++) {
      const room = ['red', 'green', 'blue'][i % 3];
      const client = await RawClient.connect({ port, tls: false, timeoutMs: 2000 });
      await client.upgrade({ path: `/?room=${room}` });
      clients.push({ client, name: `127.0.0.1:${client.socket.localPort}`, room });
    }
    // Everyone's own join notice says it is in; then the room's traffic starts.
    for (const c of clients) await receive(c.client, new RegExp(`\\* ${c.name.replace(/\./g, '\\.')} joined`));
    const messages = clients.map((c, i) => `${c.name}: message ${i} in ${c.room}`);
    clients.forEach((c, i) => c.client.sendText(`message ${i} in ${c.room}`));
    for (const [i, c] of clients.entries()) {
      const wanted = messages.filter((m, j) => j !== i && clients[j].room === c.room);
      const read = await receiveAll(c.client, wanted);
      const chatter = read.filter((t) => !t.startsWith('* '));
      expect(chatter.filter((t) => !t.endsWith(` in ${c.room}`)), `client ${i} (${c.room}) got another room's message`).toEqual([]);
      expect(chatter).not.toContain(messages[i]);
    }
    // It did cross workers: /stats (whichever worker answers) sums all four,
    // and publications arrived from other processes.
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { processes: number; connections: number; topics: { publishedElsewhere: number }; perProcess: { pid: number; connections: number }[] };
    expect(stats.processes).toBe(4);
    expect(stats.connections).toBe(12);
    expect(new Set(stats.perProcess.map((s) => s.pid)).size).toBe(4);
    expect(stats.perProcess.filter((s) => s.connections > 0).length).toBeGreaterThan(2);
    expect(stats.topics.publishedElsewhere).toBeGreaterThan(0);
    for (const c of clients) c.client.destroy();
  });
});
