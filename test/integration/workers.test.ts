// --workers N: one port served by N processes (node:cluster). Several worker
// pids serve; a worker that dies (SIGKILL) is replaced by a new one; SIGHUP
// reaches every worker; SIGTERM to the primary takes every worker down and
// exits 0. A worker that cannot start stops the whole server: exit 1 with one
// line; so do crashes past the limit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/poll.js';
import { CRASH_LIMIT } from '../../src/cli/workers.js';
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

/** The error-level lines, after checking that nothing on stderr is a stack trace. */
function errorLines(p: WssdProcess): string[] {
  for (const line of p.stderr) expect(line, p.stderr.join('\n')).not.toMatch(/^\s+at |node:internal/);
  return p.stderr.filter((l) => /^\S+ error /.test(l)).map((l) => l.replace(/^\S+ error +/, ''));
}

describe('--workers 2: a worker that cannot start stops the server (exit 1, one line)', () => {
  const start = (args: string[]): WssdProcess => {
    const p = new WssdProcess(['--workers', '2', '--host', '127.0.0.1', ...args]);
    running.push(p);
    return p;
  };

  it('the port in use', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const p = start(['--plain', '--port', String(port)]);
      expect(await p.exited(5000)).toEqual({ code: 1, signal: null });
      expect(errorLines(p)).toEqual([`wssd: listen EADDRINUSE: address already in use 127.0.0.1:${port}`]);
    } finally {
      holder.close();
    }
  });

  it('a --cert file that does not exist', async () => {
    const missing = join(tmp, 'no-such-cert.pem');
    const p = start(['--port', String(await freePort()), '--cert', missing, '--key', 'certs/dev-key.pem']);
    expect(await p.exited(5000)).toEqual({ code: 1, signal: null });
    const lines = errorLines(p);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^wssd: .*no-such-cert\.pem.*ENOENT/);
  });

  it('an --app that throws when imported', async () => {
    const broken = join(tmp, 'throws-at-import.mjs');
    writeFileSync(broken, "throw new Error('missing DATABASE_URL');\n");
    const p = start(['--plain', '--port', String(await freePort()), '--app', broken]);
    expect(await p.exited(5000)).toEqual({ code: 1, signal: null });
    expect(errorLines(p)).toEqual([`wssd: cannot load --app ${broken}: missing DATABASE_URL`]);
  });

  it('a worker that dies before it listens without saying why', async () => {
    const dying = join(tmp, 'exits-at-import.mjs');
    writeFileSync(dying, 'process.exit(3);\n');
    const p = start(['--plain', '--port', String(await freePort()), '--app', dying]);
    expect(await p.exited(5000)).toEqual({ code: 1, signal: null });
    expect(errorLines(p)).toEqual([expect.stringMatching(/^wssd: worker \d+ exited \(code 3\) before it was listening$/)]);
  });

  it(`workers that keep crashing after they started: restarted until ${CRASH_LIMIT} crashes, then exit 1 with one line saying so`, async () => {
    const crashing = join(tmp, 'crash-app.mjs');
    writeFileSync(crashing, "export function onConnection(ws) {\n  ws.on('message', () => process.exit(7));\n}\n");
    const port = await freePort();
    const p = start(['--plain', '--port', String(port), '--app', crashing]);
    await eventually(() => p.stderr.filter((l) => l.includes('listening')).length >= 2, 8000, 'both workers listening');
    // Each message crashes the worker that gets it; the others (and the restarted ones) take the next.
    await eventually(
      async () => {
        if (p.stderr.some((l) => l.includes('giving up'))) return true;
        const client = await RawClient.connect({ port, tls: false, timeoutMs: 1000 }).catch(() => undefined);
        if (client === undefined) return false;
        try {
          await client.upgrade({}, 1000);
          client.sendText('crash');
          await client.waitClosed(1000);
        } catch {
          // A worker that is going away may not answer: try again.
        } finally {
          client.destroy();
        }
        return false;
      },
      10_000,
      () => `the primary giving up; stderr:\n${p.stderr.join('\n')}`,
      0,
    );
    expect(await p.exited(5000)).toEqual({ code: 1, signal: null });
    const lines = errorLines(p);
    const restarts = lines.filter((l) => /exited \(code 7\); restarting in \d+ ms/.test(l));
    expect(restarts).toHaveLength(CRASH_LIMIT - 1);
    expect(lines.filter((l) => !restarts.includes(l))).toEqual([expect.stringMatching(/^wssd: workers crashed 5 times within 60 s \(the last: worker \d+, code 7\); giving up$/)]);
  });
});
