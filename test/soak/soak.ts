// Soak: churn connections and messages against a server in a child process
// and sample its memory and handles. Each client cycle ends one of five ways:
// a clean close, a close in the middle of a frame, a protocol violation, a
// reset right after the handshake, or a socket dropped mid-handshake. The
// verdict compares the server at the end, after the churn stopped, with the
// server after warm-up: memory must not grow beyond a stated bound, and no
// connection or handle may be left behind.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { eventually } from '../helpers/poll.js';
import { encodeFrame } from '../helpers/raw-client.js';
import { describeMs, scaled } from '../helpers/timeouts.js';

export interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
  handles: number;
  /** Accepted TCP sockets still open in the server, upgraded or not. */
  sockets: number;
  connections: number;
}

export interface SoakReport {
  seconds: number;
  cycles: number;
  messages: number;
  errors: number;
  samples: Sample[];
  baseline: Sample;
  final: Sample;
}

const CA = readFileSync(new URL('../../certs/dev-ca.pem', import.meta.url));

function maskedFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  return encodeFrame({ opcode, payload, fin });
}

/** Counts complete server frames in a byte stream (server frames are unmasked). */
function countFrames(buf: Buffer): { frames: number; used: number; closeSeen: boolean } {
  let at = 0;
  let frames = 0;
  let closeSeen = false;
  for (;;) {
    if (buf.length - at < 2) break;
    let len = buf[at + 1] & 0x7f;
    let hl = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      hl = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = buf.readUInt32BE(at + 6);
      hl = 10;
    }
    if (buf.length - at < hl + len) break;
    if ((buf[at] & 0x0f) === 8) closeSeen = true;
    frames++;
    at += hl + len;
  }
  return { frames, used: at, closeSeen };
}

type Ending = 'clean' | 'mid-frame' | 'violation' | 'reset' | 'mid-handshake';
const ENDINGS: Ending[] = ['clean', 'clean', 'mid-frame', 'violation', 'reset', 'mid-handshake'];

/** One client cycle; resolves with the number of echoes received. Bounded by a 5 s timer (scaled). */
function cycle(port: number, n: number): Promise<number> {
  const ending = ENDINGS[n % ENDINGS.length];
  return new Promise((resolve) => {
    let echoes = 0;
    let settled = false;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: CA });
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(echoes);
    };
    const timer = setTimeout(finish, scaled(5000));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.once('secureConnect', () => {
      const head =
        'GET /soak HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      if (ending === 'mid-handshake') {
        // Part of the churn, not a wait: drop the socket shortly after half a head.
        socket.write(head.slice(0, 40));
        setTimeout(finish, 20);
        return;
      }
      socket.write(head);
      let buffered = Buffer.alloc(0);
      let upgraded = false;
      const messages = 1 + (n % 5);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (!upgraded) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          if (!buffered.subarray(0, 12).toString().includes('101')) return finish();
          upgraded = true;
          buffered = buffered.subarray(end + 4);
          if (ending === 'reset') return finish();
          for (let i = 0; i < messages; i++) {
            const size = [5, 200, 3000, 70000][(n + i) % 4];
            if (i % 2 === 0) socket.write(maskedFrame(2, randomBytes(size)));
            else {
              // Fragmented text with a ping between the fragments.
              const text = Buffer.from('é'.repeat(size >> 1));
              const cut = text.length >> 1;
              socket.write(maskedFrame(1, text.subarray(0, cut + (cut & 1)), false));
              socket.write(maskedFrame(9, Buffer.from('p')));
              socket.write(maskedFrame(0, text.subarray(cut + (cut & 1))));
            }
          }
        }
        const { frames, used, closeSeen } = countFrames(buffered);
        buffered = buffered.subarray(used);
        echoes += frames;
        if (closeSeen) return finish();
        if (echoes >= messages) {
          if (ending === 'clean') socket.write(maskedFrame(8, Buffer.from([0x03, 0xe8])));
          else if (ending === 'mid-frame') {
            // Churn again: drop the socket just after a partial frame.
            socket.write(maskedFrame(2, randomBytes(5000)).subarray(0, 1000));
            setTimeout(finish, 10);
          } else if (ending === 'violation') socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
        }
      });
    });
  });
}

function request(child: ChildProcess): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no sample from the server child within ${describeMs(10_000)}`)), scaled(10_000));
    const onMessage = (msg: unknown): void => {
      const m = msg as Sample & { kind: string };
      if (m.kind !== 'sample') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.send('sample');
  });
}

export async function soak(options: { seconds: number; concurrency?: number; sampleEveryMs?: number; onSample?: (s: Sample, t: number) => void }): Promise<SoakReport> {
  const child = fork(new URL('./server-child.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server child did not start within ${describeMs(20_000)}`)), scaled(20_000));
      child.once('message', (msg: unknown) => {
        clearTimeout(timer);
        resolve((msg as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    });
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    // Warm-up: the first tenth of the run (at most 20 s) fills caches, pools and JIT.
    const warmUntil = started + Math.min(20_000, options.seconds * 100);
    let cycles = 0;
    let messages = 0;
    let errors = 0;
    const concurrency = options.concurrency ?? 16;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const n = cycles++;
        try {
          // Not `messages += await …`: that reads `messages` before the await and loses other workers' counts.
          const echoes = await cycle(port, n);
          messages += echoes;
        } catch {
          errors++;
        }
      }
    };
    const samples: Sample[] = [];
    let baseline: Sample | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, options.sampleEveryMs ?? 5000));
        if (!sampling) break;
        const s = await request(child);
        samples.push(s);
        options.onSample?.(s, (performance.now() - started) / 1000);
        if (baseline === undefined && performance.now() >= warmUntil) baseline = s;
      }
    })();
    await Promise.all(Array.from({ length: concurrency }, worker));
    sampling = false;
    await sampler;
    // Close timers (1 s here) and handshake timers (2 s) still hold sockets the
    // churn left behind: the verdict is taken once the server has let go of
    // every one. A socket that never goes is the verdict's to report, with
    // its numbers, so a wait that runs out takes the sample it has.
    let final = await request(child);
    await eventually(
      async () => {
        final = await request(child);
        return final.sockets === 0 && final.connections === 0;
      },
      2000 + 3000,
      'the server holds no socket',
      100,
    ).catch(() => undefined);
    return {
      seconds: (performance.now() - started) / 1000,
      cycles,
      messages,
      errors,
      samples,
      baseline: baseline ?? samples[0] ?? final,
      final,
    };
  } finally {
    child.kill('SIGKILL');
  }
}
