// The load client of the end-to-end cases: hand-written, in the bench's own
// process, so that it spends as little as it can per message and nothing of
// wssd's Connection is on both sides of the wire. It connects over TLS (the
// dev CA trusted, SNI "localhost") or TCP and does the opening handshake
// itself for wssd; what it then sends and checks is each case's (echo streams
// in case 4, short connections in case 5, publication receivers in 7 and 9).
//
// As RFC 6455 §5.3 requires of a client, its frames are masked
// (client-frames.ts); each connection's frame is built (and masked) once and
// its bytes re-sent, which costs the client nothing per message — the server
// still unmasks each one.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

export interface Target {
  port: number;
  /** TLS with `ca` trusted, or plain TCP. */
  tls: boolean;
  /** wssd: do the opening handshake and speak frames; a bare echo: raw bytes. */
  websocket: boolean;
  ca: Buffer;
}

// One client context per CA: passing `ca` to tls.connect would build a new
// context (parse the PEM, fill an X509 store) for every connection, which
// costs the client more than the whole handshake.
const contexts = new Map<Buffer, tls.SecureContext>();
export function clientContext(ca: Buffer): tls.SecureContext {
  let context = contexts.get(ca);
  if (context === undefined) {
    context = tls.createSecureContext({ ca });
    contexts.set(ca, context);
  }
  return context;
}

const HOST = '127.0.0.1';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 20 ms until it finds nothing wrong (undefined); fails with its last finding after 10 s. */
export async function settle(what: string, check: () => Promise<string | undefined>): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const problem = await check();
    if (problem === undefined) return;
    if (performance.now() > deadline) throw new Error(`${what}: ${problem} after 10 s`);
    await sleep(20);
  }
}

/** Rejects after `ms` (and runs `onTimeout`) unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** TCP (and TLS) connect; resolves once the TLS handshake is done. */
export function connect(target: Target, timeoutMs = 10_000): Promise<net.Socket> {
  const socket = target.tls
    ? tls.connect({ host: HOST, port: target.port, secureContext: clientContext(target.ca), servername: 'localhost', ALPNProtocols: ['http/1.1'] })
    : net.connect({ host: HOST, port: target.port });
  socket.setNoDelay(true);
  const ready = new Promise<net.Socket>((resolve, reject) => {
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      // Until a user of the socket listens for errors, an error just ends it (its 'close' tells).
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
  return withTimeout(ready, timeoutMs, `connect to port ${target.port}`, () => socket.destroy());
}

/**
 * The client's opening handshake (§4.1): sends the upgrade request, reads the
 * response head, checks the 101 and Sec-WebSocket-Accept — and, when it
 * offers a subprotocol (§4.1, Sec-WebSocket-Protocol), that the server chose
 * it. Leaves the socket paused; returns any bytes that came after the head.
 */
export function upgrade(socket: net.Socket, port: number, timeoutMs = 10_000, path = '/', protocol?: string): Promise<Buffer> {
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`}\r\n`,
  );
  const done = new Promise<Buffer>((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, rest?: Buffer): void => {
      socket.off('data', onData);
      socket.off('error', finish);
      socket.off('end', onEnd);
      if (error !== undefined) reject(error);
      else resolve(rest ?? Buffer.alloc(0));
    };
    const onEnd = (): void => finish(new Error('connection ended during the handshake'));
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16 * 1024) finish(new Error('response head over 16 KiB'));
        return;
      }
      // Whatever follows is the first frames: hold it until the caller listens.
      socket.pause();
      const text = head.subarray(0, end).toString('latin1');
      const lines = text.split('\r\n');
      if (!/^HTTP\/1\.1 101 /.test(lines[0])) return finish(new Error(`handshake refused: ${lines[0]}`));
      const got = lines.find((l) => l.toLowerCase().startsWith('sec-websocket-accept:'));
      if (got === undefined || got.slice(got.indexOf(':') + 1).trim() !== accept) return finish(new Error('wrong Sec-WebSocket-Accept'));
      if (protocol !== undefined) {
        const chosen = lines.find((l) => l.toLowerCase().startsWith('sec-websocket-protocol:'));
        if (chosen === undefined || chosen.slice(chosen.indexOf(':') + 1).trim() !== protocol) return finish(new Error(`the server did not choose the subprotocol ${protocol}`));
      }
      finish(undefined, head.subarray(end + 4));
    };
    socket.on('data', onData);
    socket.on('error', finish);
    socket.on('end', onEnd);
  });
  return withTimeout(done, timeoutMs, 'opening handshake', () => socket.destroy());
}

/** Connect, and for wssd upgrade (offering `protocol`, if given); resolves with the socket (paused) and any bytes past the 101. */
export async function open(target: Target, timeoutMs = 10_000, path = '/', protocol?: string): Promise<{ socket: net.Socket; rest: Buffer }> {
  const socket = await connect(target, timeoutMs);
  try {
    const rest = target.websocket ? await upgrade(socket, target.port, timeoutMs, path, protocol) : Buffer.alloc(0);
    if (!target.websocket) socket.pause();
    return { socket, rest };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Opens `n` connections (on `path`, offering `protocol` if given), at most `parallel` handshakes at a time. Closes them all if one fails. */
export async function openMany(target: Target, n: number, parallel: number, path = '/', protocol?: string): Promise<{ socket: net.Socket; rest: Buffer }[]> {
  const opened: { socket: net.Socket; rest: Buffer }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      opened.push(await open(target, 10_000, path, protocol));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  } catch (error) {
    await closeAll(opened.map((o) => o.socket));
    throw error;
  }
  return opened;
}

/** Destroys the sockets and waits (≤ 5 s) until all have closed. */
export async function closeAll(sockets: net.Socket[]): Promise<void> {
  const closed = sockets.map((s) => (s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()))));
  for (const s of sockets) s.destroy();
  await withTimeout(Promise.all(closed), 5000, 'closing sockets').catch(() => {});
}
