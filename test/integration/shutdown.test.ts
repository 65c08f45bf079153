// Graceful shutdown of the executable: on SIGTERM every live connection gets
// a Close 1001 ("going away", RFC 6455 §7.4.1), the process waits for the
// clients' answers and exits 0 — and a client that never answers cannot hold
// it past --shutdown-timeout.
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { RawClient } from '../helpers/raw-client.js';
import { sleep } from '../helpers/test-server.js';
import { scaled } from '../helpers/timeouts.js';

/**
 * For --close-timeout and --shutdown-timeout when a test is not about them:
 * longer than any wait here, so an exit the tests see came from the clients'
 * answers (or the timer under test), never from these.
 */
const LONG = String(scaled(60_000));
const SHUTDOWN_TIMEOUT = 500;

const running: WssdProcess[] = [];
const clients: RawClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of running.splice(0)) p.kill();
});

async function start(extra: string[]): Promise<{ p: WssdProcess; port: number }> {
  const port = await freePort();
  const p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', ...extra]);
  running.push(p);
  await p.waitForLine(/listening/);
  return { p, port };
}

async function openClient(port: number): Promise<RawClient> {
  const client = await RawClient.connect({ port, tls: true });
  clients.push(client);
  await client.upgrade();
  return client;
}

function isRunning(p: WssdProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

describe('graceful shutdown (node dist/server.js, wss://)', () => {
  it('SIGTERM: each live client gets Close 1001; the process waits for their answers, then exits 0', async () => {
    const { p, port } = await start(['--close-timeout', LONG, '--shutdown-timeout', LONG]);
    const live = [await openClient(port), await openClient(port), await openClient(port)];
    p.child.kill('SIGTERM');
    for (const client of live) {
      const close = await client.readClose(3000);
      expect(close.code).toBe(1001);
      expect(close.before).toEqual([]);
    }
    await p.waitForLine(/SIGTERM: closing 3 connection/, 2000);
    // No new connections while shutting down.
    await expect(RawClient.connect({ port, tls: true, timeoutMs: 1000 })).rejects.toThrow();

    // Two answer at once; the third takes its time, and the process waits for it.
    live[0].sendClose(1001);
    live[1].sendClose(1001);
    await live[0].waitClosed(2000);
    await live[1].waitClosed(2000);
    // The test shows that the process does not exit while one client has not answered.
    await sleep(scaled(500));
    expect(isRunning(p)).toBe(true);
    const answered = performance.now();
    live[2].sendClose(1001);
    await live[2].waitClosed(2000);
    const exit = await p.exited(3000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - answered).toBeLessThan(scaled(3000));
  });

  it('SIGTERM with a client that never answers the Close and --shutdown-timeout 500: exit 0 soon after 500 ms', async () => {
    // --close-timeout is long, so only --shutdown-timeout can end this early.
    const { p, port } = await start(['--shutdown-timeout', String(SHUTDOWN_TIMEOUT), '--close-timeout', LONG]);
    const silent = await openClient(port);
    const answering = await openClient(port);
    const started = performance.now();
    p.child.kill('SIGTERM');
    expect((await silent.readClose(2000)).code).toBe(1001);
    expect((await answering.readClose(2000)).code).toBe(1001);
    answering.sendClose(1001);
    await answering.waitClosed(2000);
    const exit = await p.exited(3000);
    const took = performance.now() - started;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(took).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT - 50);
    expect(took).toBeLessThan(SHUTDOWN_TIMEOUT + scaled(1500));
    // The silent client's socket was taken down with the process.
    await silent.waitClosed(1000);
  });
});
