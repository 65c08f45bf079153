// Starts an in-process wssd server on an ephemeral loopback port, over TLS
// (the dev certificate) or plain TCP, with a logger that records every line,
// and keeps a record of each server-side Connection so a test can look at
// what the server saw (messages, errors, its 'close' event).
import { readFileSync } from 'node:fs';
import { createServer, type Connection, type Logger, type ServerOptions, type UpgradeRequest, type WebSocketServer } from '../../src/index.js';
import { CERTS_DIR, RawClient, type ConnectOptions, type RequestOptions } from './raw-client.js';
import { describeMs, scaled } from './timeouts.js';

export const DEV_CERT = readFileSync(`${CERTS_DIR}dev-cert.pem`);
export const DEV_KEY = readFileSync(`${CERTS_DIR}dev-key.pem`);

export interface Mode {
  name: 'wss' | 'ws';
  tls: boolean;
}

export const TLS_MODE: Mode = { name: 'wss', tls: true };
export const PLAIN_MODE: Mode = { name: 'ws', tls: false };
/** For describe.each: every test in such a block runs over wss:// and ws://. */
export const MODES: readonly Mode[] = [TLS_MODE, PLAIN_MODE];

type LogFields = Parameters<Logger['info']>[1];

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

export class CapturingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  info(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'error', message, fields });
  }
  lines(level?: LogEntry['level']): string[] {
    return this.entries.filter((e) => level === undefined || e.level === level).map((e) => e.message);
  }
}

/** What the server side of one connection did. */
export interface ServerSide {
  connection: Connection;
  request: UpgradeRequest;
  messages: Array<{ data: string | Buffer; isBinary: boolean }>;
  errors: Error[];
  /** The Connection's 'close' event. */
  closed: Promise<{ code: number; reason: string }>;
}

export interface TestServer {
  server: WebSocketServer;
  mode: Mode;
  port: number;
  url: string;
  logs: CapturingLogger;
  /** Every accepted connection, in order. */
  accepted: ServerSide[];
  /** TCP (+TLS) connection, no handshake yet. */
  connect(options?: Partial<ConnectOptions>): Promise<RawClient>;
  /** Connect and complete a valid handshake. */
  open(request?: RequestOptions, options?: Partial<ConnectOptions>): Promise<RawClient>;
  /** The server side of a client's connection (matched by the client's local port); timeoutMs is scaled. */
  serverSide(client: RawClient, timeoutMs?: number): Promise<ServerSide>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<ServerOptions> {
  /** Echo every message back with its type (default true). */
  echo?: boolean;
}

export async function startServer(mode: Mode, options: StartOptions = {}): Promise<TestServer> {
  const { echo = true, ...rest } = options;
  const logs = new CapturingLogger();
  const server = createServer({
    host: '127.0.0.1',
    port: 0,
    logger: logs,
    ...(mode.tls ? { cert: DEV_CERT, key: DEV_KEY } : { plain: true }),
    // No heartbeat pings unless a test asks: tests read frames in exact order.
    pingInterval: 0,
    ...rest,
  });
  const accepted: ServerSide[] = [];
  const waiters = new Set<() => void>();
  const clients = new Set<RawClient>();
  server.on('connection', (connection, request) => {
    const side: ServerSide = {
      connection,
      request,
      messages: [],
      errors: [],
      closed: new Promise((resolve) => connection.once('close', (code, reason) => resolve({ code, reason }))),
    };
    connection.on('error', (error) => side.errors.push(error));
    connection.on('message', (data, isBinary) => {
      side.messages.push({ data, isBinary });
      if (echo) connection.send(data, { binary: isBinary });
    });
    accepted.push(side);
    for (const w of [...waiters]) w();
  });
  const address = await server.listen();
  const host = options.host ?? '127.0.0.1';
  const connectTo = async (o: Partial<ConnectOptions> = {}): Promise<RawClient> => {
    const client = await RawClient.connect({ port: address.port, host, tls: mode.tls, ...o });
    clients.add(client);
    client.socket.once('close', () => clients.delete(client));
    return client;
  };
  return {
    server,
    mode,
    port: address.port,
    url: address.url,
    logs,
    accepted,
    connect: connectTo,
    async open(request, o) {
      const client = await connectTo(o);
      try {
        await client.upgrade(request);
      } catch (error) {
        client.destroy();
        throw error;
      }
      return client;
    },
    serverSide(client, timeoutMs = 2000) {
      const port = client.socket.localPort;
      const find = (): ServerSide | undefined => accepted.find((s) => s.connection.remotePort === port);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no server-side connection for client port ${port} within ${describeMs(timeoutMs)}`));
        }, scaled(timeoutMs));
        const check = (): void => {
          const side = find();
          if (side === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(side);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      // Sockets a test left open (on purpose or after a failure) must not hold the listener.
      for (const client of clients) client.destroy();
      await server.close(1001, 'test over', 300);
    },
  };
}

/** Rejects when `promise` takes longer than `ms` (scaled by WSSD_TEST_TIMEOUT_FACTOR). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${describeMs(ms)}`)), scaled(ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits `ms` as given, unscaled: for pacing a scenario (a pause between two
 * writes). A wait in which a test shows that something did NOT happen is
 * `sleep(scaled(ms))`, or a server timer plus `scaled(margin)`; a wait for
 * something to happen is an event or `eventually`, never a sleep.
 */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `client` still gets a text echo: the connection (and the server) kept working. */
export async function expectTextEcho(client: RawClient, text = 'still here'): Promise<void> {
  client.sendText(text);
  const frame = await client.readFrame(2000);
  if (frame.opcode !== 0x1 || frame.payload.toString('utf8') !== text) {
    throw new Error(`no echo of ${JSON.stringify(text)}: got opcode ${frame.opcode} ${JSON.stringify(frame.payload.toString('utf8'))}`);
  }
}

/**
 * Proves the server still works: a fresh connection completes the handshake
 * and gets an echo. Used after every hostile input.
 */
export async function expectServing(ts: TestServer): Promise<void> {
  const client = await ts.open();
  try {
    client.sendText('still serving');
    const frame = await client.readFrame(2000);
    if (frame.opcode !== 0x1 || frame.payload.toString('utf8') !== 'still serving') {
      throw new Error(`server no longer echoes: got opcode ${frame.opcode} ${JSON.stringify(frame.payload.toString('utf8'))}`);
    }
  } finally {
    client.destroy();
  }
}
