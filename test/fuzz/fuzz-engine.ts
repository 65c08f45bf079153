// A seeded fuzzer for the sans-I/O core. It drives WebSocketSession (frame
// decoder + message assembler + closing handshake) with frame streams that
// are valid, mutated or random, cut into random chunks, and the request-head
// reader with mutated heads. It checks invariants rather than outputs:
//   - no exception escapes the core;
//   - every failure is a ProtocolError whose close code is one RFC 6455 names
//     for it (1002, 1007, 1009), and the last frame written is that Close;
//   - no delivered message exceeds the limit, and nothing is delivered after a failure;
//   - an unmutated stream delivers exactly the messages that were sent, in order,
//     whatever the chunking (a differential check against the generator);
//   - a head's verdict does not depend on how it was chunked.
// With `deflate`, the session has permessage-deflate negotiated and half the
// messages are compressed (RSV1, the 00 00 ff ff tail stripped), by a client
// that starts each message afresh or, with `takeover`, one that keeps its
// window; mutations then also hit compressed bytes, put RSV1 on
// continuations and add small frames that inflate past the limit.
import { isUtf8 } from 'node:buffer';
import zlib from 'node:zlib';
import { DeflateContexts } from '../../src/extensions/deflate-contexts.js';
import { deflateDefaults, negotiateDeflate } from '../../src/extensions/permessage-deflate.js';
import { systemClock } from '../../src/io/clock.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { FrameCollector } from '../../src/protocol/frame-sink.js';
import { SessionState, WebSocketSession, type SessionHost } from '../../src/protocol/session.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { parseRequestHead, RequestHeadReader } from '../../src/http/request-head.js';
import { encodeFrame } from '../helpers/raw-client.js';
import { prng, randInt } from './prng.js';

const LIMIT = 64 * 1024;
const ALLOWED_CLOSE = new Set([1002, 1007, 1009]);

interface Sent {
  opcode: number;
  data: Buffer;
}

/** A masked client frame (test/helpers' builder, independent of src's encoder), its key from the seeded PRNG. */
function frame(rand: () => number, opcode: number, fin: boolean, payload: Buffer, rsv = 0): Buffer {
  const key = Buffer.from([randInt(rand, 0, 255), randInt(rand, 0, 255), randInt(rand, 0, 255), randInt(rand, 0, 255)]);
  return encodeFrame({ opcode, fin, payload, rsv, mask: key });
}

function randomText(rand: () => number, maxBytes: number): Buffer {
  const alphabet = ['a', 'é', '€', '𝄞', ' ', 'Z', '\u0000', '中'];
  let s = '';
  const n = randInt(rand, 0, maxBytes >> 2);
  for (let i = 0; i < n; i++) s += alphabet[randInt(rand, 0, alphabet.length - 1)];
  return Buffer.from(s, 'utf8');
}

function randomBytes(rand: () => number, max: number): Buffer {
  const n = randInt(rand, 0, max);
  const b = Buffer.alloc(n);
  // 256 random bytes, repeated: large payloads stay cheap to make.
  const m = Math.min(n, 256);
  for (let i = 0; i < m; i++) b[i] = randInt(rand, 0, 255);
  for (let i = m; i < n; i += m) b.copy(b, i, 0, Math.min(m, n - i));
  return b;
}

export interface FuzzDeflate {
  /** The client keeps its window between messages (else each message is compressed afresh). */
  takeover: boolean;
}

const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** A client's compressor: each message deflated with the client's earlier plaintext as its window (takeover) or none; tail stripped (§7.2.1). */
class ClientDeflater {
  private window = Buffer.alloc(0);
  constructor(private readonly takeover: boolean) {}
  deflate(data: Buffer): Buffer {
    const out = this.takeover && this.window.length > 0 ? zlib.deflateRawSync(data, { ...SYNC, dictionary: this.window }) : zlib.deflateRawSync(data, SYNC);
    if (this.takeover) {
      const all = Buffer.concat([this.window, data]);
      this.window = all.subarray(Math.max(0, all.length - 32768));
    }
    return out.subarray(0, out.length - 4);
  }
}

/** A valid stream: messages (some fragmented, with pings between fragments; with deflate, half of them compressed). */
function validStream(rand: () => number, deflate?: FuzzDeflate): { bytes: Buffer; sent: Sent[] } {
  const parts: Buffer[] = [];
  const sent: Sent[] = [];
  const client = deflate === undefined ? undefined : new ClientDeflater(deflate.takeover);
  const messages = randInt(rand, 1, 6);
  for (let m = 0; m < messages; m++) {
    const text = rand() < 0.5;
    const data = text ? randomText(rand, rand() < 0.1 ? 3000 : 200) : randomBytes(rand, rand() < 0.1 ? 60000 : 300);
    sent.push({ opcode: text ? 1 : 2, data });
    const compressed = client !== undefined && rand() < 0.5;
    const body = compressed ? client.deflate(data) : data;
    const pieces = rand() < 0.6 ? 1 : randInt(rand, 2, 5);
    let at = 0;
    for (let p = 0; p < pieces; p++) {
      const end = p === pieces - 1 ? body.length : randInt(rand, at, body.length);
      parts.push(frame(rand, p === 0 ? (text ? 1 : 2) : 0, p === pieces - 1, body.subarray(at, end), compressed && p === 0 ? 4 : 0));
      at = end;
      if (rand() < 0.2) parts.push(frame(rand, 9, true, randomBytes(rand, 125)));
    }
  }
  return { bytes: Buffer.concat(parts), sent };
}

/** Hostile compressed frames: corrupt deflate, RSV1 on a continuation, a few bytes that inflate past the limit. */
function mutateCompressed(rand: () => number, bytes: Buffer): Buffer {
  const kind = randInt(rand, 0, 2);
  if (kind === 0) return Buffer.concat([bytes, frame(rand, rand() < 0.5 ? 1 : 2, true, randomBytes(rand, 40), 4)]);
  if (kind === 1) {
    const body = new ClientDeflater(false).deflate(Buffer.from('a continuation must not carry RSV1'));
    return Buffer.concat([bytes, frame(rand, 1, false, body.subarray(0, 4), 4), frame(rand, 0, true, body.subarray(4), 4)]);
  }
  const bomb = new ClientDeflater(false).deflate(Buffer.alloc(LIMIT + randInt(rand, 1, 4096)));
  return Buffer.concat([bytes, frame(rand, 2, true, bomb, 4)]);
}

/** Bytes to mutate into hostile input: flips, truncations, splices, garbage. */
function mutate(rand: () => number, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const kind = randInt(rand, 0, 5);
  if (kind === 0 && out.length > 0) {
    for (let i = randInt(rand, 1, 8); i > 0; i--) out[randInt(rand, 0, out.length - 1)] ^= 1 << randInt(rand, 0, 7);
    return out;
  }
  if (kind === 1) return out.subarray(0, randInt(rand, 0, out.length));
  if (kind === 2) return randomBytes(rand, 200);
  if (kind === 3) {
    // A hostile header: random first two bytes and extended length.
    const h = Buffer.alloc(14);
    for (let i = 0; i < 14; i++) h[i] = randInt(rand, 0, 255);
    return Buffer.concat([out, h, randomBytes(rand, 64)]);
  }
  if (kind === 4) {
    // Control-frame edge cases and close payloads.
    const op = [8, 9, 10, 0xb, 3][randInt(rand, 0, 4)];
    return Buffer.concat([out, frame(rand, op, rand() < 0.8, randomBytes(rand, rand() < 0.5 ? 125 : 130), rand() < 0.1 ? randInt(rand, 1, 7) : 0)]);
  }
  // Invalid UTF-8 bytes spliced into a text frame.
  return Buffer.concat([out, frame(rand, 1, rand() < 0.5, Buffer.from([0xce, 0xbd, 0xed, 0xa0, 0x80, 0xf4, 0x90].slice(randInt(rand, 0, 5))))]);
}

function chunks(rand: () => number, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = rand() < 0.3 ? randInt(rand, 1, 3) : randInt(rand, 1, 4096);
    out.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return out;
}

class RecordingHost extends FrameCollector implements SessionHost {
  messages: Sent[] = [];
  error: ProtocolError | undefined;
  closed = false;
  onMessage(data: Buffer, binary: boolean): void {
    if (this.closed) throw new Error('message delivered after close');
    if (data.length > LIMIT) throw new Error(`message of ${data.length} bytes over the ${LIMIT}-byte limit`);
    if (!binary && !isUtf8(data)) throw new Error('invalid UTF-8 text delivered');
    this.messages.push({ opcode: binary ? 2 : 1, data: Buffer.from(data) });
  }
  onPing(): void {}
  onPong(): void {}
  onCloseSent(): void {}
  onClosed(error: ProtocolError | undefined): void {
    this.closed = true;
    this.error = error;
  }
}

export interface FuzzStats {
  inputs: number;
  failures: Record<string, number>;
}

/** Runs `iterations` frame-stream inputs from `seed`; throws with the seed on a broken invariant. */
export function fuzzSession(seed: number, iterations: number, stats: FuzzStats, deflate?: FuzzDeflate): void {
  // One server's contexts for every input, as in a server: its shared inflater must survive every failure.
  const options = { ...deflateDefaults, clientNoContextTakeover: deflate?.takeover !== true, idleRelease: 0 };
  const contexts = deflate === undefined ? undefined : new DeflateContexts(options, systemClock);
  const params = deflate === undefined ? undefined : negotiateDeflate('permessage-deflate', options)?.params;
  if (deflate !== undefined && params === undefined) throw new Error('permessage-deflate not negotiated');
  for (let it = 0; it < iterations; it++) {
    const rand = prng(seed + it * 7919);
    const { bytes, sent } = validStream(rand, deflate);
    const hostile = rand() < 0.7;
    const input = !hostile ? bytes : deflate !== undefined && rand() < 0.3 ? mutateCompressed(rand, bytes) : mutate(rand, bytes);
    const host = new RecordingHost();
    const compression = contexts === undefined || params === undefined ? undefined : contexts.codec(params);
    const session = new WebSocketSession(host, host, { maxPayload: LIMIT, maxFragments: 64, compression });
    try {
      for (const c of chunks(rand, input)) session.receive(c);
    } catch (error) {
      throw new Error(`seed ${seed + it * 7919}: exception escaped: ${String(error)}`);
    }
    stats.inputs++;
    if (compression !== undefined) {
      session.transportClosed();
      if (compression.holdsContext) throw new Error(`seed ${seed + it * 7919}: a zlib context outlived its connection`);
    }
    if (host.error !== undefined) {
      const e = host.error;
      if (!(e instanceof ProtocolError) || !ALLOWED_CLOSE.has(e.closeCode)) {
        throw new Error(`seed ${seed + it * 7919}: failure without an RFC close code: ${String(e)}`);
      }
      stats.failures[e.code] = (stats.failures[e.code] ?? 0) + 1;
      const last = host.written[host.written.length - 1];
      if (last === undefined || last[0] !== 0x88 || last.readUInt16BE(2) !== e.closeCode) {
        throw new Error(`seed ${seed + it * 7919}: last frame written is not Close ${e.closeCode}`);
      }
      if (session.state !== SessionState.Closed) throw new Error(`seed ${seed + it * 7919}: failed session not Closed`);
    }
    if (!hostile) {
      if (host.error !== undefined) throw new Error(`seed ${seed + it * 7919}: valid stream failed: ${host.error.message}`);
      if (host.messages.length !== sent.length) {
        throw new Error(`seed ${seed + it * 7919}: ${host.messages.length} messages delivered, ${sent.length} sent`);
      }
      for (let i = 0; i < sent.length; i++) {
        if (host.messages[i].opcode !== sent[i].opcode || !host.messages[i].data.equals(sent[i].data)) {
          throw new Error(`seed ${seed + it * 7919}: message ${i} differs`);
        }
      }
    }
  }
}

const GOOD_HEAD =
  'GET /chat?x=1 HTTP/1.1\r\nHost: localhost:8443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n';

function headVerdict(parts: Buffer[]): string {
  const reader = new RequestHeadReader({ maxHeadBytes: 2048, maxHeaderCount: 20, maxLineBytes: 512 });
  try {
    for (let i = 0; i < parts.length; i++) {
      if (reader.push(parts[i])) {
        const head = parseRequestHead(reader.head ?? Buffer.alloc(0));
        // Bytes after the head: the rest of this chunk and every later one.
        let rest = reader.rest?.length ?? 0;
        for (let j = i + 1; j < parts.length; j++) rest += parts[j].length;
        return `ok ${head.method} ${head.path} ${Object.keys(head.headers).length} rest=${rest}`;
      }
    }
    return 'incomplete';
  } catch (error) {
    if (error instanceof HandshakeError && error.status >= 400 && error.status < 600) return `refused ${error.status}`;
    throw error;
  }
}

/** Mutated request heads: the verdict must not depend on chunking, and only HandshakeErrors may be thrown. */
export function fuzzHead(seed: number, iterations: number, stats: FuzzStats): void {
  const good = Buffer.from(GOOD_HEAD, 'latin1');
  for (let it = 0; it < iterations; it++) {
    const s = seed + it * 104729;
    const rand = prng(s);
    let input: Buffer = Buffer.from(good);
    const n = randInt(rand, 0, 4);
    for (let k = 0; k < n; k++) {
      const kind = randInt(rand, 0, 3);
      if (kind === 0 && input.length > 0) input[randInt(rand, 0, input.length - 1)] = randInt(rand, 0, 255);
      else if (kind === 1) {
        const at = randInt(rand, 0, input.length);
        input = Buffer.concat([input.subarray(0, at), Buffer.from(['\r\n', '\n', ' ', ':', '\0', 'X: y\r\n', ','.repeat(300)][randInt(rand, 0, 6)], 'latin1'), input.subarray(at)]);
      } else if (kind === 2) {
        const at = randInt(rand, 0, input.length);
        input = Buffer.concat([input.subarray(0, at), input.subarray(Math.min(input.length, at + randInt(rand, 1, 10)))]);
      } else {
        input = Buffer.concat([input, randomBytes(rand, 50)]);
      }
    }
    let whole: string;
    let split: string;
    try {
      whole = headVerdict([input]);
      split = headVerdict(chunks(rand, input));
    } catch (error) {
      throw new Error(`head seed ${s}: exception escaped: ${String(error)}`);
    }
    if (whole !== split) throw new Error(`head seed ${s}: whole "${whole}" but split "${split}"`);
    stats.inputs++;
    const key = whole.split(' ').slice(0, 2).join(' ');
    stats.failures[key] = (stats.failures[key] ?? 0) + 1;
  }
}
