// The GatewayWorker e2e tier's plumbing: the PHP side of a GatewayWorker
// application (php/: a Register, BusinessWorkers running php/Events.php, the
// real PHP Gateway as the reference, a GatewayClient call), wssd as the
// Gateway in its place, and test clients that speak to php/Events.php's RPC.
// Every process is started here on a free loopback port with its own temp
// dir and stopped by PID in stopAll() (php-support.ts); every wait is bounded
// and scaled by WSSD_TEST_TIMEOUT_FACTOR.
//
// The vendored Workerman, GatewayWorker and GatewayClient are in
// test/peers/workerman (WSSD_WORKERMAN_DIR names another copy; the scripts in
// php/ are told where, and fail loudly when it is not there).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { WssdProcess } from '../../helpers/cli-process.js';
import { eventually } from '../../helpers/poll.js';
import { Op, RawClient, type Frame } from '../../helpers/raw-client.js';
import { describeMs, scaled } from '../../helpers/timeouts.js';
import { freshPort, httpRequest, later, PHP, reservePort, type Stats } from '../php-support.js';
import { Daemon, DEV_CERT_FILE, DEV_KEY_FILE, removeDir, requireTool, ROOT, tempDir } from '../support.js';

export { PHP_TEST_TIMEOUT, stopAll, later, freshPort, count, type Stats } from '../php-support.js';

const APP_DIR = fileURLToPath(new URL('./php/', import.meta.url));
/** Workerman 5.2.2, GatewayWorker and GatewayClient, vendored in test/peers/ (or WSSD_WORKERMAN_DIR). */
export const PEERS_DIR = process.env['WSSD_WORKERMAN_DIR'] ?? join(ROOT, 'test', 'peers', 'workerman');

/** Fails (never skips) unless php-cli and the vendored PHP tree are there. */
export function requirePhpSide(): void {
  requireTool(PHP, 'php-cli');
  for (const file of ['autoload.php', 'vendor/gateway-worker/src/Gateway.php', 'vendor/gateway-client/Gateway.php']) {
    if (!existsSync(join(PEERS_DIR, file))) {
      throw new Error(`${join(PEERS_DIR, file)} is missing: the GatewayWorker e2e tests run the vendored Workerman, GatewayWorker and GatewayClient, expected in test/peers/workerman (or WSSD_WORKERMAN_DIR)`);
    }
  }
}

/** A fresh free port whose next port is free too (wssd --workers 2 listens on the LAN port and the one after it). */
export async function freshPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freshPort();
    // The next one is reserved too: a later freshPort() (wssd's own ports) must not take it.
    if (port < 65535 && (await canListen(port + 1)) && reservePort(port + 1)) return port;
  }
  throw new Error('no two free consecutive ports in 20 attempts');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first 12 hex digits of every client id of a Gateway whose LAN address is 127.0.0.1:port. */
export function lanPrefix(port: number): string {
  return `7f000001${port.toString(16).padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------
// PHP processes

/** One Workerman process tree (master and its workers) in its own process group. */
export class PhpProcess {
  readonly daemon: Daemon;

  constructor(
    readonly name: string,
    script: string,
    args: readonly string[],
    readonly dir: string,
  ) {
    requirePhpSide();
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TMPDIR: dir };
    const php = ['-d', 'display_errors=stderr', '-d', 'log_errors=0', '-d', 'error_reporting=-1', join(APP_DIR, script), '--dir', dir, ...args];
    const log = join(dir, `${name}.log`);
    this.daemon = new Daemon(name, PHP, php, { cwd: dir, env }, [log, join(dir, `${name}.stdout`)]);
    later(() => this.stop());
  }

  get pid(): number | undefined {
    return this.daemon.child.pid;
  }

  describe(): string {
    return this.daemon.describe();
  }

  /** SIGTERM to its group (Workerman stops its workers), SIGKILL after a grace period. */
  stop(): Promise<void> {
    return this.daemon.stop(3000);
  }

  /** SIGKILL to the whole group at once: a crash, nothing said to anyone. */
  async kill(): Promise<void> {
    const pid = this.daemon.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await this.daemon.stop(1000);
  }
}

export interface Register {
  address: string;
  port: number;
  process: PhpProcess;
  dir: string;
  secret: string;
}

/** php/register.php on `port` (a fresh one by default). */
export async function startRegister(options: { secret?: string; port?: number } = {}): Promise<Register> {
  const dir = tempDir('gw-register');
  later(() => removeDir(dir));
  const port = options.port ?? (await freshPort());
  const args = ['--listen', `127.0.0.1:${port}`];
  if (options.secret !== undefined) args.push('--secret', options.secret);
  const php = new PhpProcess('register', 'register.php', args, dir);
  await php.daemon.waitForPort('127.0.0.1', port, 15_000);
  return { address: `127.0.0.1:${port}`, port, process: php, dir, secret: options.secret ?? '' };
}

export interface BusinessWorkerOptions {
  name?: string;
  count?: number;
  /** Default: the Register's. */
  secret?: string;
  /** Another key for the Gateways than for the Register. */
  gatewaySecret?: string;
}

/** One line of php/Events.php's event log. */
export interface AppEvent {
  worker: string;
  pid: number;
  event: 'connect' | 'websocket-connect' | 'message' | 'close';
  client: string;
  /** The $_SESSION that came with ON_CLOSE (null for the other events). */
  session: unknown;
}

export class BusinessWorker {
  readonly process: PhpProcess;
  readonly eventsLog: string;

  constructor(register: Register, readonly options: BusinessWorkerOptions = {}) {
    const dir = tempDir('gw-business');
    later(() => removeDir(dir));
    this.eventsLog = join(dir, 'events.log');
    const name = options.name ?? 'business';
    const args = ['--register', register.address, '--name', name, '--count', String(options.count ?? 1), '--events-log', this.eventsLog];
    const secret = options.secret ?? register.secret;
    if (secret !== '') args.push('--secret', secret);
    if (options.gatewaySecret !== undefined) args.push('--gateway-secret', options.gatewaySecret);
    this.process = new PhpProcess(`business-${name}`, 'business.php', args, dir);
  }

  /** Every event it handled so far, in order. */
  events(): AppEvent[] {
    if (!existsSync(this.eventsLog)) return [];
    return readFileSync(this.eventsLog, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as AppEvent);
  }
}

// ---------------------------------------------------------------------------
// GatewayClient

/** The result of one GatewayClient\Gateway call made by `php php/client.php` (a web backend), or throws with what PHP said. */
export function gatewayClient(register: Register, call: string, ...args: unknown[]): Promise<unknown> {
  requirePhpSide();
  const php = [join(APP_DIR, 'client.php'), '--register', register.address, '--call', JSON.stringify({ call, args })];
  if (register.secret !== '') php.push('--secret', register.secret);
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  return new Promise((resolve, reject) => {
    execFile(PHP, php, { env, timeout: scaled(20_000), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      let answer: { r?: unknown; error?: string } | undefined;
      try {
        answer = JSON.parse(stdout) as { r?: unknown; error?: string };
      } catch {
        answer = undefined;
      }
      if (error !== null || answer === undefined || answer.error !== undefined) {
        reject(new Error(`GatewayClient ${call}(${JSON.stringify(args).slice(0, 200)}) failed: ${answer?.error ?? error?.message ?? 'no JSON'}\n${stdout.slice(0, 2000)}${stderr.slice(0, 2000)}`));
        return;
      }
      resolve(answer.r);
    });
  });
}

// ---------------------------------------------------------------------------
// Gateways: PHP's and wssd

export type GatewayKind = 'php' | 'wssd-ws' | 'wssd-wss';

/** A Gateway a test drives through its clients, whichever it is. */
export interface GatewayUnderTest {
  kind: GatewayKind;
  /** Where clients connect. */
  port: number;
  tls: boolean;
  /** The LAN port (the first one with --workers). */
  lanPort: number;
  register: Register;
  /** Opens a client and reads its hello (unless `helloMs: 0`). */
  open(name: string, options?: OpenOptions): Promise<GwClient>;
  describe(): string;
}

export interface PhpGateway extends GatewayUnderTest {
  process: PhpProcess;
}

/** GatewayWorker's client heartbeat: pingInterval (here in ms, as wssd's flag), pingNotResponseLimit, pingData. */
export interface Heartbeat {
  intervalMs: number;
  limit: number;
  data: string;
}

/** GatewayWorker's own Gateway (php/gateway.php): websocket://127.0.0.1:port, LAN 127.0.0.1:lanPort. */
export async function startPhpGateway(register: Register, options: { heartbeat?: Heartbeat; host?: string } = {}): Promise<PhpGateway> {
  const dir = tempDir('gw-gateway');
  later(() => removeDir(dir));
  const [port, lanPort] = [await freshPort(), await freshPort()];
  const host = options.host ?? '127.0.0.1';
  const args = ['--listen', `${host.includes(':') ? `[${host}]` : host}:${port}`, '--lan-port', String(lanPort), '--register', register.address];
  if (register.secret !== '') args.push('--secret', register.secret);
  const beat = options.heartbeat;
  if (beat !== undefined) args.push('--ping-interval', String(beat.intervalMs / 1000), '--ping-limit', String(beat.limit), '--ping-data', beat.data);
  const php = new PhpProcess('gateway', 'gateway.php', args, dir);
  await php.daemon.waitForPort(host, port, 15_000);
  const gateway: PhpGateway = {
    kind: 'php',
    port,
    tls: false,
    lanPort,
    register,
    process: php,
    open: (name, options) => GwClient.open(name, gateway, options),
    describe: () => php.describe(),
  };
  return gateway;
}

export interface WssdGateway extends GatewayUnderTest {
  process: WssdProcess;
  statsPort: number;
  stats(): Promise<Stats>;
}

export interface WssdGatewayOptions {
  /** Where clients connect (default 127.0.0.1). */
  host?: string;
  tls?: boolean;
  secret?: string;
  lanPort?: number;
  heartbeat?: Heartbeat;
  args?: readonly string[];
}

/** `node dist/server.js` as a Gateway of `register`'s application, with a stats port. */
export async function startWssdGateway(register: Register, options: WssdGatewayOptions = {}): Promise<WssdGateway> {
  const tls = options.tls ?? false;
  const [port, statsPort, lanPort] = [await freshPort(), await freshPort(), options.lanPort ?? (await freshPort())];
  const args = ['--host', options.host ?? '127.0.0.1', '--port', String(port), '--stats-port', String(statsPort), '--gateway-register', register.address, '--gateway-lan', `127.0.0.1:${lanPort}`];
  args.push(...(tls ? ['--cert', DEV_CERT_FILE, '--key', DEV_KEY_FILE] : ['--plain']));
  const secret = options.secret ?? register.secret;
  if (secret !== '') args.push('--gateway-secret', secret);
  const beat = options.heartbeat;
  if (beat !== undefined) args.push('--gateway-ping-interval', String(beat.intervalMs), '--gateway-ping-limit', String(beat.limit), '--gateway-ping-data', beat.data);
  args.push(...(options.args ?? []));
  const wssd = new WssdProcess(args);
  later(() => wssd.kill());
  await wssd.waitForLine(/listening on/, 15_000);
  const gateway: WssdGateway = {
    kind: tls ? 'wssd-wss' : 'wssd-ws',
    port,
    tls,
    lanPort,
    register,
    process: wssd,
    statsPort,
    stats: async () => JSON.parse((await httpRequest('GET', `http://127.0.0.1:${statsPort}/stats`)).body) as Stats,
    open: (name, options) => GwClient.open(name, gateway, options),
    describe: () => `--- wssd stderr:\n${wssd.stderr.join('\n')}`,
  };
  return gateway;
}

/** Waits until wssd logged `count` BusinessWorker connections (in all, over its life). */
export async function businessWorkersConnected(wssd: WssdProcess, count = 1, timeoutMs = 20_000): Promise<void> {
  await eventually(
    () => {
      if (wssd.child.exitCode !== null) throw new Error(`wssd exited (${wssd.child.exitCode}) before ${count} BusinessWorker(s) connected; stderr:\n${wssd.stderr.join('\n')}`);
      return wssd.stderr.filter((line) => /GatewayWorker: BusinessWorker \S+ connected/.test(line)).length >= count;
    },
    timeoutMs,
    () => `${count} BusinessWorker(s) connected to wssd; stderr:\n${wssd.stderr.join('\n')}`,
    100,
  );
}

/** Waits until a client of `gateway` is greeted (a BusinessWorker serves it), opening one after another. */
export async function served(gateway: GatewayUnderTest, timeoutMs = 20_000, host?: string): Promise<void> {
  let last: unknown;
  await eventually(
    async () => {
      try {
        await (await gateway.open('probe', { helloMs: 1000, host })).close();
        return true;
      } catch (error) {
        last = error;
        return false;
      }
    },
    timeoutMs,
    () => `a client of the ${gateway.kind} Gateway greeted (last: ${String(last)})\n${gateway.describe()}`,
    200,
  );
}

/** Waits until `gateway` has no client left (GatewayClient's getAllClientIdCount), so the next scenario starts clean. */
export async function quiet(gateway: GatewayUnderTest): Promise<void> {
  let seen: unknown;
  await eventually(
    async () => {
      seen = await gatewayClient(gateway.register, 'getAllClientIdCount');
      return seen === 0;
    },
    10_000,
    () => `no client left on the ${gateway.kind} Gateway (getAllClientIdCount = ${JSON.stringify(seen)})`,
    100,
  );
}

// ---------------------------------------------------------------------------
// Test clients

export interface OpenOptions {
  /** Where to connect (default 127.0.0.1). */
  host?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Wait this long for the hello (default 5000 ms); 0: read no hello. */
  helloMs?: number;
}

/**
 * What a client received, one string per frame: a text frame's text (or
 * `<text 0x…>` when it is not UTF-8), `<binary 0x…>`, `<close CODE>`,
 * `<ping 0x…>`, `<masked> …` before a masked one; `<end>` when the TCP
 * connection ended.
 */
export type Entry = string;

export function entryOf(frame: Frame): Entry {
  const entry = unmaskedEntryOf(frame);
  // A server must not mask (RFC 6455 §5.1): a browser fails such a connection.
  return frame.masked ? `<masked> ${entry}` : entry;
}

function unmaskedEntryOf(frame: Frame): Entry {
  const hex = frame.payload.toString('hex');
  switch (frame.opcode) {
    case Op.Text:
      return isUtf8(frame.payload) ? frame.payload.toString('utf8') : `<text 0x${hex}>`;
    case Op.Binary:
      return `<binary 0x${hex}>`;
    case Op.Close:
      return frame.payload.length >= 2 ? `<close ${frame.payload.readUInt16BE(0)}>` : '<close>';
    case Op.Ping:
      return `<ping 0x${hex}>`;
    default:
      return `<opcode ${frame.opcode} 0x${hex}>`;
  }
}

/** An RPC answer of php/Events.php. */
interface Answer {
  re: string;
  r: unknown;
}

function answerOf(entry: Entry): Answer | undefined {
  if (!entry.startsWith('{"re":')) return undefined;
  return JSON.parse(entry) as Answer;
}

/** A WebSocket client of the test application (raw frames: every byte the Gateway sends is seen). */
export class GwClient {
  /** Its client id, from the hello. */
  id = '';
  /** Everything received, in order (answers included). */
  readonly received: Entry[] = [];
  /** What was received and not taken yet, answers to its own calls left out. */
  private inbox: Entry[] = [];
  private ended = false;
  private closeSent = false;

  private constructor(
    readonly name: string,
    readonly raw: RawClient,
  ) {}

  static async open(name: string, gateway: GatewayUnderTest, options: OpenOptions = {}): Promise<GwClient> {
    const raw = await RawClient.connect({ host: options.host, port: gateway.port, tls: gateway.tls, timeoutMs: 5000 });
    later(() => raw.destroy());
    const client = new GwClient(name, raw);
    try {
      const host = options.host === undefined ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
      await raw.upgrade({ path: options.path ?? '/', headers: options.headers, host: `${host}:${gateway.port}` }, 5000);
      const helloMs = options.helloMs ?? 5000;
      if (helloMs > 0) {
        const hello = await client.next(helloMs);
        const match = /^hello:([0-9a-f]{20})$/.exec(hello);
        if (match === null) throw new Error(`${name}: the first message was ${JSON.stringify(hello)}, not hello:<client id>`);
        client.id = match[1];
        client.take();
      }
    } catch (error) {
      raw.destroy();
      throw error;
    }
    return client;
  }

  /** Takes the id from a hello that came later (a client that waited for a BusinessWorker). */
  async hello(timeoutMs = 5000): Promise<string> {
    const hello = await this.waitFor((e) => e.startsWith('hello:'), timeoutMs, 'its hello');
    this.id = hello.slice('hello:'.length);
    return this.id;
  }

  /** The next frame (or `<end>`), recorded. */
  async next(timeoutMs = 5000): Promise<Entry> {
    if (this.ended) throw new Error(`${this.name}: the connection has ended`);
    let frame: Frame;
    try {
      frame = await this.raw.readFrame(timeoutMs);
    } catch (error) {
      if (!/connection closed/.test(String(error))) throw new Error(`${this.name}: ${String(error)}; received so far: ${JSON.stringify(this.received)}`);
      this.ended = true;
      this.record('<end>');
      return '<end>';
    }
    const entry = entryOf(frame);
    this.record(entry);
    if (frame.opcode === Op.Close) this.answerClose(frame);
    return entry;
  }

  private record(entry: Entry): void {
    this.received.push(entry);
    this.inbox.push(entry);
  }

  /**
   * The first entry satisfying `match`, taken from the inbox if it is there,
   * else read (bounded: 200 frames, `timeoutMs` each); what is read before it
   * stays in the inbox.
   */
  async waitFor(match: (entry: Entry) => boolean, timeoutMs = 5000, what = 'the entry awaited'): Promise<Entry> {
    const held = this.inbox.findIndex(match);
    if (held >= 0) return this.inbox.splice(held, 1)[0];
    for (let i = 0; i < 200; i++) {
      const entry = await this.next(timeoutMs).catch((error: unknown) => {
        throw new Error(`${this.name}, waiting for ${what}: ${String(error)}`);
      });
      if (match(entry)) {
        this.inbox.splice(this.inbox.lastIndexOf(entry), 1);
        return entry;
      }
      if (entry === '<end>') throw new Error(`${this.name} ended while waiting for ${what}; received ${JSON.stringify(this.received)}`);
    }
    throw new Error(`${this.name}: 200 frames and not ${what}`);
  }

  /**
   * The next entries are these, in this order, nothing else before or
   * between them (taken from the inbox first, then read). For what a
   * GatewayClient sends: its connection is not the BusinessWorker's, so a
   * round trip through the BusinessWorker (sync) does not show it arrived.
   */
  async expectNext(...expected: Entry[]): Promise<void> {
    const got: Entry[] = [];
    for (let i = 0; i < expected.length; i++) {
      if (this.inbox.length === 0) {
        await this.next(8000).catch((error: unknown) => {
          throw new Error(`${this.name}, waiting for ${JSON.stringify(expected)} (got ${JSON.stringify(got)}): ${String(error)}`);
        });
      }
      got.push(this.inbox.shift() as Entry);
    }
    expect(got, `what ${this.name} received`).toEqual(expected);
  }

  /** Sends a text message as it is. */
  send(text: string): void {
    this.raw.sendText(text);
  }

  /** Calls php/Events.php's NAME(args) and returns its result; what came before the answer stays in the inbox. */
  async call(call: string, ...args: unknown[]): Promise<unknown> {
    this.raw.sendText(JSON.stringify({ call, args }));
    const entry = await this.waitFor((e) => answerOf(e)?.re === call, 5000, `the answer to ${call}`);
    return (answerOf(entry) as Answer).r;
  }

  /** As call(), with the arguments written as JSON text (what JSON.stringify cannot say: int64, -0.0, key order of numeric keys). */
  async callJson(call: string, argsJson: string): Promise<unknown> {
    this.raw.sendText(`{"call":${JSON.stringify(call)},"args":${argsJson}}`);
    const entry = await this.waitFor((e) => answerOf(e)?.re === call, 5000, `the answer to ${call}`);
    return (answerOf(entry) as Answer).r;
  }

  /** A round trip through the BusinessWorker: what the Gateway wrote to this client before it is in the inbox. */
  async sync(): Promise<void> {
    await this.call('sync');
  }

  /** What is in the inbox (emptied). */
  take(): Entry[] {
    return this.inbox.splice(0);
  }

  /** Syncs, then takes the inbox. */
  async inboxAfterSync(): Promise<Entry[]> {
    await this.sync();
    return this.take();
  }

  /** Reads until the connection ends (a Close from the server is answered); returns the inbox, `<end>` last. */
  async ending(timeoutMs = 8000): Promise<Entry[]> {
    for (let i = 0; i < 200 && !this.ended; i++) await this.next(timeoutMs);
    if (!this.ended) throw new Error(`${this.name}: 200 frames and the connection has not ended`);
    return this.take();
  }

  /** Closes from the client side (a Close with `code`, null: with no code) and reads to the end; returns what came. */
  async close(code: number | null = 1000, reason = ''): Promise<Entry[]> {
    if (this.ended) return this.take();
    this.closeSent = true;
    this.raw.sendClose(code ?? undefined, reason);
    return this.ending();
  }

  destroy(): void {
    this.raw.destroy();
  }

  private answerClose(frame: Frame): void {
    // As a browser does: echo the code (unless this side started the closing handshake), then wait for the server to end TCP.
    if (this.closeSent || this.raw.socket.destroyed) return;
    this.closeSent = true;
    this.raw.sendClose(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined);
  }
}

/** `value` with each client's id written `<name>` (JSON round trip), so two Gateways' answers compare. */
export function labelled<T>(value: T, clients: readonly GwClient[]): T {
  let text = JSON.stringify(value);
  for (const c of clients) if (c.id !== '') text = text.split(c.id).join(`<${c.name}>`);
  return JSON.parse(text) as T;
}

/** GatewayProtocol command numbers the tests write themselves (spec §3). */
export const CMD = { SEND_TO_ONE: 5, SEND_TO_ALL: 6, WORKER_CONNECT: 200, GATEWAY_CLIENT_CONNECT: 202, GET_SESSION_BY_CLIENT_ID: 203 } as const;

/**
 * One GatewayProtocol packet (spec §2.1), written out here rather than taken
 * from src/: the 28-byte header (every address field 0, as BusinessWorkers
 * and GatewayClient send them), ext_data, the body (raw: flag 1 by default).
 */
export function gatewayPacket(cmd: number, body: Buffer | string, options: { connectionId?: number; flag?: number; extData?: Buffer | string; announce?: number } = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const ext = typeof options.extData === 'string' ? Buffer.from(options.extData, 'utf8') : (options.extData ?? Buffer.alloc(0));
  const header = Buffer.alloc(28);
  header.writeUInt32BE(options.announce ?? 28 + ext.length + bytes.length, 0);
  header.writeUInt8(cmd, 4);
  header.writeUInt32BE(options.connectionId ?? 0, 17);
  header.writeUInt8(options.flag ?? 1, 21);
  header.writeUInt32BE(ext.length, 24);
  return Buffer.concat([header, ext, bytes]);
}

/** A connected-only TCP socket to a LAN port (a hostile or broken peer); destroyed in stopAll(). */
export function lanSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    later(() => void socket.destroy());
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to 127.0.0.1:${port} timed out`));
    }, scaled(5000));
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * One query on a LAN port, as GatewayClient makes it (its own connection,
 * the key first when there is one): the reply's payload, after its 4-byte
 * length (spec §2.7). Shows what a Gateway holds byte for byte, where the
 * PHP side would unserialize it.
 */
export async function lanQuery(port: number, packet: Buffer, secret = ''): Promise<Buffer> {
  const socket = await lanSocket(port);
  if (secret !== '') socket.write(gatewayPacket(CMD.GATEWAY_CLIENT_CONNECT, JSON.stringify({ secret_key: secret })));
  socket.write(packet);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to a query on 127.0.0.1:${port} within ${describeMs(5000)} (${received.length} bytes)`));
    }, scaled(5000));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4 && received.length >= 4 + received.readUInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.subarray(4, 4 + received.readUInt32BE(0)));
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`the query's connection to 127.0.0.1:${port} closed after ${received.length} bytes`));
    });
  });
}

/** Resolves once `socket` is closed (by the peer); rejects after timeoutMs. */
export function socketClosed(socket: net.Socket, timeoutMs = 5000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the LAN connection is still open after ${describeMs(timeoutMs)}`)), scaled(timeoutMs));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

/** `expect` shorthand: the entries are these, in order. */
export function expectEntries(actual: readonly Entry[], expected: readonly Entry[]): void {
  expect([...actual]).toEqual([...expected]);
}
