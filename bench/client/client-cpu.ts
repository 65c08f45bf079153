// Case 11, table B: what WssdClient costs its own process per message, in
// Node. The client process (client-child.ts, compiled, pinned to the
// client's CPU) holds a WssdClient subscribed to bench:b-v1 and, beside it,
// a bare WebSocket of the same class (Node's own) on the node's raw path for
// bench:b-raw. The node (the wss:// one of table A, on the server's CPU)
// publishes `count` publications at a fixed pace to one topic or the other,
// cell by cell, in pairs whose first cell alternates. Per cell:
// the client process's CPU (process.cpuUsage()) from just before the first
// publication to the delivery of the last, less its idle baseline — the same
// process, measured for a while just before with nothing arriving — ÷ the
// publications (cpuPerMessage). The ratio and the difference WssdClient −
// bare are taken within each pair, then the median.
import type { Child } from '../harness/children.js';
import { median, sig } from '../harness/measure.js';
import { cpuPerMessage, rawPath, TOPIC_PREFIX, type ClientKind, type ClientReply, type ClientRequest } from './client-requests.js';
import type { NodeChild } from './overhead.js';

export type ClientChild = Child<ClientRequest, ClientReply>;

export const B_RAW_TOPIC = `${TOPIC_PREFIX}b-raw`;
export const B_V1_TOPIC = `${TOPIC_PREFIX}b-v1`;

export interface ClientCpuOptions {
  node: NodeChild;
  client: ClientChild;
  /** The node's wss:// URL, without a path. */
  url: string;
  payloads: number[];
  /** Publications per cell, and per second. */
  count: number;
  rate: number;
  idleMs: number;
  /** Pairs of cells (bare, WssdClient) per payload. */
  pairs: number;
}

export interface ClientCpuSample {
  kind: ClientKind;
  payload: number;
  messages: number;
  /** Publications per second as they arrived (count ÷ the window). */
  messagesPerSec: number;
  cpuUsPerMessage: number;
  /** The process's CPU while idle, % of a core (subtracted). */
  idleCpuPct: number;
  /** Its CPU over the window, % of a core (before subtracting). */
  cpuPct: number;
}

export interface ClientCpuRatio {
  payload: number;
  bareUs: number;
  wssdUs: number;
  /** WssdClient − bare, µs per message: median of the pairs'. */
  extraUs: number;
  /** WssdClient ÷ bare: median of the pairs'. */
  ratio: number;
  perPair: number[];
}

const NAMES: Record<ClientKind, string> = { wssd: 'client-wssd', bare: 'client-bare' };

async function cell(o: ClientCpuOptions, kind: ClientKind, size: number): Promise<ClientCpuSample> {
  const name = NAMES[kind];
  const what = `client case B: ${kind} × ${size} B`;
  const idle = await o.client.request<'idle'>({ type: 'idle', ms: o.idleMs });
  await o.client.request<'expecting'>({ type: 'expect', name, size, count: o.count });
  const started = await o.node.request<'started'>({ type: 'start', topic: kind === 'wssd' ? B_V1_TOPIC : B_RAW_TOPIC, size, rate: o.rate, count: o.count });
  if (started.error !== undefined) throw new Error(`${what}: ${started.error}`);
  const done = await o.client.request<'done'>({ type: 'done', name });
  await o.node.request<'stopped'>({ type: 'stop' });
  if (done.error !== undefined) throw new Error(`${what}: ${done.error}`);
  if (done.received !== o.count) throw new Error(`${what}: ${done.received} of ${o.count} received`);
  return {
    kind,
    payload: size,
    messages: done.received,
    messagesPerSec: Math.round((done.received * 1000) / done.wallMs),
    cpuUsPerMessage: sig(cpuPerMessage(done.cpuUs, done.wallMs, idle.cpuUs, idle.wallMs, done.received)),
    idleCpuPct: sig((100 * idle.cpuUs) / (idle.wallMs * 1000), 2),
    cpuPct: Math.round((100 * done.cpuUs) / (done.wallMs * 1000)),
  };
}

/** Table B: opens the two clients; for each payload, `pairs` pairs of cells (bare, WssdClient) back to back, the first alternating; closes them. */
export async function benchClientCpu(o: ClientCpuOptions): Promise<{ cells: ClientCpuSample[]; ratios: ClientCpuRatio[]; pairs: ClientCpuSample[][] }> {
  for (const kind of ['bare', 'wssd'] as const) {
    const opened = await o.client.request<'opened'>({ type: 'open', name: NAMES[kind], kind, url: kind === 'wssd' ? `${o.url}/` : `${o.url}${rawPath(B_RAW_TOPIC)}`, topic: kind === 'wssd' ? B_V1_TOPIC : B_RAW_TOPIC });
    if (opened.error !== undefined) throw new Error(`client case B: opening the ${kind} client: ${opened.error}`);
  }
  const pairs: ClientCpuSample[][] = [];
  try {
    for (const topic of [B_RAW_TOPIC, B_V1_TOPIC]) {
      const { subscribers } = await o.node.request<'count'>({ type: 'count', topic });
      if (subscribers !== 1) throw new Error(`client case B: ${subscribers} subscribers of ${topic}, expected 1`);
    }
    // Unrecorded: the first cells warm the JIT of both sides.
    for (const size of o.payloads) for (const kind of ['bare', 'wssd'] as const) await cell({ ...o, count: Math.min(o.count, 2000) }, kind, size);
    for (const size of o.payloads) {
      for (let pair = 0; pair < o.pairs; pair++) {
        const kinds: ClientKind[] = pair % 2 === 0 ? ['bare', 'wssd'] : ['wssd', 'bare'];
        const samples: ClientCpuSample[] = [];
        for (const kind of kinds) samples.push(await cell(o, kind, size));
        pairs.push(samples);
      }
    }
  } finally {
    for (const name of Object.values(NAMES)) await o.client.request<'closed'>({ type: 'close', name }).catch(() => undefined);
  }
  const find = (samples: ClientCpuSample[], kind: ClientKind, size: number): ClientCpuSample | undefined => samples.find((s) => s.kind === kind && s.payload === size);
  const all = pairs.flat();
  const cells: ClientCpuSample[] = [];
  const ratios: ClientCpuRatio[] = [];
  for (const size of o.payloads) {
    for (const kind of ['bare', 'wssd'] as const) {
      const mine = all.filter((s) => s.kind === kind && s.payload === size);
      const m = (f: (s: ClientCpuSample) => number): number => median(mine.map(f));
      cells.push({ ...mine[0], messagesPerSec: Math.round(m((s) => s.messagesPerSec)), cpuUsPerMessage: sig(m((s) => s.cpuUsPerMessage)), idleCpuPct: sig(m((s) => s.idleCpuPct), 2), cpuPct: Math.round(m((s) => s.cpuPct)) });
    }
    const us = (samples: ClientCpuSample[], kind: ClientKind): number => find(samples, kind, size)?.cpuUsPerMessage ?? NaN;
    const mine = pairs.filter((p) => p[0].payload === size);
    const perPair = mine.map((p) => sig(us(p, 'wssd') / us(p, 'bare')));
    ratios.push({ payload: size, bareUs: us(cells, 'bare'), wssdUs: us(cells, 'wssd'), extraUs: sig(median(mine.map((p) => us(p, 'wssd') - us(p, 'bare')))), ratio: sig(median(perPair)), perPair });
  }
  return { cells, ratios, pairs };
}
