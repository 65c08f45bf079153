// Case 11, table A: what wssd.v1 costs the server over raw topics. One wssd
// node (client-node.ts, compiled, pinned to the server's CPU) holds two sets
// of N subscribers at once: raw WebSocket connections it subscribed to
// bench:raw itself (on their path, as an application would), and wssd.v1
// connections (Sec-WebSocket-Protocol: wssd.v1) that each sent the
// protocol's subscribe command for bench:v1 and got its reply. The node's
// publisher sends the same publications (bench/harness/publications.ts:
// binary, 32 B and 1 KiB) at the same fixed pace to one topic or the other,
// cell by cell: a raw subscriber gets each as a binary frame of its bytes,
// a wssd.v1 one as a `pub` push, the JSON envelope with the bytes in base64,
// made once per publication for all of them (Publication.variant). Two
// paces: one publication a tick, so that every delivery is a write of its
// own (a quiet topic: the per-write cost, the same for both, dominates), and
// bursts of 4 a tick, which each subscriber gets in one write (a busy topic,
// as case 7 runs it: the bytes, which wssd.v1 adds to, weigh more).
//
// Per cell: server CPU µs per delivery (the node's process.cpuUsage() —
// utime + stime, as /proc/PID/stat counts them, at µs resolution — read in
// the same instant as its delivery count), its CPU %, the load client's CPU %
// and frames received per second, publish-to-receipt p50/p99. The ratio
// wssd.v1 ÷ raw is taken within each pair of windows measured back to back
// on the same connections (benchOverhead), the two modes taking turns going
// first. The paces are ones the node keeps well below a core: a node near
// saturation would fall behind and then make more publications a tick than
// asked — one write for several — which would flatter whichever mode costs
// more (the "publisher behind" column counts such ticks). The load client is the bench's process, pinned to the other CPU:
// raw sockets whose receivers decode and check every frame without
// allocating (PublicationReceiver; V1PublicationReceiver, which reads the
// envelope's bytes and only the base64 it needs), so that it is not what
// limits the server.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { Opcode } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import type { Child } from '../harness/children.js';
import { maskedFrame } from '../harness/client-frames.js';
import { closeAll, openMany, settle, sleep, withTimeout, type Target } from '../harness/load-client.js';
import { median, medianCell, sig } from '../harness/measure.js';
import { PublicationStats } from '../harness/publications.js';
import { Subscribers, type ReceiverFactory } from '../harness/subscribers.js';
import { rawPath, TOPIC_PREFIX, type NodeReply, type NodeRequest, type NodeUsage } from './client-requests.js';
import { envelopeLength, isSubscribedReply, subscribeCommand, V1_PROTOCOL, V1PublicationReceiver } from './v1-frames.js';

export type NodeChild = Child<NodeRequest, NodeReply>;
export type Mode = 'raw' | 'wssd.v1';

export const RAW_TOPIC = `${TOPIC_PREFIX}raw`;
export const V1_TOPIC = `${TOPIC_PREFIX}v1`;

export interface OverheadOptions {
  /** wss:// and ws:// nodes, by transport. */
  nodes: { transport: 'tls' | 'plain'; node: NodeChild }[];
  subscribers: number;
  payloads: number[];
  /**
   * The paces: publications per second, made `burst` at a time (in one tick,
   * so that each subscriber gets them in one write).
   */
  paces: Pace[];
  /** Rounds, each on fresh connections. */
  rounds: number;
  /** Pairs of windows (raw, wssd.v1) per payload and round. */
  pairs: number;
  warmMs: number;
  measureMs: number;
  ca: Buffer;
  /** Concurrent handshakes when opening the subscribers. */
  parallel: number;
}

export interface Pace {
  rate: number;
  burst: number;
}

export interface OverheadSample {
  transport: 'tls' | 'plain';
  mode: Mode;
  payload: number;
  /** Publications a tick (a write to each subscriber). */
  burst: number;
  /** A delivery's frame on the wire: header and payload (the envelope, for wssd.v1). */
  frameBytes: number;
  publicationsPerSec: number;
  deliveriesPerSec: number;
  serverCpuUsPerDelivery: number;
  serverCpuPct: number;
  clientCpuPct: number;
  receivedPerSec: number;
  /** Ticks on which the publisher was more than its catch-up bound behind its pace. */
  behind: number;
  p50Ms: number;
  p99Ms: number;
}

export interface OverheadRatio {
  transport: 'tls' | 'plain';
  payload: number;
  burst: number;
  rawUs: number;
  v1Us: number;
  /** wssd.v1 ÷ raw, server CPU per delivery: median of the pairs' ratios. */
  ratio: number;
  perPair: number[];
}

const usage = (node: NodeChild): Promise<NodeUsage> => node.request<'usage'>({ type: 'usage' });

/** A WebSocket frame's header as the server writes it (unmasked), bytes. */
function headerBytes(payload: number): number {
  return payload < 126 ? 2 : payload < 65536 ? 4 : 10;
}

/**
 * Sends each connection's subscribe command and waits (≤ 10 s) for its
 * reply; leaves the sockets paused, nothing read past the reply (nothing is
 * published meanwhile).
 */
async function subscribeV1(opened: { socket: net.Socket; rest: Buffer }[], topic: string): Promise<void> {
  const command = subscribeCommand(topic);
  const one = (o: { socket: net.Socket; rest: Buffer }): Promise<void> => {
    let onData: ((chunk: Buffer) => void) | undefined;
    const replied = new Promise<void>((resolve, reject) => {
      let frames = 0;
      const decoder = new FrameDecoder(
        {
          onFrame(opcode, _fin, data, start, end) {
            const text = data.toString('utf8', start, end);
            if (++frames > 1 || opcode !== Opcode.Text || !isSubscribedReply(text)) reject(new Error(`subscribe to ${topic}: got ${text.slice(0, 200)}`));
            else resolve();
          },
          onError: reject,
        },
        { requireMask: false },
      );
      onData = (chunk: Buffer): void => decoder.push(chunk);
      o.socket.on('data', onData);
      if (o.rest.length > 0) decoder.push(o.rest);
      o.rest = Buffer.alloc(0);
      o.socket.write(maskedFrame(Opcode.Text, command, randomBytes(4)));
      o.socket.resume();
    });
    return withTimeout(replied, 10_000, `subscribe to ${topic}`).finally(() => {
      if (onData !== undefined) o.socket.off('data', onData);
      o.socket.pause();
    });
  };
  await Promise.all(opened.map(one));
}

/** Opens the two sets of subscribers: `n` raw ones on bench:raw, `n` wssd.v1 ones subscribed to bench:v1. */
async function openSets(node: NodeChild, target: Target, n: number, parallel: number, stats: PublicationStats): Promise<Record<Mode, Subscribers>> {
  const raw = await openMany(target, n, parallel, rawPath(RAW_TOPIC));
  let v1: { socket: net.Socket; rest: Buffer }[] = [];
  try {
    v1 = await openMany(target, n, parallel, '/', V1_PROTOCOL);
    await subscribeV1(v1, V1_TOPIC);
  } catch (error) {
    await closeAll([...raw, ...v1].map((o) => o.socket));
    throw error;
  }
  const v1Receivers: ReceiverFactory = (size, s, sampled) => new V1PublicationReceiver(V1_TOPIC, size, s, sampled);
  const sets = { raw: new Subscribers(raw, stats), 'wssd.v1': new Subscribers(v1, stats, v1Receivers) };
  await settle('subscribers', async () => {
    for (const topic of [RAW_TOPIC, V1_TOPIC]) {
      const { subscribers } = await node.request<'count'>({ type: 'count', topic });
      if (subscribers !== n) return `${subscribers} subscribers of ${topic}, expected ${n}`;
    }
    return undefined;
  });
  return sets;
}

/** One cell; with `measureMs` 0, an unrecorded one (undefined): publications for `warmMs`, every one checked. */
async function runCell(node: NodeChild, transport: 'tls' | 'plain', subs: Subscribers, mode: Mode, size: number, pace: Pace, options: OverheadOptions, measureMs: number, stats: PublicationStats): Promise<OverheadSample | undefined> {
  const n = subs.sockets.length;
  const topic = mode === 'raw' ? RAW_TOPIC : V1_TOPIC;
  const what = `client case A: ${transport} ${mode} ${n} × ${size} B, ${pace.rate}/s by ${pace.burst}`;
  stats.reset();
  subs.reset(size);
  const started = await node.request<'started'>({ type: 'start', topic, size, rate: pace.rate, burst: pace.burst });
  if (started.error !== undefined) throw new Error(`${what}: ${started.error}`);
  let stopped = false;
  try {
    await sleep(options.warmMs);
    if (stats.error !== undefined) throw stats.error;
    const u0 = await usage(node);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    stats.recording = true;
    await sleep(measureMs);
    const u1 = await usage(node);
    const c1 = process.cpuUsage(c0);
    const t1 = performance.now();
    stats.recording = false;
    const recordedFrames = stats.recordedFrames;
    const { published } = await node.request<'stopped'>({ type: 'stop' });
    stopped = true;
    await subs.allReceived(published, what);
    if (measureMs === 0) return undefined;
    if (u1.dropped !== u0.dropped) throw new Error(`${what}: ${u1.dropped - u0.dropped} publications dropped for slow subscribers`);
    const deliveries = u1.deliveries - u0.deliveries;
    if (deliveries <= 0) throw new Error(`${what}: nothing delivered in ${measureMs} ms`);
    if (deliveries !== (u1.published - u0.published) * n) throw new Error(`${what}: ${deliveries} deliveries of ${u1.published - u0.published} publications to ${n} subscribers`);
    const nodeUs = (u1.time - u0.time) * 1000;
    const cpuUs = u1.cpuUs - u0.cpuUs;
    const [p50, p99] = stats.percentiles([0.5, 0.99]);
    const payloadBytes = mode === 'raw' ? size : envelopeLength(V1_TOPIC, size);
    return {
      transport,
      mode,
      payload: size,
      burst: pace.burst,
      frameBytes: headerBytes(payloadBytes) + payloadBytes,
      publicationsPerSec: Math.round(((u1.published - u0.published) * 1e6) / nodeUs),
      deliveriesPerSec: Math.round((deliveries * 1e6) / nodeUs),
      serverCpuUsPerDelivery: sig(cpuUs / deliveries),
      serverCpuPct: Math.round((100 * cpuUs) / nodeUs),
      clientCpuPct: Math.round((100 * (c1.user + c1.system)) / ((t1 - t0) * 1000)),
      receivedPerSec: Math.round((recordedFrames * 1000) / (t1 - t0)),
      behind: u1.behind - u0.behind,
      p50Ms: sig(p50),
      p99Ms: sig(p99),
    };
  } finally {
    // A failed cell still stops its publisher, so that the next one starts clean.
    if (!stopped) await node.request<'stopped'>({ type: 'stop' }).catch(() => undefined);
  }
}

function medianSample(samples: OverheadSample[]): OverheadSample {
  return medianCell(samples, {
    publicationsPerSec: 'whole',
    deliveriesPerSec: 'whole',
    serverCpuUsPerDelivery: 3,
    serverCpuPct: 'whole',
    clientCpuPct: 'whole',
    receivedPerSec: 'whole',
    behind: 'whole',
    p50Ms: 3,
    p99Ms: 3,
  });
}

/**
 * Table A. Each round opens fresh sets of subscribers on each transport;
 * then, for each payload, `pairs` pairs of windows, raw and wssd.v1 back to
 * back — the one that goes first alternating pair by pair — and the ratio of
 * each pair. On a machine that other work loads, the CPU a delivery costs
 * swings by half from one minute to the next; two windows a second apart see
 * the same machine, so the median of the pairs' ratios holds still where
 * the ratio of two medians would not.
 */
export async function benchOverhead(options: OverheadOptions): Promise<{ cells: OverheadSample[]; ratios: OverheadRatio[]; pairs: OverheadSample[][] }> {
  const stats = new PublicationStats();
  const pairs: OverheadSample[][] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const { transport, node } of options.nodes) {
      stats.reset();
      const target: Target = { port: node.port, tls: transport === 'tls', websocket: true, ca: options.ca };
      const sets = await openSets(node, target, options.subscribers, options.parallel, stats);
      try {
        // Unrecorded: the first cells on fresh connections cost more (the handshakes' garbage, first writes, the JIT).
        for (const mode of ['raw', 'wssd.v1'] as const) await runCell(node, transport, sets[mode], mode, options.payloads[0], options.paces[0], options, 0, stats);
        for (const size of options.payloads) {
          for (const pace of options.paces) {
            for (let pair = 0; pair < options.pairs; pair++) {
              const modes: Mode[] = (pair + round) % 2 === 0 ? ['raw', 'wssd.v1'] : ['wssd.v1', 'raw'];
              const samples: OverheadSample[] = [];
              for (const mode of modes) {
                const sample = await runCell(node, transport, sets[mode], mode, size, pace, options, options.measureMs, stats);
                if (sample !== undefined) samples.push(sample);
              }
              pairs.push(samples);
            }
          }
        }
      } finally {
        await Promise.all([sets.raw.close(), sets['wssd.v1'].close()]);
      }
    }
  }
  const all = pairs.flat();
  const cells: OverheadSample[] = [];
  const ratios: OverheadRatio[] = [];
  for (const { transport } of options.nodes) {
    for (const size of options.payloads) {
      for (const { burst } of options.paces) {
        const mine = (s: OverheadSample): boolean => s.transport === transport && s.payload === size && s.burst === burst;
        for (const mode of ['raw', 'wssd.v1'] as const) cells.push(medianSample(all.filter((s) => mine(s) && s.mode === mode)));
        const us = (mode: Mode, samples: OverheadSample[]): number => samples.find((s) => mine(s) && s.mode === mode)?.serverCpuUsPerDelivery ?? NaN;
        const perPair = pairs.filter((p) => p.some(mine)).map((p) => sig(us('wssd.v1', p) / us('raw', p)));
        ratios.push({ transport, payload: size, burst, rawUs: us('raw', cells), v1Us: us('wssd.v1', cells), ratio: sig(median(perPair)), perPair });
      }
    }
  }
  return { cells, ratios, pairs };
}
