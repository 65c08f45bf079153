// The gateway's e2e tier with a real PHP backend (Debian's php-cli): the
// backend of test/e2e/php-backend/ under `php -S` (four workers), its
// api.php that drives wssd's server API, and the plumbing the
// gateway-php-*.test.ts files share — wssd processes with an API key and a
// stats port, TLS clients, refused handshakes, /stats. Everything started
// here is on a free loopback port with its own temp dir, stopped by PID in
// stopAll(); every wait is bounded (and scaled by WSSD_TEST_TIMEOUT_FACTOR).
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { Op, RawClient, upgradeRequest, type HttpResponse } from '../helpers/raw-client.js';
import { describeMs, scaled } from '../helpers/timeouts.js';
import { Daemon, removeDir, requireTool, startWssd, tempDir } from './support.js';

export const PHP = '/usr/bin/php';
export const CURL = '/usr/bin/curl';
const BACKEND_DIR = fileURLToPath(new URL('./php-backend/', import.meta.url));

/** Per test and per hook: PHP and wssd processes start in a second or two, more on a loaded machine. */
export const PHP_TEST_TIMEOUT = scaled(60_000);

/** What the tests stop at the end: processes by PID, temp dirs, sockets. */
const cleanups: (() => void | Promise<void>)[] = [];

/** Registers something to stop in stopAll(). */
export function later(cleanup: () => void | Promise<void>): void {
  cleanups.push(cleanup);
}

/** Stops what the test started, the last started first. Call it from afterEach or afterAll. */
export async function stopAll(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

/** Ports handed out here: freePort() may name a port again once it is free, and some here stay free on purpose (a backend that is down). */
const handedOut = new Set<number>();

/** Keeps freshPort() from handing out `port` (one a test will use that freshPort() did not give it); false if it already did. */
export function reservePort(port: number): boolean {
  if (handedOut.has(port)) return false;
  handedOut.add(port);
  return true;
}

/** A free loopback port that no earlier call here returned. */
export async function freshPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no fresh free port in 20 attempts');
}

/** A secret or key for one test run. */
export function secret(): string {
  return randomBytes(16).toString('hex');
}

export interface PhpSettings {
  jwtSecret?: string;
  eventsSecret?: string;
  /** Where the server API of wssd listens, for "push:USER:TEXT". */
  apiUrl?: string;
  apiKey?: string;
  /** How long "slow" (connect, message) and "hang" (events) sleep. */
  slowMs?: number;
  hangMs?: number;
  /** An RSA key pair for RS256 (see rsaKeyPair). */
  keys?: { privateKey: string; publicKey: string };
}

/** One event as wssd's backend events carry it (written out here, not imported from src/: the test reads the wire). */
export interface BackendEvent {
  type: 'connect' | 'disconnect' | 'subscribe' | 'unsubscribe';
  client: string;
  user?: string;
  ip?: string;
  path?: string;
  info?: Record<string, unknown>;
  code?: number;
  reason?: string;
  topic?: string;
  time: number;
}

export interface EventBatch {
  node: string;
  batch: string;
  events: BackendEvent[];
}

/** router.php under `php -S 127.0.0.1:PORT`, with PHP_CLI_SERVER_WORKERS=4. */
export class PhpBackend {
  private constructor(
    private readonly daemon: Daemon,
    readonly port: number,
    /** STATE_DIR: the logs router.php writes. */
    readonly dir: string,
  ) {}

  static async start(settings: PhpSettings = {}): Promise<PhpBackend> {
    requireTool(PHP, 'php-cli');
    const dir = tempDir('php');
    later(() => removeDir(dir));
    const port = await freshPort();
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      PHP_CLI_SERVER_WORKERS: '4',
      STATE_DIR: dir,
      JWT_SECRET: settings.jwtSecret ?? '',
      JWT_PRIVATE_KEY: settings.keys?.privateKey ?? '',
      JWT_PUBLIC_KEY: settings.keys?.publicKey ?? '',
      EVENTS_SECRET: settings.eventsSecret ?? '',
      WSSD_API_URL: settings.apiUrl ?? '',
      WSSD_API_KEY: settings.apiKey ?? '',
      SLOW_MS: String(settings.slowMs ?? 3000),
      HANG_MS: String(settings.hangMs ?? 3000),
    };
    // Errors to the server's stderr (kept by Daemon for failure messages), never into an answer.
    const args = ['-d', 'display_errors=stderr', '-d', 'log_errors=0', '-d', 'error_reporting=-1', '-S', `127.0.0.1:${port}`, join(BACKEND_DIR, 'router.php')];
    const daemon = new Daemon('php -S', PHP, args, { cwd: BACKEND_DIR, env });
    const backend = new PhpBackend(daemon, port, dir);
    later(() => daemon.stop());
    await daemon.waitForPort('127.0.0.1', port);
    return backend;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** A token minted by router.php's /token (see its parameters). */
  async token(params: Record<string, string>): Promise<string> {
    const answer = await httpRequest('GET', this.url(`/token?${new URLSearchParams(params).toString()}`));
    if (answer.status !== 200) throw new Error(`/token answered ${answer.status}: ${answer.body}\n${this.daemon.describe()}`);
    return answer.body;
  }

  /** The lines of a JSON-lines log in STATE_DIR (none yet: []). */
  log<T>(name: 'events.log' | 'attempts.log' | 'connect.log' | 'message.log'): T[] {
    const file = join(this.dir, name);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as T);
  }

  /** Every event PHP took (signature checked), batch after batch. */
  events(): BackendEvent[] {
    return this.log<EventBatch>('events.log').flatMap((b) => b.events);
  }

  /** The events of one client, in the order PHP took them. */
  eventsOf(client: string): BackendEvent[] {
    return this.events().filter((e) => e.client === client);
  }

  describe(): string {
    return this.daemon.describe();
  }

  /** Stops it now (the backend goes down); stopAll() would have. */
  stop(): Promise<void> {
    return this.daemon.stop();
  }
}

/** `php api.php METHOD PATH [BODY]` against `apiUrl` with `key` ('' sends none): the answer it printed. */
export function phpApi(apiUrl: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  requireTool(PHP, 'php-cli');
  const args = [join(BACKEND_DIR, 'api.php'), method, path];
  if (body !== undefined) args.push(typeof body === 'string' ? body : JSON.stringify(body));
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', WSSD_API_URL: apiUrl, WSSD_API_KEY: key };
  return new Promise((resolve, reject) => {
    execFile(PHP, args, { env, timeout: scaled(15_000) }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`php api.php ${method} ${path} failed (${error.message}): ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as { status: number; body: Record<string, unknown> });
      } catch {
        reject(new Error(`php api.php ${method} ${path} printed no JSON: ${stdout}${stderr}`));
      }
    });
  });
}

/** An RSA key pair (2048 bits, PEM) in `dir`, for RS256 tokens signed by PHP. */
export function rsaKeyPair(dir: string): { privateKey: string; publicKey: string } {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = join(dir, 'jwt-private.pem');
  const publicKey = join(dir, 'jwt-public.pem');
  writeFileSync(privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, publicKey };
}

/** A wssd process (TLS, the dev certificate) with its ports: the WebSocket, the server API and /stats. */
export interface Wssd {
  process: WssdProcess;
  port: number;
  apiPort: number;
  apiUrl: string;
  apiKey: string;
  statsPort: number;
  /** GET /stats of this process (of every worker with --workers). */
  stats(): Promise<Stats>;
  /** The server API through php api.php with this process's key. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** What the tests read of /stats (written out here, not imported from src/). */
export interface Stats {
  connections: number;
  handshakes: { accepted: number; refused: Record<string, number>; refusals: Record<string, number> };
  losses: Record<string, number>;
  backendErrors: Record<string, number>;
  api: { requests: number; errors: Record<string, number> };
  memory: { rss: number };
  pid: number;
  perProcess?: Stats[];
}

/**
 * `node dist/server.js` on free ports with the server API (a fresh key,
 * unless `api` names the port and key) and a stats port, plus `args`.
 */
export async function startGateway(args: readonly string[], api: { apiPort?: number; apiKey?: string } = {}): Promise<Wssd> {
  const [port, apiPort, statsPort] = [await freshPort(), api.apiPort ?? (await freshPort()), await freshPort()];
  const apiKey = api.apiKey ?? secret();
  const process = await startWssd(['--host', '127.0.0.1', '--port', String(port), '--api-port', String(apiPort), '--api-key', apiKey, '--stats-port', String(statsPort), ...args]);
  later(() => process.kill());
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  return {
    process,
    port,
    apiPort,
    apiUrl,
    apiKey,
    statsPort,
    stats: async () => JSON.parse((await httpRequest('GET', `http://127.0.0.1:${statsPort}/stats`)).body) as Stats,
    api: (method, path, body) => phpApi(apiUrl, apiKey, method, path, body),
  };
}

/** A TLS client upgraded on `path` (the token in ?token=, say), closed in stopAll(). */
export async function openClient(port: number, path = '/', headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await RawClient.connect({ port, tls: true, timeoutMs: 5000 });
  later(() => client.destroy());
  await client.upgrade({ path, headers }, 5000);
  return client;
}

/** The answer to an upgrade request that is refused. */
export async function refusedHandshake(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<HttpResponse> {
  const client = await RawClient.connect({ port, tls: true, timeoutMs: 5000 });
  try {
    client.write(upgradeRequest({ path, headers }));
    return await client.readResponse(timeoutMs);
  } finally {
    client.destroy();
  }
}

/** The next frame is this text. */
export async function expectText(client: RawClient, text: string, timeoutMs = 5000): Promise<void> {
  const frame = await client.readFrame(timeoutMs);
  expect({ opcode: frame.opcode, text: frame.payload.toString('utf8') }).toEqual({ opcode: Op.Text, text });
}

/** The count under `key`, 0 when there is none. */
export function count(record: Record<string, number> | undefined, key: string): number {
  return record?.[key] ?? 0;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with node:http, bounded (10 s, scaled). */
export function httpRequest(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers, timeout: scaled(10_000) }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${url}: no answer within ${describeMs(10_000)}`)));
    request.on('error', reject);
    request.end(body);
  });
}
