// --workers N: one port served by N processes (node:cluster). Several worker
// pids serve; a worker that dies (SIGKILL) is replaced by a new one; SIGHUP
// reaches every worker; SIGTERM to the primary takes every worker down and
// exits 0.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { Op, RawClient } from '../helpers/raw-client.js';

let tmp: string;
let app: string;
const running: WssdProcess[] = [];
/** Worker pids seen, to clean up after a failed test (they are our grandchildren). */
const workerPids = new Set<number>();

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wssd-workers-'));
  app = join(tmp, 'pid-app.mjs');
  // Each connection is told which process serves it, then gets an echo.
  writeFileSync(app, "export default function (ws) {\n  ws.send('pid ' + process.pid);\n  ws.on('message', (d, bin) => ws.send(d, { binary: bin }));\n}\n");
});
afterEach(() => {
  for (const p of running.splice(0)) p.kill();
  for (const pid of workerPids) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  workerPids.clear();
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Opens a ws:// connection and returns the pid of the worker that serves it (after checking it echoes). */
async function servingPid(port: number): Promise<number> {
  const client = await RawClient.connect({ port, tls: false, timeoutMs: 2000 });
  try {
    await client.upgrade({}, 2000);
    const hello = await client.readFrame(2000);
    expect(hello.opcode).toBe(Op.Text);
    const m = /^pid (\d+)$/.exec(hello.payload.toString('utf8'));
    if (m === null) throw new Error(`unexpected greeting ${JSON.stringify(hello.payload.toString('utf8'))}`);
    client.sendText('ping?');
    expect((await client.readFrame(2000)).payload.toString('utf8')).toBe('ping?');
    const pid = Number(m[1]);
    workerPids.add(pid);
    return pid;
  } finally {
    client.destroy();
  }
}

/** Connects until `want` distinct pids matching `filter` have served, or fails after `ms`. */
async function collectPids(port: number, want: number, ms: number, filter: (pid: number) => boolean = () => true): Promise<Set<number>> {
  const seen = new Set<number>();
  await eventually(
    async () => {
      const pid = await servingPid(port);
      if (filter(pid)) seen.add(pid);
      return seen.size >= want;
    },
    ms,
    () => `${want} distinct worker pids serving (saw ${[...seen].join(', ') || 'none'})`,
    0,
  );
  return seen;
}

describe('--workers 2 (node:cluster)', () => {
  it('two worker processes serve one port; a SIGKILLed worker is restarted; SIGHUP is forwarded; SIGTERM to the primary ends all, exit 0', async () => {
    const port = await freePort();
    const p = new WssdProcess(['--workers', '2', '--plain', '--port', String(port), '--host', '127.0.0.1', '--app', app]);
    running.push(p);
    await p.waitForLine(/supervising 2 worker/, 5000);
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 2, 8000, 'both workers listening');
    const primary = p.child.pid ?? -1;

    const first = await collectPids(port, 2, 5000);
    expect(first.size).toBe(2);
    expect(first.has(primary)).toBe(false);
    const [victim, survivor] = [...first];

    process.kill(victim, 'SIGKILL');
    await p.waitForLine(new RegExp(`worker ${victim} exited \\(SIGKILL\\); restarting`), 3000);
    const replacement = await collectPids(port, 1, 6000, (pid) => !first.has(pid));
    const [fresh] = [...replacement];
    expect(fresh).not.toBe(primary);
    expect(alive(victim)).toBe(false);
    // Both the survivor and the new worker serve now; the dead one never again.
    const after = await collectPids(port, 2, 5000);
    expect([...after].sort()).toEqual([survivor, fresh].sort());

    // SIGHUP to the primary is forwarded: every worker reloads (plain: nothing to reload) and lives on.
    p.child.kill('SIGHUP');
    await p.waitForLine(/SIGHUP: reloading certificates \(and ticket keys\) in every worker/, 2000);
    await eventually(() => p.stderr.filter((l) => l.includes('certificates unchanged')).length === 2, 3000, 'both workers handled SIGHUP');
    expect(alive(survivor) && alive(fresh)).toBe(true);
    expect(p.stderr.filter((l) => / exited \(/.test(l))).toHaveLength(1);

    p.child.kill('SIGTERM');
    const exit = await p.exited(8000);
    expect(exit).toEqual({ code: 0, signal: null });
    await eventually(() => !alive(survivor) && !alive(fresh), 2000, 'every worker process gone');
    await expect(RawClient.connect({ port, tls: false, timeoutMs: 1000 })).rejects.toThrow();
  });
});
