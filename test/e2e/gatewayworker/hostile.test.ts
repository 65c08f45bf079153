// wssd as a GatewayWorker Gateway when its peers misbehave or fail: bytes
// that are not GatewayProtocol on the LAN port, a packet larger than
// --gateway-max-packet, a big but allowed GatewayClient body, a Register that
// goes away and comes back, and no BusinessWorker at all for a while.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/poll.js';
import { scaled } from '../../helpers/timeouts.js';
import {
  BusinessWorker,
  businessWorkersConnected,
  CMD,
  count,
  gatewayClient,
  gatewayPacket,
  lanSocket,
  PHP_TEST_TIMEOUT,
  served,
  socketClosed,
  startRegister,
  startWssdGateway,
  stopAll,
  type GwClient,
  type Register,
  type WssdGateway,
} from './support.js';

afterAll(stopAll, PHP_TEST_TIMEOUT);

const MAX_PACKET = 8 * 1024 * 1024;
/** LAN connections at once: the BusinessWorker's link, its query socket, GatewayClients', the tests' own. */
const MAX_INNER = 8;

describe('hostile and faulty peers on the LAN side', () => {
  let register: Register;
  let wssd: WssdGateway;
  /** A served client that must notice none of it. */
  let bystander: GwClient;

  beforeAll(async () => {
    register = await startRegister();
    new BusinessWorker(register);
    wssd = await startWssdGateway(register, { args: ['--gateway-max-packet', String(MAX_PACKET), '--gateway-max-inner', String(MAX_INNER)] });
    await businessWorkersConnected(wssd.process);
    await served(wssd);
    bystander = await wssd.open('bystander');
    await bystander.call('bindUid', '@me', 'bystander');
  }, PHP_TEST_TIMEOUT);
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  /** The bystander is still served by the BusinessWorker, and GatewayClient still reaches it. */
  async function stillServed(): Promise<void> {
    expect(await bystander.call('isUidOnline', 'bystander')).toBe(1);
    await gatewayClient(register, 'sendToUid', 'bystander', 'still here');
    await bystander.expectNext('still here');
  }

  it(
    'garbage on the LAN port closes that connection only (counted); the BusinessWorker link, the clients and other LAN connections go on',
    async () => {
      const before = count((await wssd.stats()).backendErrors, 'gatewayworker-protocol');
      const patient = await lanSocket(wssd.lanPort);
      // An HTTP request: its first four bytes read as a length of 1.2 GB.
      const http = await lanSocket(wssd.lanPort);
      http.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await socketClosed(http);
      // A header that announces less than a header.
      const short = await lanSocket(wssd.lanPort);
      short.write(gatewayPacket(CMD.SEND_TO_ALL, '', { announce: 5 }));
      await socketClosed(short);
      // An ext_data longer than the packet.
      const overlong = await lanSocket(wssd.lanPort);
      const packet = gatewayPacket(CMD.SEND_TO_ALL, 'x');
      packet.writeUInt32BE(1000, 24);
      overlong.write(packet);
      await socketClosed(overlong);
      expect(count((await wssd.stats()).backendErrors, 'gatewayworker-protocol')).toBe(before + 3);
      await stillServed();
      // A LAN connection that said nothing wrong is still open, and works.
      expect(patient.destroyed).toBe(false);
      patient.write(gatewayPacket(CMD.SEND_TO_ALL, 'from the patient one'));
      expect(await bystander.waitFor((e) => e === 'from the patient one')).toBe('from the patient one');
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    `a header announcing more than --gateway-max-packet (${MAX_PACKET}) is closed at once, before its body; one of the limit exactly is carried out`,
    async () => {
      const before = count((await wssd.stats()).backendErrors, 'gatewayworker-protocol');
      const socket = await lanSocket(wssd.lanPort);
      socket.write(gatewayPacket(CMD.SEND_TO_ALL, '', { announce: MAX_PACKET + 1 }));
      await socketClosed(socket);
      expect(count((await wssd.stats()).backendErrors, 'gatewayworker-protocol')).toBe(before + 1);

      const exact = await lanSocket(wssd.lanPort);
      exact.write(gatewayPacket(CMD.SEND_TO_ALL, Buffer.alloc(MAX_PACKET - 28, 'y')));
      const big = await bystander.waitFor((e) => e.startsWith('yyy'), 20_000, 'the packet of the limit exactly');
      expect(big).toHaveLength(MAX_PACKET - 28);
      expect(exact.destroyed).toBe(false);
      exact.destroy();
      await stillServed();
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a GatewayClient sendToAll of 4 MiB is delivered whole',
    async () => {
      const size = 4 * 1024 * 1024;
      await gatewayClient(register, 'sendToAll', { repeat: ['ab', size / 2] });
      const got = await bystander.waitFor((e) => e.startsWith('abab'), 20_000, 'the 4 MiB message');
      expect(got.length).toBe(size);
      expect(got).toBe('ab'.repeat(size / 2));
      await stillServed();
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    `more LAN connections than --gateway-max-inner (${MAX_INNER}): the ones past it are closed at once, the BusinessWorker's link stays`,
    async () => {
      const sockets = [];
      for (let i = 0; i < MAX_INNER + 2; i++) sockets.push(await lanSocket(wssd.lanPort));
      // Those past the limit are closed; give each a moment to be.
      const closed = await Promise.all(sockets.map((socket) => socketClosed(socket, 1000).then(() => true, () => false)));
      expect(closed.filter((c) => c).length).toBeGreaterThanOrEqual(2);
      expect(closed.slice(0, 2)).toEqual([false, false]);
      await wssd.process.waitForLine(/GatewayWorker: a connection from \S+ to the LAN port was closed: \d+ are open \(--gateway-max-inner\)/, 5000);
      // The BusinessWorker still serves (its query socket may itself have met the limit: it reconnects).
      expect(await bystander.call('sync')).toBeNull();
      for (const socket of sockets) socket.destroy();
      await eventually(async () => (await gatewayClient(register, 'isUidOnline', 'bystander').catch(() => 0)) === 1, 10_000, 'GatewayClient served again');
      await stillServed();
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a Register that goes away and comes back: wssd registers again by itself, and GatewayClient pushes reach its clients again',
    async () => {
      const registered = (): number => wssd.process.stderr.filter((l) => /GatewayWorker: registered /.test(l)).length;
      const before = registered();
      await register.process.stop();
      await wssd.process.waitForLine(/GatewayWorker: lost the Register/, 10_000);
      // With no Register, a web backend cannot find the Gateways.
      await expect(gatewayClient(register, 'sendToUid', 'bystander', 'lost')).rejects.toThrow();

      const again = await startRegister({ port: register.port });
      expect(again.address).toBe(register.address);
      await eventually(() => registered() > before, 10_000, () => `wssd registered again:\n${wssd.process.stderr.join('\n')}`);
      // The Register knows wssd again: isUidOnline asks it for the Gateways (the BusinessWorker reconnects to it on its own).
      await eventually(async () => (await gatewayClient(again, 'isUidOnline', 'bystander').catch(() => 0)) === 1, 15_000, 'GatewayClient finds the bystander again');
      await gatewayClient(again, 'sendToUid', 'bystander', 'after the Register came back');
      await bystander.expectNext('after the Register came back');
      expect(bystander.raw.closed).toBe(false);
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('a BusinessWorker that blocks in a handler', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'events past --gateway-max-worker-buffer (1 MiB) meanwhile are dropped and counted (losses: business-worker-busy), the others handled after, in order; the client stays and is served',
    async () => {
      const register = await startRegister();
      const business = new BusinessWorker(register);
      const wssd = await startWssdGateway(register, { args: ['--gateway-max-worker-buffer', String(1024 * 1024)] });
      await businessWorkersConnected(wssd.process);
      const client = await wssd.open('client');
      // The BusinessWorker blocks in a handler for a while (scaled: long enough for what follows to pile up).
      client.send(JSON.stringify({ call: 'stall', args: [scaled(4000)] }));
      // 384 messages of 64 KiB: 24 MiB, far past what the kernel's buffers and 1 MiB hold.
      const padding = 'p'.repeat(64 * 1024);
      for (let i = 0; i < 384; i++) client.send(JSON.stringify({ call: 'echo', args: [i], pad: padding }));
      await eventually(async () => count((await wssd.stats()).losses, 'business-worker-busy') > 0, 4000, 'events dropped as the BusinessWorker is busy');
      expect(client.raw.closed).toBe(false);
      expect(await client.waitFor((e) => e.startsWith('{"re":"stall"'), 20_000, 'the end of the stall')).toBe('{"re":"stall","r":null}');
      // Every message was either handed to the BusinessWorker, which now answers it, or dropped and counted.
      const numbers = (): number[] => client.received.filter((e) => e.startsWith('{"re":"echo"')).map((e) => (JSON.parse(e) as { r: number }).r);
      const answered = (): number => numbers().length;
      let dropped = 0;
      for (let i = 0; i < 500; i++) {
        dropped = count((await wssd.stats()).losses, 'business-worker-busy');
        if (answered() + dropped === 384) break;
        await client.next(5000);
      }
      expect(answered() + dropped, `answered ${answered()}, dropped ${dropped}\n${wssd.describe()}`).toBe(384);
      expect(dropped).toBeGreaterThan(0);
      // In the order they were sent: those kept are the first ones, until the buffer was full, and maybe some that came as it drained.
      expect(numbers()).toEqual([...numbers()].sort((x, y) => x - y));
      expect(numbers().slice(0, 3)).toEqual([0, 1, 2]);
      // Then the client is served as before.
      client.take();
      expect(await client.call('worker')).toMatchObject({ worker: 'business:0', sawConnect: true });
      expect(await client.inboxAfterSync()).toEqual([]);
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('no BusinessWorker for a while', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'a client is accepted and stays; its messages are dropped and counted (losses: no-business-worker); when a BusinessWorker comes, it gets its hello and is served, the upgrade request included',
    async () => {
      const register = await startRegister();
      const wssd = await startWssdGateway(register);
      await wssd.process.waitForLine(/GatewayWorker: registered /, 10_000);
      const path = '/later?x=1';
      const waiting = await wssd.open('waiting', { path, helloMs: 0 });
      for (let i = 0; i < 3; i++) waiting.send(`lost ${i}`);
      await eventually(async () => count((await wssd.stats()).losses, 'no-business-worker') === 3, 5000, 'three messages counted as lost');
      expect((await wssd.stats()).connections).toBe(1);
      expect(waiting.raw.closed).toBe(false);

      const business = new BusinessWorker(register);
      await businessWorkersConnected(wssd.process);
      const id = await waiting.hello(10_000);
      expect(await waiting.call('session')).toEqual({ ws: { get: { x: '1' }, cookie: [], uri: path, query: 'x=1', x: null } });
      // Nothing of what it said meanwhile reaches the application late.
      expect(await waiting.inboxAfterSync()).toEqual([]);
      expect(business.events().filter((e) => e.client === id).map((e) => e.event)).toEqual(['connect', 'websocket-connect', 'message', 'message']);
      expect(count((await wssd.stats()).losses, 'no-business-worker')).toBe(3);
    },
    PHP_TEST_TIMEOUT,
  );
});
