// Graceful shutdown of the executable: on SIGTERM every live connection gets
// a Close 1001 ("going away", RFC 6455 §7.4.1), the process waits for the
// clients' answers and exits 0 — and a client that never answers cannot hold
// it past --shutdown-timeout.
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { RawClient } from '../helpers/raw-client.js';
import { sleep } from '../helpers/test-server.js';

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
    const { p, port } = await start([]);
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
    await sleep(500);
    expect(isRunning(p)).toBe(true);
    const answered = performance.now();
    live[2].sendClose(1001);
    await live[2].waitClosed(2000);
    const exit = await p.exited(3000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - answered).toBeLessThan(1500);
  });

  it('SIGTERM with a client that never answers the Close and --shutdown-timeout 500: exit 0 within ~2 s', async () => {
    // --close-timeout stays at its 5 s default, so only --shutdown-timeout can end this early.
    const { p, port } = await start(['--shutdown-timeout', '500']);
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
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(2000);
    // The silent client's socket was taken down with the process.
    await silent.waitClosed(1000);
  });
});
