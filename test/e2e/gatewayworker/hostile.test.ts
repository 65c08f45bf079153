// wssd as a GatewayWorker Gateway when its peers misbehave or fail: bytes
// that are not GatewayProtocol on the LAN port, a packet larger than
// --gateway-max-packet, a big but allowed GatewayClient body, a Register that
// goes away and comes back, and no BusinessWorker at all for a while.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/poll.js';
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

describe('hostile and faulty peers on the LAN side', () => {
  let register: Register;
  let wssd: WssdGateway;
  /** A served client that must notice none of it. */
  let bystander: GwClient;

  beforeAll(async () => {
    register = await startRegister();
    new BusinessWorker(register);
    wssd = await startWssdGateway(register, { args: ['--gateway-max-packet', String(MAX_PACKET)] });
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
