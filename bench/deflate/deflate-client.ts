// Case 8's load client: its own, as it negotiates permessage-deflate (it
// offers what Chrome offers) and reads the extension the server answers;
// then it keeps a window of precomputed frames in flight per connection and
// only parses the replies' headers, so it stays cheap.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const ca = readFileSync(new URL('../../certs/dev-ca.pem', import.meta.url));

export interface Conn {
  socket: tls.TLSSocket;
  extensions: string;
}

export async function openConn(port: number, offer: boolean): Promise<Conn> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (offer ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
      '\r\n',
  );
  const head = await new Promise<string>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve(got.subarray(0, end).toString('latin1'));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  if (!head.startsWith('HTTP/1.1 101') || !head.includes(accept)) throw new Error(`bad handshake: ${head}`);
  const ext = /sec-websocket-extensions: *([^\r]*)/i.exec(head);
  return { socket, extensions: ext?.[1] ?? '' };
}

/** Keeps `window` messages in flight on one connection; counts replies and the wire bytes of their payloads. */
export class Pump {
  messages = 0;
  wirePayload = 0;
  private buffered = Buffer.alloc(0);
  private next = 0;
  running = true;
  constructor(
    private readonly conn: Conn,
    /** Frames sent in turn: distinct messages, so the server's window cannot just repeat the last one. */
    private readonly frames: readonly Buffer[],
    window: number,
  ) {
    this.next = Math.floor(Math.random() * frames.length);
    conn.socket.on('data', (c: Buffer) => this.onData(c));
    conn.socket.resume();
    for (let i = 0; i < window; i++) this.send();
  }
  private send(): void {
    this.conn.socket.write(this.frames[this.next]);
    this.next = (this.next + 1) % this.frames.length;
  }
  private onData(chunk: Buffer): void {
    let buf = this.buffered.length > 0 ? Buffer.concat([this.buffered, chunk]) : chunk;
    let pos = 0;
    let replies = 0;
    while (buf.length - pos >= 2) {
      let len = buf[pos + 1] & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - pos < 4) break;
        len = buf.readUInt16BE(pos + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - pos < 10) break;
        len = Number(buf.readBigUInt64BE(pos + 2));
        head = 10;
      }
      if (buf.length - pos < head + len) break;
      pos += head + len;
      this.messages++;
      this.wirePayload += len;
      replies++;
    }
    this.buffered = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
    if (this.running) for (let i = 0; i < replies; i++) this.send();
  }
}
