// wssd/client in chromium, against the real executable: the page wssd serves
// imports /wssd-client.js and subscribes to a topic with history on node A
// while node B (its server API) publishes; node A is stopped (SIGTERM, then
// SIGKILL) and started again on the same port, and the page ends with every
// publication exactly once, in order. And the demo page's console, on the
// defaults: connect, subscribe, publish, and see its own publication.
import { afterAll, describe, expect, it } from 'vitest';
import type { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { PacedPublisher } from '../helpers/paced-publisher.js';
import { RedisServer } from '../helpers/redis-server.js';
import { scaled } from '../helpers/timeouts.js';
import { SharedBrowser, type Chromium, type Page } from './chromium.js';
import { DEV_CERT_FILE, startWssd } from './support.js';

const E2E_TIMEOUT = scaled(60_000);
const API_KEY = 'client-chromium-api-key';

let redis: RedisServer | undefined;
let fleet: Promise<{ redisUrl: string; api: number }> | undefined;
const processes = new Set<WssdProcess>();

const shared = new SharedBrowser({ trustCertificates: [DEV_CERT_FILE] });
const browser = (): Promise<Chromium> => shared.get();

/** `node dist/server.js --host 127.0.0.1 …args`, once listening (and, with --redis, connected to it). */
async function wssd(args: readonly string[]): Promise<WssdProcess> {
  const p = await startWssd(['--host', '127.0.0.1', ...args]);
  processes.add(p);
  if (args.includes('--redis')) await p.waitForLine(/broker: connected/, 10_000);
  return p;
}

/**
 * A redis-server and node B, which publishes through its server API (nobody
 * connects to it): started by the first test that needs them, so a failure
 * to start fails that test.
 */
function redisAndNodeB(): Promise<{ redisUrl: string; api: number }> {
  fleet ??= (async () => {
    redis = await RedisServer.start();
    const api = await freePort();
    const port = await freePort();
    await wssd(['--port', String(port), '--plain', '--no-demo-page', ...history(redis.url), '--api-port', String(api), '--api-key', API_KEY]);
    return { redisUrl: redis.url, api };
  })();
  return fleet;
}

function history(redisUrl: string): string[] {
  return ['--redis', redisUrl, '--history-size', '10000'];
}

afterAll(async () => {
  await shared.close();
  for (const p of processes) p.kill();
  await redis?.stop();
}, scaled(30_000));

/** POST /api/publish on node B; fails the test unless it is taken. */
async function publish(api: number, topic: string, data: string): Promise<void> {
  const answer = await fetch(`http://127.0.0.1:${api}/api/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ topic, data }),
  });
  if (answer.status !== 200) throw new Error(`node B refused publication ${data}: ${answer.status} ${await answer.text()}`);
}

interface Feed {
  /** [offset, epoch, data] of each publication, or ['gap', reason], in the order the page was given them. */
  log: [number | string, string, string?][];
  /** "connected", and the disconnect that ended each connection ("disconnected CODE reconnect|stop"). */
  events: string[];
  /** Attempts that failed before opening (the server was down). */
  failed: number;
  /** The subscribe replies: the first, then the resubscription's, with what it replayed. */
  subscribed: { recovered: boolean; replayed: number }[];
}

/**
 * In the page: WssdClient from /wssd-client.js, subscribed to `topic`, what it
 * delivers kept on window.feed; resolves with the content types the two
 * modules were served with.
 */
function subscribeInPage(page: Page, port: number, topic: string): Promise<string[]> {
  return page.evaluate<string[]>(`(async () => {
    const { WssdClient } = await import('/wssd-client.js');
    const feed = window.feed = { log: [], events: [], failed: 0, subscribed: [] };
    const client = window.client = new WssdClient('wss://localhost:${port}/', { backoffBase: 100, backoffMax: 500 });
    client.on('connected', () => feed.events.push('connected'));
    client.on('disconnected', (d) => {
      if (feed.events.at(-1) === 'connected') feed.events.push('disconnected ' + d.code + ' ' + (d.reconnect ? 'reconnect' : 'stop'));
      else feed.failed++;
    });
    client.subscribe(${JSON.stringify(topic)}, {
      onPublication: (p) => feed.log.push([p.offset, p.epoch, p.data]),
      onGap: (g) => feed.log.push(['gap', g.reason]),
      onSubscribed: (r) => feed.subscribed.push({ recovered: r.recovered, replayed: r.replayed }),
    });
    client.connect();
    const types = [];
    for (const path of ['/wssd-client.js', '/wssd-protocol.js']) types.push((await fetch(path)).headers.get('content-type'));
    return types;
  })()`);
}

const feedOf = (page: Page): Promise<Feed> => page.evaluate<Feed>('window.feed');

/** The page subscribed on node A; A stopped with `signal` and started again on its port while node B publishes. */
async function resumeAcross(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const { redisUrl, api } = await redisAndNodeB();
  const topic = `live:feed-${signal.toLowerCase()}`;
  const port = await freePort();
  const nodeA = ['--port', String(port), ...history(redisUrl), '--client-subscribe-prefix', 'live:'];
  const first = await wssd(nodeA);
  const page = await (await browser()).open(`https://localhost:${port}/`);
  let publishing: PacedPublisher | undefined;
  try {
    const types = await subscribeInPage(page, port, topic);
    expect(types).toEqual(['text/javascript; charset=utf-8', 'text/javascript; charset=utf-8']);
    await page.waitFor<boolean>('window.feed.subscribed.length === 1', 10_000, 'the page subscribed');

    publishing = new PacedPublisher((data) => publish(api, topic, data), 10);
    await page.waitFor<boolean>('window.feed.log.length >= 50', 10_000, 'the first publications in the page');
    first.child.kill(signal);
    expect(await first.exited(10_000)).toEqual(signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' });
    processes.delete(first);
    await wssd(nodeA);
    const n = await publishing.finish(100);

    const feed = await page.waitFor<Feed>(`window.feed.log.length >= ${n} && window.feed`, 15_000, `${n} publications in the page`);
    const pubs = feed.log.filter((e) => e[0] !== 'gap');
    expect(feed.log.filter((e) => e[0] === 'gap')).toEqual([]);
    expect(pubs.map((e) => e[2])).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(new Set(pubs.map((e) => e[1])).size).toBe(1);
    const offset = pubs[0][0] as number;
    expect(pubs.map((e) => e[0])).toEqual(Array.from({ length: n }, (_, i) => offset + i));
    expect(feed.events).toEqual(['connected', `disconnected ${signal === 'SIGTERM' ? 1001 : 1006} reconnect`, 'connected']);
    // What was published while A was away came as the replay of the resubscription.
    expect(feed.subscribed).toHaveLength(2);
    expect(feed.subscribed[1].recovered).toBe(true);
    expect(feed.subscribed[1].replayed).toBeGreaterThan(0);
    // Nothing after the last one, either.
    await new Promise((resolve) => setTimeout(resolve, scaled(200)));
    expect((await feedOf(page)).log).toHaveLength(n);
  } finally {
    publishing?.stop();
    await page.evaluate('window.client?.disconnect(), true').catch(() => undefined);
    await page.close();
  }
}

describe('wssd/client in chromium, loaded from /wssd-client.js', () => {
  it('node A SIGTERMed and started again on its port while node B publishes: the page has every publication once, in order', () => resumeAcross('SIGTERM'), E2E_TIMEOUT);

  it('node A SIGKILLed and started again on its port while node B publishes: the page has every publication once, in order', () => resumeAcross('SIGKILL'), E2E_TIMEOUT);

  it(
    "the demo page's console on the defaults: connect, subscribe to demo:chat, publish, and its own publication shows in #c-log",
    async () => {
      const port = await freePort();
      await wssd(['--port', String(port)]);
      const page = await (await browser()).open(`https://localhost:${port}/`);
      try {
        const submit = (form: string): Promise<boolean> => page.evaluate<boolean>(`(document.getElementById(${JSON.stringify(form)}).requestSubmit(), true)`);
        await submit('c-form');
        await page.waitFor<boolean>(`document.getElementById('c-state').textContent === 'connected'`, 10_000, 'the console connected');
        expect(await page.evaluate<string>(`document.getElementById('c-topic').value`)).toBe('demo:chat');
        await submit('c-sub');
        await page.waitFor<boolean>(`document.getElementById('c-log').textContent.includes('* subscribed to demo:chat')`, 10_000, 'the console subscribed');
        const text = `hello from the console ${Date.now()}`;
        await page.evaluate<boolean>(`(document.getElementById('c-message').value = ${JSON.stringify(text)}, true)`);
        await submit('c-pub');
        const line = await page.waitFor<string>(
          `document.getElementById('c-log').textContent.split('\\n').find((l) => l.startsWith('< ')) ?? null`,
          10_000,
          'its publication in #c-log',
        );
        expect(line).toBe(`< demo:chat: ${text}`);
        const log = await page.evaluate<string>(`document.getElementById('c-log').textContent`);
        expect(log).not.toContain('!');
      } finally {
        await page.close();
      }
    },
    E2E_TIMEOUT,
  );
});
