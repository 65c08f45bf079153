// Case 11's pure pieces (bench/client/): its wssd.v1 load client — the
// subscribe command it sends, read by the server's own session, and the
// receiver that reads publications out of the server's own `pub` push
// (v1Form) — and the helpers its tables and checks rest on: the fixed pace,
// the CPU per message less the idle baseline, the exactly-once-in-order
// check of a resume, the server API bodies it posts.
import { describe, expect, it } from 'vitest';
import { cpuPerMessage, publicationsDue, rawPath, resumeBatchBody, resumeData, resumeSeq, sequenceProblem } from '../../../bench/client/client-requests.js';
import { base64Length, decodeBase64Into, envelopeHead, envelopeLength, isSubscribedReply, subscribeCommand, V1PublicationReceiver } from '../../../bench/client/v1-frames.js';
import { chunk } from '../../../bench/harness/client-frames.js';
import { MIN_PUBLICATION_PAYLOAD, PublicationStats, publicationPayload } from '../../../bench/harness/publications.js';
import { call, type ApiBackend } from '../../../src/gateway/api/api-methods.js';
import { v1Form } from '../../../src/gateway/v1/frames.js';
import { V1Session, type V1Connection, type V1Services } from '../../../src/gateway/v1/session.js';
import { Opcode } from '../../../src/protocol/constants.js';
import { encodeFrame } from '../../../src/protocol/frame-encoder.js';
import { Publication, type PublishData } from '../../../src/pubsub/publication.js';
import type { StreamPosition } from '../../../src/pubsub/history.js';

const TOPIC = 'bench:v1';

/** Publications first … first + count − 1 as the server frames them for a wssd.v1 subscriber, back to back. */
function pushes(first: number, count: number, size: number, topic = TOPIC): Buffer {
  const frames: Buffer[] = [];
  for (let seq = first; seq < first + count; seq++) {
    const form = v1Form(Publication.of(topic, publicationPayload(seq, size)));
    frames.push(encodeFrame(Opcode.Text, true, form.payload));
  }
  return Buffer.concat(frames);
}

function receive(bytes: Buffer, chunkSize: number, size: number, firstSeq = 0, topic = TOPIC): { stats: PublicationStats; receiver: V1PublicationReceiver } {
  const stats = new PublicationStats(1024);
  stats.recording = true;
  const receiver = new V1PublicationReceiver(topic, size, stats, true, firstSeq);
  for (const piece of chunk(bytes, chunkSize)) receiver.push(piece);
  return { stats, receiver };
}

describe('bench case 11: the wssd.v1 load client reads the server’s own pub pushes', () => {
  for (const size of [MIN_PUBLICATION_PAYLOAD, 14, 15, 32, 1000, 1001, 1024]) {
    it(`${size} B publications: the envelope's length and head are the server's, and each is read whole or split at every chunk size`, () => {
      const form = v1Form(Publication.of(TOPIC, publicationPayload(7, size)));
      expect(form.binary).toBe(false);
      expect(form.payload.length).toBe(envelopeLength(TOPIC, size));
      expect(form.payload.subarray(0, envelopeHead(TOPIC).length)).toEqual(envelopeHead(TOPIC));
      const bytes = pushes(0, 12, size);
      for (const chunkSize of [1, 2, 3, 7, 16, 40, 97, bytes.length]) {
        const { stats, receiver } = receive(bytes, chunkSize, size);
        expect(stats.error).toBeUndefined();
        expect(receiver.next).toBe(12);
        expect(stats.received).toBe(12);
        expect(stats.latencies.count).toBe(12);
        for (const l of stats.latencies.recorded()) expect(l).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('a missing publication, a repeat, a wrong check byte, another topic, a binary frame each fail the cell', () => {
    const size = 32;
    const gap = Buffer.concat([pushes(0, 2, size), pushes(3, 1, size)]);
    expect(receive(gap, 64, size).stats.error?.message).toMatch(/publications 2\.\.2 missing/);
    const repeat = Buffer.concat([pushes(0, 2, size), pushes(1, 1, size)]);
    expect(receive(repeat, 64, size).stats.error?.message).toMatch(/out of order/);
    // The last byte of publication 0 changed: its last base64 quantum differs.
    const payload = publicationPayload(0, size);
    payload[size - 1] ^= 0xff;
    const broken = encodeFrame(Opcode.Text, true, v1Form(Publication.of(TOPIC, payload)).payload);
    expect(receive(broken, 64, size).stats.error?.message).toMatch(/last byte is wrong/);
    expect(receive(pushes(0, 1, size, 'bench:vX'), 64, size).stats.error?.message).toMatch(/not a pub push of this topic/);
    expect(receive(encodeFrame(Opcode.Binary, true, publicationPayload(0, size)), 64, size).stats.error?.message).toMatch(/unexpected frame/);
  });

  it('decodes base64 as Buffer does, every length from 0 to 64, and refuses what is not base64', () => {
    const into = Buffer.alloc(64);
    for (let n = 0; n <= 64; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n * 11) & 0xff));
      const text = Buffer.from(bytes.toString('base64'), 'latin1');
      expect(text.length).toBe(base64Length(n));
      const written = decodeBase64Into(text, 0, text.length / 4, into);
      expect(written).toBe(n);
      expect(into.subarray(0, n)).toEqual(bytes);
    }
    expect(decodeBase64Into(Buffer.from('ab!d'), 0, 1, into)).toBe(-1);
  });

  it("its subscribe command is one the server's session takes, and the reply it answers is the one the client waits for", () => {
    const sent: string[] = [];
    const subscribed: string[] = [];
    const connection: V1Connection = {
      id: '0'.repeat(20),
      user: undefined,
      identity: undefined,
      sendFrame: (text) => sent.push(text),
      subscribeForClient: (topic: string, options?: { since?: StreamPosition }) => {
        expect(options?.since).toBeUndefined();
        subscribed.push(topic);
        return 'subscribed';
      },
      unsubscribeForClient: () => true,
      isSubscribed: () => false,
      expired: () => {},
    };
    const unused = (): never => {
      throw new Error('not used');
    };
    const services: V1Services = {
      rules: { subscribe: ['bench:*'], publish: [] },
      subscribeProxy: undefined,
      publish: unused,
      hasHistory: () => false,
      presence: unused,
      history: unused,
      rpc: unused,
      verifyToken: unused,
      maxPending: 64,
      clock: { now: () => 0, setTimeout: unused, clearTimeout: () => {} } as unknown as V1Services['clock'],
    };
    new V1Session(connection, services).receive(subscribeCommand(TOPIC), false);
    expect(subscribed).toEqual([TOPIC]);
    expect(sent).toHaveLength(1);
    expect(isSubscribedReply(sent[0])).toBe(true);
    expect(isSubscribedReply('{"id":1,"error":{"code":"permission_denied","message":"no"}}')).toBe(false);
    expect(isSubscribedReply('{"id":2,"result":{"recovered":true,"replayed":0}}')).toBe(false);
    expect(isSubscribedReply('not json')).toBe(false);
  });
});

describe('bench case 11: pace, CPU per message, exactly once in order, API bodies', () => {
  it('publishes at a fixed pace: what is due since the cell started, never negative, at most the cap at once', () => {
    expect(publicationsDue(50, 0, 0)).toBe(0);
    expect(publicationsDue(50, 19.9, 0)).toBe(0);
    expect(publicationsDue(50, 20, 0)).toBe(1);
    expect(publicationsDue(50, 1000, 30)).toBe(20);
    expect(publicationsDue(50, 1000, 60)).toBe(0);
    expect(publicationsDue(5000, 1000, 0, 16)).toBe(16);
    // In bursts: 60/s by 4 is a burst every 66.7 ms, all 4 due at once.
    expect(publicationsDue(60, 66, 0, Infinity, 4)).toBe(0);
    expect(publicationsDue(60, 67, 0, Infinity, 4)).toBe(4);
    expect(publicationsDue(60, 134, 4, Infinity, 4)).toBe(4);
    expect(publicationsDue(60, 1000, 0, Infinity, 4)).toBe(60);
  });

  it('CPU per message is the window less the idle baseline over as long, ÷ the messages', () => {
    // 2 s window, 40,000 µs; idle 100 µs per 500 ms → 400 µs over 2 s; 1,000 messages.
    expect(cpuPerMessage(40_000, 2000, 100, 500, 1000)).toBeCloseTo(39.6);
    expect(cpuPerMessage(40_000, 2000, 0, 0, 1000)).toBe(40);
    expect(cpuPerMessage(1, 1, 0, 1, 0)).toBeNaN();
  });

  it('a resumed sequence passes only with every publication once, in order', () => {
    const seq = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
    expect(sequenceProblem(seq(-1, 1011), -1, 1011)).toBeUndefined();
    expect(sequenceProblem([...seq(-1, 500), 499, ...seq(500, 1011)], -1, 1011)).toMatch(/499 delivered twice/);
    expect(sequenceProblem([...seq(-1, 500), ...seq(501, 1011)], -1, 1011)).toMatch(/500\.\.500 missing/);
    expect(sequenceProblem([...seq(-1, 500), 501, 500, ...seq(502, 1011)], -1, 1011)).toMatch(/missing before 501/);
    expect(sequenceProblem(seq(-1, 1000), -1, 1011)).toMatch(/11 publications missing/);
    expect(sequenceProblem(seq(-1, 1012), -1, 1011)).toMatch(/1013 delivered, expected 1012/);
  });

  it('a resume publication carries its sequence number as text', () => {
    expect(resumeSeq(resumeData(-1))).toBe(-1);
    expect(resumeSeq(resumeData(1009))).toBe(1009);
    expect(resumeSeq('1009')).toBeNaN();
    expect(resumeSeq(new Uint8Array(3))).toBeNaN();
  });

  it("POST /api/batch: one publish command per sequence number, in order, as text, read by the API's method table", async () => {
    const published: { topic: string; data: PublishData; binary: boolean | undefined }[] = [];
    const unused = (): never => {
      throw new Error('not used by the bench');
    };
    const backend: ApiBackend = {
      options: { maxTopicLength: 256 },
      publishAcknowledged: async (topic, data, options) => {
        published.push({ topic, data, binary: options?.binary });
        return undefined;
      },
      send: unused,
      subscribe: unused,
      unsubscribe: unused,
      disconnect: unused,
      userConnections: unused,
      totalSubscriberCount: unused,
      presence: unused,
      history: unused,
      nodes: unused,
    };
    const body = JSON.parse(resumeBatchBody('bench:resume-1', 10, 3)) as { commands: { method: string; params: unknown }[] };
    for (const command of body.commands) await call(backend, command.method, command.params);
    expect(published.map((p) => [p.topic, Buffer.isBuffer(p.data) ? p.data.toString() : p.data, p.binary === true])).toEqual([
      ['bench:resume-1', 'seq 10', false],
      ['bench:resume-1', 'seq 11', false],
      ['bench:resume-1', 'seq 12', false],
    ]);
  });

  it('a raw subscriber names its topic in its path', () => {
    expect(new URLSearchParams(rawPath('bench:a b&c').slice(2)).getAll('topic')).toEqual(['bench:a b&c']);
  });
});
