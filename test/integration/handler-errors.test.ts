// An application's handler that throws — the code a peer's bytes run — costs
// that one connection, never the process: a 'message', 'ping' or 'pong'
// handler that throws closes its connection with 1011 and no details on the
// wire, the error going to the connection's 'error' listeners or, without
// one, to the log; a 'connection' handler that throws terminates that
// connection and is logged. Other connections and the server carry on.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Connection, type WebSocketServer } from '../../src/index.js';
import { eventually } from '../helpers/poll.js';
import { Op, RawClient } from '../helpers/raw-client.js';
import { CapturingLogger, PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

const servers: TestServer[] = [];
const bare: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const s of bare.splice(0)) await s.close(1001, 'test over', 300);
});

/** A server of its own, whose connections have no 'error' listener, logging into `logs`. */
async function bareServer(logs: CapturingLogger, onConnection: (ws: Connection) => void): Promise<number> {
  const server = createServer({ host: '127.0.0.1', port: 0, plain: true, pingInterval: 0, logger: logs });
  server.on('connection', onConnection);
  bare.push(server);
  return (await server.listen()).port;
}

async function openAt(port: number): Promise<RawClient> {
  const client = await RawClient.connect({ port, tls: false });
  await client.upgrade();
  return client;
}

describe('handlers that throw', () => {
  it("a 'message' handler that throws: that connection gets Close 1011 with no reason, its 'error' listener the error; the others carry on", async () => {
    const ts = await startServer(PLAIN_MODE, { echo: false });
    servers.push(ts);
    ts.server.on('connection', (ws) => {
      ws.on('message', (data) => {
        if (data === 'boom') throw new Error('secret internals of the app');
        ws.send(data);
      });
    });
    const victim = await ts.open();
    const bystander = await ts.open();
    const side = await ts.serverSide(victim);
    victim.sendText('boom');
    const close = await victim.readClose();
    expect(close).toMatchObject({ code: 1011, reason: '' });
    await victim.waitClosed();
    expect(side.errors.map((e) => e.message)).toContain('secret internals of the app');
    bystander.sendText('still here');
    const echo = await bystander.readFrame();
    expect({ opcode: echo.opcode, text: echo.payload.toString() }).toEqual({ opcode: Op.Text, text: 'still here' });
    expect(ts.logs.lines('error')).toEqual([]);
  });

  it("without an 'error' listener the error is logged, with the peer's address; a 'ping' handler that throws is handled the same", async () => {
    const logs = new CapturingLogger();
    const port = await bareServer(logs, (ws) => {
      ws.on('ping', () => {
        throw new Error('ping handler failed');
      });
    });
    const client = await openAt(port);
    client.send({ opcode: Op.Ping, payload: Buffer.from('hi') });
    const frames = await client.readFramesUntil((f) => f.opcode === Op.Close);
    const close = frames[frames.length - 1];
    expect(close.payload.readUInt16BE(0)).toBe(1011);
    expect(close.payload.length).toBe(2);
    await eventually(() => logs.lines('error').some((l) => l.includes('ping handler failed') && l.includes('127.0.0.1') && l.includes('1011')), 2000, 'the logged handler error');
    await expectOpen(port);
  });

  it("a 'connection' handler that throws: that connection is terminated and the error logged; the server carries on", async () => {
    const logs = new CapturingLogger();
    let first = true;
    const port = await bareServer(logs, (ws) => {
      if (first) {
        first = false;
        throw new Error('connection handler failed');
      }
      ws.send('welcome');
    });
    const victim = await openAt(port);
    await victim.waitClosed();
    expect(logs.lines('error').some((l) => l.includes('connection handler threw') && l.includes('connection handler failed'))).toBe(true);
    const next = await openAt(port);
    expect((await next.readFrame()).payload.toString()).toBe('welcome');
    next.destroy();
  });
});

/** The server at `port` still completes a handshake. */
async function expectOpen(port: number): Promise<void> {
  const client = await openAt(port);
  client.destroy();
}
