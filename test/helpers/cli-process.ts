// Runs the built executable (`node dist/server.js …`) as a child process and
// collects its stderr lines (where wssd logs), with bounded waits (their
// timeoutMs scaled by WSSD_TEST_TIMEOUT_FACTOR).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeMs, scaled } from './timeouts.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_JS = `${ROOT}dist/server.js`;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class WssdProcess {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly stdout: string[] = [];
  private readonly exitPromise: Promise<Exit>;
  private exit: Exit | undefined;
  private onLine: (() => void) | undefined;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    if (!existsSync(SERVER_JS)) throw new Error(`${SERVER_JS} is missing: run \`npm run build\` before the integration tests`);
    // WSSD_* from the developer's shell must not leak into the tests.
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSSD_')));
    this.child = spawn(process.execPath, [SERVER_JS, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (into: string[]) => {
      let partial = '';
      return (chunk: Buffer): void => {
        partial += chunk.toString('utf8');
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        into.push(...parts);
        this.onLine?.();
      };
    };
    this.child.stderr?.on('data', collect(this.stderr));
    this.child.stdout?.on('data', collect(this.stdout));
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.onLine?.();
        resolve(this.exit);
      });
    });
  }

  /** Waits for a stderr line matching `pattern`; rejects on exit or timeout, showing what was logged. */
  waitForLine(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onLine = undefined;
        reject(new Error(`no stderr line matching ${pattern} within ${describeMs(timeoutMs)}; stderr:\n${this.stderr.join('\n')}`));
      }, scaled(timeoutMs));
      const check = (): void => {
        const line = this.stderr.find((l) => pattern.test(l));
        if (line !== undefined) {
          clearTimeout(timer);
          this.onLine = undefined;
          resolve(line);
        } else if (this.exit !== undefined) {
          clearTimeout(timer);
          this.onLine = undefined;
          reject(new Error(`wssd exited (${JSON.stringify(this.exit)}) before logging ${pattern}; stderr:\n${this.stderr.join('\n')}`));
        }
      };
      this.onLine = check;
      check();
    });
  }

  /** Resolves with the exit status; rejects (and kills the process) after timeoutMs. */
  exited(timeoutMs = 5000): Promise<Exit> {
    if (this.exit !== undefined) return Promise.resolve(this.exit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`wssd still running after ${describeMs(timeoutMs)}; stderr:\n${this.stderr.join('\n')}`));
      }, scaled(timeoutMs));
      void this.exitPromise.then((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
  }
}
