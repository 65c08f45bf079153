// Shared plumbing for the e2e tier: required tools (a missing one fails the
// test and names its Debian package — never a skip), temp directories,
// daemons (nginx, apache) started in their own process group and always
// stopped, bounded waits for ports (every timeoutMs scaled by
// WSSD_TEST_TIMEOUT_FACTOR), and the small --app module the proxy tests use
// to ask wssd whom it thinks it is talking to.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, WssdProcess } from '../helpers/cli-process.js';
import { expect } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { CERTS_DIR, Op, type RawClient } from '../helpers/raw-client.js';
import { scaled } from '../helpers/timeouts.js';

export { ROOT };
export const DEV_CERT_FILE = `${CERTS_DIR}dev-cert.pem`;
export const DEV_KEY_FILE = `${CERTS_DIR}dev-key.pem`;
/** Screenshots and other artefacts a human may want to look at (gitignored). */
export const OUTPUT_DIR = join(ROOT, 'test-output', 'e2e');

/** Throws, naming the apt package, unless `path` is an executable file. */
export function requireTool(path: string, aptPackage: string): void {
  let problem: string | undefined;
  if (!existsSync(path)) problem = 'is not installed';
  else {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      problem = 'is not executable';
    }
  }
  if (problem === undefined) return;
  const where = process.env['CI'] === 'true' ? 'CI must install it in .ci/run' : 'install it on this machine';
  throw new Error(`${path} ${problem}: the e2e tests need Debian's ${aptPackage} — ${where} with \`apt-get install ${aptPackage}\`.`);
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `wssd-e2e-${name}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Resolves true once `child` has exited, false after `timeoutMs` (scaled). */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, scaled(timeoutMs));
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Replaces every `from` in `text`; throws when there is none, so a docs file that drifted fails loudly. */
export function substitute(text: string, from: string | RegExp, to: string, what: string): string {
  const pattern = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
  if (text.match(pattern) === null) throw new Error(`cannot render ${what}: ${String(from)} no longer appears in it`);
  return text.replace(pattern, () => to);
}

/**
 * A foreground server (nginx, apache) in its own process group: stop()
 * sends SIGTERM to the group, then SIGKILL after a grace period. Output is
 * kept for error messages.
 */
export class Daemon {
  readonly child: ChildProcess;
  private readonly output: string[] = [];
  private exit: string | undefined;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
    private readonly logFiles: readonly string[] = [],
  ) {
    this.child = spawn(command, [...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (chunk: Buffer): void => {
      this.output.push(chunk.toString('utf8'));
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.once('error', (error) => {
      this.exit = `could not start: ${error.message}`;
    });
    this.child.once('exit', (code, signal) => {
      this.exit = `exited with code ${code}, signal ${signal}`;
    });
  }

  get exited(): string | undefined {
    return this.exit;
  }

  /** Its stdout/stderr and the tail of its log files, for failure messages. */
  describe(): string {
    const logs = this.logFiles
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}:\n${readFileSync(f, 'utf8').split('\n').slice(-30).join('\n')}`);
    return [`--- ${this.name} output:`, this.output.join('').trim(), ...logs].join('\n');
  }

  /** Waits (bounded) until `host:port` accepts TCP connections; fails early if the daemon exits. */
  async waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
    await eventually(
      async () => {
        if (this.exit !== undefined) throw new Error(`${this.name} ${this.exit} before listening on ${host}:${port}\n${this.describe()}`);
        return canConnect(host, port);
      },
      timeoutMs,
      () => `${this.name} listening on ${host}:${port}\n${this.describe()}`,
      100,
    );
  }

  /** Waits until `port` accepts on 127.0.0.1 and on ::1; stops the daemon and rethrows if it does not. */
  async waitListening(port: number): Promise<void> {
    try {
      await this.waitForPort('127.0.0.1', port);
      await this.waitForPort('::1', port);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs` (scaled). Never throws. */
  async stop(graceMs = 5000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    if (!(await waitForExit(this.child, graceMs))) signalGroup(pid, 'SIGKILL');
    await waitForExit(this.child, 2000);
    // Workers (apache's children) must not outlive their parent.
    signalGroup(pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(scaled(1000), () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * An --app module: "whoami" is answered with what wssd made of the request
 * (the client address it believes, the TCP peer, the forwarding headers);
 * every other message is echoed.
 */
export function writeWhoamiApp(dir: string): string {
  const file = join(dir, 'whoami-app.mjs');
  writeFileSync(
    file,
    `export default function onConnection(ws, request) {
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data === 'whoami') {
      ws.send(JSON.stringify({
        remoteAddress: request.remoteAddress,
        peerAddress: request.peerAddress,
        xForwardedFor: request.headers['x-forwarded-for'] ?? null,
        xRealIp: request.headers['x-real-ip'] ?? null,
        xForwardedProto: request.headers['x-forwarded-proto'] ?? null,
        secure: request.secure,
      }));
      return;
    }
    ws.send(data, { binary: isBinary });
  });
}
`,
  );
  return file;
}

/** An upgraded client's text comes back, then the closing handshake completes with 1000. */
export async function expectEchoAndClose(client: RawClient, text: string): Promise<void> {
  client.sendText(text);
  const frame = await client.readFrame(5000);
  expect(frame.opcode).toBe(Op.Text);
  expect(frame.payload.toString('utf8')).toBe(text);
  client.sendClose(1000);
  expect((await client.readClose(5000)).code).toBe(1000);
}

export interface WhoAmI {
  remoteAddress: string;
  peerAddress: string;
  xForwardedFor: string | null;
  xRealIp: string | null;
  xForwardedProto: string | null;
  secure: boolean;
}

/** `node dist/server.js …args`, once it logged its listening line. */
export async function startWssd(args: readonly string[]): Promise<WssdProcess> {
  const wssd = new WssdProcess(args);
  try {
    await wssd.waitForLine(/listening on/, 10_000);
  } catch (error) {
    wssd.kill();
    throw error;
  }
  return wssd;
}
