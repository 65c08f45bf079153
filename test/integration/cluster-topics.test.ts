// Topics across --workers (node:cluster): the primary relays a publication
// only to the workers with subscribers of its topic, in the order the
// publishing worker made them, binary payloads intact; a worker that dies and
// is restarted takes part again once its clients subscribe.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { Op, RawClient } from '../helpers/raw-client.js';

let tmp: string;
let app: string;
let p: WssdProcess | undefined;
const clients: RawClient[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wssd-cluster-topics-'));
  app = join(tmp, 'topics-app.mjs');
  // Each connection is told its worker's pid, then obeys: "sub T", "pub T N"
  // (N text messages "T i"), "crash"; a binary message is published to "bin".
  writeFileSync(
    app,
    `export default function (ws, request, server) {
  ws.send('pid ' + process.pid);
  ws.on('message', (d, binary) => {
    if (binary) return void server.publish('bin', d);
    const [cmd, topic, n] = String(d).split(' ');
    if (cmd === 'sub') { ws.subscribe(topic); ws.send('ok sub ' + topic); }
    else if (cmd === 'pub') { for (let i = 0; i < Number(n); i++) server.publish(topic, topic + ' ' + i); ws.send('ok pub ' + topic); }
    else if (cmd === 'crash') process.exit(1);
  });
}
`,
  );
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  p?.kill();
  p = undefined;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Client {
  client: RawClient;
  pid: number;
}

async function connect(port: number): Promise<Client> {
  const client = await RawClient.connect({ port, tls: false, timeoutMs: 2000 });
  clients.push(client);
  await client.upgrade({}, 2000);
  const hello = (await client.readFrame()).payload.toString();
  const m = /^pid (\d+)$/.exec(hello);
  if (m === null) throw new Error(`unexpected greeting ${hello}`);
  return { client, pid: Number(m[1]) };
}

/** Connects until a connection lands on a worker that `accept` takes (round-robin makes that quick); others are closed. */
async function connectTo(port: number, accept: (pid: number) => boolean): Promise<Client> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const c = await connect(port);
    if (accept(c.pid)) return c;
    c.client.destroy();
  }
  throw new Error('no connection landed on the wanted worker');
}

async function command(c: Client, text: string): Promise<void> {
  c.client.sendText(text);
  const reply = await c.client.readFramesUntil((f) => f.payload.toString().startsWith('ok '), 3000, `the answer to ${text}`);
  expect(reply.at(-1)?.payload.toString()).toBe(`ok ${text.split(' ').slice(0, 2).join(' ')}`);
}

interface Stats {
  processes: number;
  perProcess: { pid: number; topics: { publishedElsewhere: number; count: number } }[];
}

async function stats(port: number): Promise<Stats> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as Stats;
}

async function startWorkers(): Promise<number> {
  const port = await freePort();
  const started = new WssdProcess(['--workers', '2', '--plain', '--stats', '--port', String(port), '--host', '127.0.0.1', '--app', app]);
  p = started;
  await eventually(() => started.stderr.filter((l) => l.includes('listening')).length >= 2, 10_000, 'both workers listening');
  return port;
}

describe('topics across --workers 2', () => {
  it('interest routing: a worker gets only the topics it has subscribers for; order per publisher and binary payloads survive the relay', async () => {
    const port = await startWorkers();
    const a = await connect(port);
    const b = await connectTo(port, (pid) => pid !== a.pid);
    await command(a, 'sub x');
    await command(a, 'sub bin');
    // Nobody anywhere wants y: it must not cross to a's worker. Then 500 of x must, in order.
    await command(b, 'pub y 100');
    await command(b, 'pub x 500');
    const xs = await a.client.readFramesUntil((f) => f.payload.toString() === 'x 499', 5000, 'x 0..499');
    expect(xs.map((f) => f.payload.toString())).toEqual(Array.from({ length: 500 }, (_, i) => `x ${i}`));
    const payloads = Array.from({ length: 200 }, (_, i) => Buffer.from(Array.from({ length: 1 + ((i * 97) % 3000) }, (_, j) => (i * 31 + j * 7) & 0xff)));
    for (const payload of payloads) b.client.sendBinary(payload);
    for (const payload of payloads) {
      const frame = await a.client.readFrame();
      expect(frame.opcode).toBe(Op.Binary);
      expect(frame.payload.equals(payload)).toBe(true);
    }
    const s = await stats(port);
    expect(s.processes).toBe(2);
    const ofA = s.perProcess.find((w) => w.pid === a.pid);
    const ofB = s.perProcess.find((w) => w.pid === b.pid);
    // a's worker received x (500) and bin (200), not y; b's worker has no subscribers and received nothing.
    expect(ofA?.topics.publishedElsewhere).toBe(700);
    expect(ofB?.topics.publishedElsewhere).toBe(0);
  });

  it('a worker that crashed is restarted and its new subscribers are reached from the other worker, and reach it', async () => {
    const port = await startWorkers();
    const a = await connect(port);
    const victim = await connectTo(port, (pid) => pid !== a.pid);
    await command(victim, 'sub x');
    await command(a, 'sub x');
    victim.client.sendText('crash');
    const started = p as WssdProcess;
    await started.waitForLine(new RegExp(`worker ${victim.pid} exited`), 5000);
    await eventually(() => started.stderr.filter((l) => l.includes('listening')).length >= 3, 10_000, 'the replacement listening');
    const fresh = await connectTo(port, (pid) => pid !== a.pid && pid !== victim.pid);
    await command(fresh, 'sub x');
    await command(a, 'pub x 10');
    const got = await fresh.client.readFramesUntil((f) => f.payload.toString() === 'x 9', 5000, 'x 0..9 on the new worker');
    expect(got.map((f) => f.payload.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `x ${i}`));
    // (a's own worker delivered those ten to a before its "ok": command() read past them.)
    await command(fresh, 'pub x 5');
    const back = await a.client.readFramesUntil((f) => f.payload.toString() === 'x 4', 5000, 'x 0..4 from the new worker');
    expect(back.map((f) => f.payload.toString())).toEqual(Array.from({ length: 5 }, (_, i) => `x ${i}`));
  });
});
