// Case 11, table C: a WssdClient's resume after a lost connection, against a
// real redis-server (test/helpers/redis-server.ts) and a wss:// node with
// the Redis broker and --history-size (client-node.ts). Each round, on a
// topic of its own:
//   1. the client (client-child.ts, over its gated transport) subscribes from
//      the oldest kept, gets the one publication made before (see round()),
//      then LIVE publications as they are made;
//   2. its socket is closed as a lost connection's would be; the client sees
//      it and reconnects (with its backoff), but that connection is parked;
//      the node shows the topic without subscribers;
//   3. MISSED publications are made through the server API (POST /api/batch,
//      100 a request, each answered once Redis took them: all are in the
//      history before the client comes back);
//   4. the client is let through: it subscribes with `since`, the node
//      replays from Redis, and the time runs from the socket's open to the
//      delivery of the last replayed publication to the application (and to
//      the subscribe's reply, which follows the replay);
//   5. one more publication, live; then every publication of the round must
//      have been delivered exactly once, in order — anything else (a gap, a
//      repeat, a missing one, recovered: false, a replay of another count)
//      fails the case.
// A first round, unrecorded, warms the node's and the client's JIT. The
// processes run on both CPUs.
import http from 'node:http';
import { sleep } from '../harness/load-client.js';
import { median, sig } from '../harness/measure.js';
import type { ClientChild } from './client-cpu.js';
import { API_KEY, resumeBatchBody, sequenceProblem, TOPIC_PREFIX } from './client-requests.js';
import type { NodeChild } from './overhead.js';

/** The sequence number of the publication made before the client subscribes (see round()). */
const SEED = -1;

export interface ResumeOptions {
  node: NodeChild;
  client: ClientChild;
  /** The node's wss:// URL, without a path. */
  url: string;
  live: number;
  missed: number;
  rounds: number;
}

export interface ResumeRound {
  /** From letting the client through to its socket's open, ms. */
  connectMs: number;
  /** From the socket's open to the last replayed publication, delivered, ms. */
  openToLastMs: number;
  openToReplyMs: number;
  replayed: number;
  /** Making the missed publications through the API, ms (all answered). */
  publishMs: number;
}

export interface ResumeResult {
  rounds: ResumeRound[];
  p50: ResumeRound;
  missed: number;
}

/** POSTs `body` to the node's server API; rejects on anything but a 200 without an error in it. */
function apiPost(agent: http.Agent, port: number, path: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', reject);
        res.on('end', () => (res.statusCode === 200 && !text.includes('"error"') ? resolve() : reject(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 200)}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Publications from..to − 1 through POST /api/batch, 100 a request, one request at a time (in order). */
async function publish(agent: http.Agent, port: number, topic: string, from: number, to: number): Promise<void> {
  for (let seq = from; seq < to; seq += 100) await apiPost(agent, port, '/api/batch', resumeBatchBody(topic, seq, Math.min(100, to - seq)));
}

/** Polls (every 5 ms, ≤ 10 s) until `check` finds nothing wrong; fails with its last finding. */
async function until(what: string, check: () => Promise<string | undefined>): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const problem = await check();
    if (problem === undefined) return;
    if (performance.now() > deadline) throw new Error(`client case C: ${what}: ${problem} after 10 s`);
    await sleep(5);
  }
}

async function round(o: ResumeOptions, agent: http.Agent, apiPort: number, index: number): Promise<ResumeRound> {
  const topic = `${TOPIC_PREFIX}resume-${index}`;
  const name = `resume-${index}`;
  const what = `round ${index}`;
  const subscribers = async (n: number): Promise<string | undefined> => {
    const { subscribers: got } = await o.node.request<'count'>({ type: 'count', topic });
    return got === n ? undefined : `${got} subscribers of ${topic}, expected ${n}`;
  };
  const received = async (n: number): Promise<string | undefined> => {
    const r = await o.client.request<'received'>({ type: 'received', name });
    return r.seqs.length >= n ? undefined : `${r.seqs.length} publications received, expected ${n}`;
  };
  // The client subscribes from the oldest kept ({offset: 0, epoch: ""}) to a topic with one
  // publication already, SEED: the seed is replayed and the topic's epoch comes with it, so the
  // round starts from a known position.
  await apiPost(agent, apiPort, '/api/batch', resumeBatchBody(topic, SEED, 1));
  const opened = await o.client.request<'opened'>({ type: 'open', name, kind: 'wssd', url: `${o.url}/`, topic, gated: true, since: { offset: 0, epoch: '' } });
  if (opened.error !== undefined) throw new Error(`client case C: ${what}: ${opened.error}`);
  try {
    await until(`${what}, subscribed`, () => subscribers(1));
    const live = o.live;
    const all = live + o.missed;
    await until(`${what}, the seed publication`, () => received(1));
    await publish(agent, apiPort, topic, 0, live);
    await until(`${what}, live publications`, () => received(1 + live));
    await o.client.request<'dropped'>({ type: 'drop', name });
    await until(`${what}, the node saw the client go`, () => subscribers(0));
    const p0 = performance.now();
    await publish(agent, apiPort, topic, live, all);
    const publishMs = performance.now() - p0;
    const back = await o.client.request<'back'>({ type: 'back', name, until: 1 + all });
    if (back.error !== undefined) throw new Error(`client case C: ${what}: ${back.error}`);
    if (!back.recovered || back.replayed !== o.missed || back.gaps !== 0) {
      throw new Error(`client case C: ${what}: the resume answered recovered ${back.recovered}, replayed ${back.replayed} (expected ${o.missed}), ${back.gaps} gaps`);
    }
    // One more, live, after the replay: it must follow the replayed ones, and nothing come twice.
    await publish(agent, apiPort, topic, all, all + 1);
    await until(`${what}, the live publication after the resume`, () => received(1 + all + 1));
    await sleep(100);
    const { seqs, gaps } = await o.client.request<'received'>({ type: 'received', name });
    const problem = sequenceProblem(seqs, SEED, all + 1);
    if (problem !== undefined || gaps !== 0) throw new Error(`client case C: ${what}: not every publication exactly once, in order: ${problem ?? `${gaps} gaps`}`);
    return { connectMs: sig(back.connectMs), openToLastMs: sig(back.openToLastMs), openToReplyMs: sig(back.openToReplyMs), replayed: back.replayed, publishMs: sig(publishMs) };
  } finally {
    await o.client.request<'closed'>({ type: 'close', name }).catch(() => undefined);
  }
}

/** Table C: a warm-up round, then `rounds` recorded. */
export async function benchResume(o: ResumeOptions): Promise<ResumeResult> {
  const { port: apiPort } = await o.node.request<'api'>({ type: 'api' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const rounds: ResumeRound[] = [];
  try {
    await round(o, agent, apiPort, 0);
    for (let i = 1; i <= o.rounds; i++) rounds.push(await round(o, agent, apiPort, i));
  } finally {
    agent.destroy();
  }
  const m = (f: (r: ResumeRound) => number): number => sig(median(rounds.map(f)));
  return {
    rounds,
    p50: { connectMs: m((r) => r.connectMs), openToLastMs: m((r) => r.openToLastMs), openToReplyMs: m((r) => r.openToReplyMs), replayed: m((r) => r.replayed), publishMs: m((r) => r.publishMs) },
    missed: o.missed,
  };
}
