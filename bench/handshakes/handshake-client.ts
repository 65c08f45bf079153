// Case 5's client side: one short-lived connection at a time — TCP (+ TLS)
// connect, for wssd the opening handshake and the closing one — fully
// handshaken, or (TLS) offering the session ticket of the loop's previous
// connection.
import tls from 'node:tls';
import { Opcode } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { closeFrame } from '../harness/client-frames.js';
import { clientContext, open, upgrade, withTimeout, type Target } from '../harness/load-client.js';

/**
 * One short-lived connection, for the handshake rate: TCP (+ TLS) connect;
 * for wssd, the opening handshake, a masked Close, the server's Close and its
 * TCP end (§7.1.1: the server closes TCP first); for a bare server that ends
 * every connection, just its end.
 */
export async function handshakeOnce(target: Target, timeoutMs = 10_000): Promise<void> {
  const { socket, rest } = await open(target, timeoutMs);
  const closed = new Promise<void>((resolve, reject) => {
    let gotClose = !target.websocket;
    const decoder = new FrameDecoder(
      {
        onFrame: (opcode) => {
          if (opcode === Opcode.Close) gotClose = true;
          else reject(new Error(`unexpected frame with opcode ${opcode} before the Close`));
        },
        onError: reject,
      },
      { requireMask: false },
    );
    socket.on('data', (chunk: Buffer) => {
      if (target.websocket) decoder.push(chunk);
      else reject(new Error('the bare server sent data'));
    });
    socket.on('error', reject);
    socket.on('close', () => (gotClose ? resolve() : reject(new Error('closed without a Close frame'))));
    if (rest.length > 0) decoder.push(rest);
  });
  if (target.websocket) socket.write(closeFrame());
  socket.resume();
  await withTimeout(closed, timeoutMs, 'closing handshake', () => socket.destroy());
}

/** What one client loop remembers between its connections. */
export interface LoopState {
  session: Buffer | undefined;
  resumed: number;
  full: number;
}

/**
 * handshakeOnce over TLS offering the loop's last session: connect, (wssd)
 * upgrade and closing handshake, or (bare) wait for the server's end. Keeps
 * the newest ticket the server sent for the loop's next connection.
 */
export async function resumedHandshakeOnce(target: Target, state: LoopState, timeoutMs: number): Promise<void> {
  const socket = tls.connect({ host: '127.0.0.1', port: target.port, secureContext: clientContext(target.ca), servername: 'localhost', ALPNProtocols: ['http/1.1'], session: state.session });
  socket.setNoDelay(true);
  socket.on('session', (session: Buffer) => (state.session = session));
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
  closed.catch(() => {});
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
      }),
      timeoutMs,
      `resumed connect to port ${target.port}`,
    );
    if (socket.isSessionReused()) state.resumed++;
    else state.full++;
    if (target.websocket) {
      const rest = await upgrade(socket, target.port, timeoutMs);
      let gotClose = false;
      const decoder = new FrameDecoder(
        {
          onFrame: (opcode) => {
            if (opcode === Opcode.Close) gotClose = true;
          },
          onError: () => socket.destroy(),
        },
        { requireMask: false },
      );
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      if (rest.length > 0) decoder.push(rest);
      socket.write(closeFrame());
      socket.resume();
      await withTimeout(closed, timeoutMs, 'closing handshake');
      if (!gotClose) throw new Error('closed without a Close frame');
    } else {
      socket.resume();
      await withTimeout(closed, timeoutMs, 'the bare server ending');
    }
  } finally {
    socket.destroy();
  }
}
