// The GatewayWorker e2e tier's plumbing: the PHP side of a GatewayWorker
// application (php/: a Register, BusinessWorkers running php/Events.php, the
// real PHP Gateway as the reference, a GatewayClient call), wssd as the
// Gateway in its place, and test clients that speak to php/Events.php's RPC
// (gw-client.ts) or GatewayProtocol to a LAN port (lan.ts), re-exported here
// so a test imports the whole tier from this one module.
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
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WssdProcess } from '../../helpers/cli-process.js';
import { eventually } from '../../helpers/poll.js';
import { scaled } from '../../helpers/timeouts.js';
import { freshPort, httpRequest, later, PHP, reservePort, type Stats } from '../php-support.js';
import { Daemon, DEV_CERT_FILE, DEV_KEY_FILE, removeDir, requireTool, ROOT, tempDir } from '../support.js';
import { GwClient, type OpenOptions } from './gw-client.js';

export { PHP_TEST_TIMEOUT, stopAll, later, freshPort, count, type Stats } from '../php-support.js';
export { entryOf, expectEntries, GwClient, labelled, type Entry, type OpenOptions } from './gw-client.js';
export { CMD, gatewayPacket, lanQuery, lanSocket, socketClosed } from './lan.js';

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
