// wssd as the Gateway of a PHP GatewayWorker application in the topologies
// PHP's Gateway is deployed in: --workers 2 (one LAN port per worker), two
// wssd nodes with one Register, two BusinessWorker processes, a
// BusinessWorker that dies and comes back while clients stay, and a
// secretKey (a BusinessWorker with the wrong one is refused).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/poll.js';
import {
  BusinessWorker,
  businessWorkersConnected,
  CMD,
  count,
  freshPortPair,
  gatewayClient,
  gatewayPacket,
  lanPrefix,
  lanSocket,
  PHP_TEST_TIMEOUT,
  quiet,
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

/** What php/Events.php's "worker" call answers. */
interface WorkerAnswer {
  worker: string;
  pid: number;
  sawConnect: boolean;
}

describe('wssd --workers 2 as the Gateway', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'each worker has its LAN port (client ids show both); a group broadcast from a BusinessWorker and GatewayClient pushes reach the clients of both',
    async () => {
      const register = await startRegister();
      new BusinessWorker(register);
      const lanPort = await freshPortPair();
      const wssd = await startWssdGateway(register, { lanPort, args: ['--workers', '2'] });
      // Each worker registers its own LAN port, and the BusinessWorker connects to both.
      await businessWorkersConnected(wssd.process, 2);
      expect(wssd.process.stderr.filter((l) => /GatewayWorker: registered 127\.0\.0\.1:\d+ with the Register/.test(l)).map((l) => /127\.0\.0\.1:(\d+) with/.exec(l)?.[1]).sort()).toEqual([String(lanPort), String(lanPort + 1)].sort());

      // Connections go to the workers in turn: open until there is one client on each LAN port.
      const byPrefix = new Map<string, GwClient>();
      for (let i = 0; i < 20 && byPrefix.size < 2; i++) {
        const client = await wssd.open(`c${i}`);
        if (!byPrefix.has(client.id.slice(0, 12))) byPrefix.set(client.id.slice(0, 12), client);
      }
      expect([...byPrefix.keys()].sort()).toEqual([lanPrefix(lanPort), lanPrefix(lanPort + 1)].sort());
      const [x, y] = [byPrefix.get(lanPrefix(lanPort)) as GwClient, byPrefix.get(lanPrefix(lanPort + 1)) as GwClient];
      for (const c of [x, y]) {
        await c.call('joinGroup', '@me', 'both');
        await c.call('bindUid', '@me', 'u-both');
      }
      expect(await x.call('getClientIdListByGroup', 'both')).toEqual({ [x.id]: x.id, [y.id]: y.id });

      // From a BusinessWorker, for a client of worker 0: every Gateway.
      await x.call('sendToGroup', 'both', 'from-x');
      await y.call('sendToClient', x.id, 'y-to-x');
      expect(await x.inboxAfterSync()).toEqual(['from-x', 'y-to-x']);
      expect(await y.inboxAfterSync()).toEqual(['from-x']);

      // From a web backend: GatewayClient asks the Register for both LAN ports.
      await gatewayClient(register, 'sendToGroup', 'both', 'gc-group');
      for (const c of [x, y]) await c.expectNext('gc-group');
      await gatewayClient(register, 'sendToUid', 'u-both', 'gc-uid');
      for (const c of [x, y]) await c.expectNext('gc-uid');
      expect(await gatewayClient(register, 'getClientIdCountByGroup', 'both')).toBe(2);
      expect(await gatewayClient(register, 'getClientIdByUid', 'u-both')).toEqual(expect.arrayContaining([x.id, y.id]));
      for (const c of [x, y]) expect(await c.inboxAfterSync()).toEqual([]);
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('two wssd nodes registered with one Register', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    "a group broadcast from a client of node A reaches node B's members; sends to one client cross nodes; a GatewayClient push reaches both",
    async () => {
      const register = await startRegister();
      new BusinessWorker(register);
      const a = await startWssdGateway(register);
      const b = await startWssdGateway(register, { tls: true });
      for (const node of [a, b]) await businessWorkersConnected(node.process);

      const onA = await a.open('onA');
      const onB = await b.open('onB');
      expect(onA.id.slice(0, 12)).toBe(lanPrefix(a.lanPort));
      expect(onB.id.slice(0, 12)).toBe(lanPrefix(b.lanPort));
      for (const c of [onA, onB]) await c.call('joinGroup', '@me', 'nodes');
      expect(await onA.call('getClientIdCountByGroup', 'nodes')).toBe(2);
      await onA.call('sendToGroup', 'nodes', 'from-A');
      await onA.call('sendToGroup', 'nodes', 'from-A-but-A', [onA.id]);
      await onB.call('sendToClient', onA.id, 'B-to-A');
      await onA.call('bindUid', '@me', 'on-a');
      await onB.call('sendToUid', 'on-a', 'B-to-uid-on-a');
      expect(await onA.inboxAfterSync()).toEqual(['from-A', 'B-to-A', 'B-to-uid-on-a']);
      expect(await onB.inboxAfterSync()).toEqual(['from-A', 'from-A-but-A']);

      await gatewayClient(register, 'sendToAll', 'gc-all');
      for (const c of [onA, onB]) await c.expectNext('gc-all');
      await gatewayClient(register, 'sendToGroup', 'nodes', 'gc-group', [onB.id]);
      await onA.expectNext('gc-group');
      expect(await gatewayClient(register, 'getAllClientIdCount')).toBe(2);
      for (const c of [onA, onB]) expect(await c.inboxAfterSync()).toEqual([]);
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('two BusinessWorker processes (count 2)', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'clients are spread over both; every event of a client (connect, messages, close) goes to the same one; with --gateway-router random too',
    async () => {
      const register = await startRegister();
      const business = new BusinessWorker(register, { count: 2 });
      const wssd = await startWssdGateway(register);
      await businessWorkersConnected(wssd.process, 2);

      const clients: GwClient[] = [];
      for (let i = 0; i < 6; i++) clients.push(await wssd.open(`c${i}`));
      const seen = new Map<GwClient, WorkerAnswer[]>(clients.map((c) => [c, []]));
      // Interleaved: three rounds over every client.
      for (let round = 0; round < 3; round++) for (const c of clients) seen.get(c)?.push((await c.call('worker')) as WorkerAnswer);
      const workerOf = new Map<string, string>();
      for (const [c, answers] of seen) {
        expect(new Set(answers.map((a) => `${a.worker}/${a.pid}`)).size, `${c.name}'s messages all went to one worker`).toBe(1);
        // The worker that handles its messages is the one that handled its ON_CONNECT.
        expect(answers.every((a) => a.sawConnect)).toBe(true);
        workerOf.set(c.id, answers[0].worker);
      }
      // Least connections: three clients each.
      expect([...workerOf.values()].filter((w) => w === 'business:0')).toHaveLength(3);
      expect([...workerOf.values()].filter((w) => w === 'business:1')).toHaveLength(3);

      // --gateway-router random: another wssd beside it, on the same workers; each client still keeps to one.
      const random = await startWssdGateway(register, { args: ['--gateway-router', 'random'] });
      await businessWorkersConnected(random.process, 2);
      for (let i = 0; i < 6; i++) {
        const c = await random.open(`r${i}`);
        const answers: WorkerAnswer[] = [];
        for (let n = 0; n < 3; n++) answers.push((await c.call('worker')) as WorkerAnswer);
        expect(new Set(answers.map((a) => a.worker)).size, `${c.name}'s messages all went to one worker`).toBe(1);
        expect(answers.every((a) => a.sawConnect)).toBe(true);
        await c.close();
      }

      for (const c of clients) await c.close();
      await eventually(() => business.events().filter((e) => e.event === 'close' && clients.some((c) => c.id === e.client)).length === clients.length, 10_000, () => `every close in the events log: ${JSON.stringify(business.events())}`);
      for (const c of clients) {
        const events = business.events().filter((e) => e.client === c.id);
        expect(events.map((e) => e.event)).toEqual(['connect', 'websocket-connect', 'message', 'message', 'message', 'close']);
        expect(new Set(events.map((e) => e.worker))).toEqual(new Set([workerOf.get(c.id)]));
      }
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('a BusinessWorker killed and started again', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    "clients stay connected (their messages meanwhile are lost and counted); after the restart they are served again, with their sessions, and a client's ON_CLOSE reaches the new worker",
    async () => {
      const register = await startRegister();
      const first = new BusinessWorker(register);
      const wssd = await startWssdGateway(register);
      await businessWorkersConnected(wssd.process);
      const a = await wssd.open('a');
      const w = await wssd.open('w');
      await w.call('joinGroup', '@me', 'watchers');
      await a.call('sessionSet', { keep: 'me' });
      await a.call('joinGroup', '@me', 'still-here');
      const before = (await a.call('worker')) as WorkerAnswer;

      await first.process.kill();
      await wssd.process.waitForLine(/GatewayWorker: BusinessWorker \S+ disconnected/, 10_000);
      const lost = count((await wssd.stats()).losses, 'no-business-worker');
      a.send('while nobody listens');
      a.send(JSON.stringify({ call: 'sync', args: [] }));
      await eventually(async () => count((await wssd.stats()).losses, 'no-business-worker') >= lost + 2, 5000, 'both messages counted as lost');
      expect(a.raw.closed || w.raw.closed).toBe(false);

      const second = new BusinessWorker(register);
      await businessWorkersConnected(wssd.process, 2);
      const after = (await a.call('worker')) as WorkerAnswer;
      expect(after.pid).not.toBe(before.pid);
      // Its ON_CONNECT went to the worker that is gone; the Gateway kept what it holds.
      expect(after.sawConnect).toBe(false);
      expect(await a.call('session')).toEqual({ keep: 'me' });
      expect(await a.call('getClientIdCountByGroup', 'still-here')).toBe(1);
      // Nothing of what was sent meanwhile arrives late.
      expect(await a.inboxAfterSync()).toEqual([]);

      expect(await a.close()).toEqual(['<close 1000>', '<end>']);
      expect(await w.waitFor((e) => e.startsWith('left:'), 8000, 'left:a')).toBe(`left:${a.id}:{"keep":"me"}`);
      expect(second.events().filter((e) => e.client === a.id).map((e) => e.event)).toEqual(['message', 'message', 'message', 'message', 'close']);
      expect(first.events().filter((e) => e.client === a.id && e.event === 'close')).toEqual([]);
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('wssd stopped with SIGTERM', () => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'its clients are closed with 1001, and the ON_CLOSE of each, with its last session, reaches the BusinessWorker before wssd exits',
    async () => {
      const register = await startRegister();
      const business = new BusinessWorker(register);
      const wssd = await startWssdGateway(register);
      await businessWorkersConnected(wssd.process);
      const clients: GwClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await wssd.open(`c${i}`);
        await c.call('sessionSet', { n: i });
        await c.sync();
        clients.push(c);
      }
      const endings = clients.map((c) => c.ending());
      wssd.process.child.kill('SIGTERM');
      for (const ending of await Promise.all(endings)) expect(ending).toEqual(['<close 1001>', '<end>']);
      expect(await wssd.process.exited(10_000)).toEqual({ code: 0, signal: null });
      await eventually(() => business.events().filter((e) => e.event === 'close').length === clients.length, 5000, () => `three closes in ${JSON.stringify(business.events())}`);
      const closes = business.events().filter((e) => e.event === 'close');
      expect(new Map(closes.map((e) => [e.client, e.session]))).toEqual(new Map(clients.map((c, i) => [c.id, { n: i }])));
    },
    PHP_TEST_TIMEOUT,
  );
});

describe('--gateway-secret', () => {
  let register: Register;
  let wssd: WssdGateway;

  beforeAll(async () => {
    register = await startRegister({ secret: 'the-app-key' });
    new BusinessWorker(register, { name: 'good' });
    wssd = await startWssdGateway(register);
    await businessWorkersConnected(wssd.process);
    await served(wssd);
  }, PHP_TEST_TIMEOUT);
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'with the same key everywhere the application works, GatewayClient (which authenticates each request) included',
    async () => {
      const c = await wssd.open('c');
      await c.call('bindUid', '@me', 'keyed');
      expect(await gatewayClient(register, 'isUidOnline', 'keyed')).toBe(1);
      await gatewayClient(register, 'sendToUid', 'keyed', 'with the key');
      await c.expectNext('with the key');
      expect(await c.inboxAfterSync()).toEqual([]);
      await c.close();
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'a BusinessWorker with another key is refused and logged, and never given a client; a LAN connection that sends a command before the key is closed',
    async () => {
      const intruder = new BusinessWorker(register, { name: 'intruder', gatewaySecret: 'not-the-key' });
      await wssd.process.waitForLine(/GatewayWorker: closed a LAN connection from 127\.0\.0\.1: a BusinessWorker with a wrong secret key/, 15_000);
      expect(count((await wssd.stats()).backendErrors, 'gatewayworker-refused')).toBeGreaterThan(0);
      expect(wssd.process.stderr.some((l) => /BusinessWorker 127\.0\.0\.1:intruder:\d+ connected/.test(l))).toBe(false);

      const clients: GwClient[] = [];
      for (let i = 0; i < 4; i++) clients.push(await wssd.open(`c${i}`));
      for (const c of clients) expect(((await c.call('worker')) as WorkerAnswer).worker).toBe('good:0');
      expect(intruder.events()).toEqual([]);

      // A command with no WORKER_CONNECT or GATEWAY_CLIENT_CONNECT before it: SEND_TO_ALL "sneaked".
      const refusedBefore = count((await wssd.stats()).backendErrors, 'gatewayworker-refused');
      const socket = await lanSocket(wssd.lanPort);
      socket.write(gatewayPacket(CMD.SEND_TO_ALL, 'sneaked'));
      await socketClosed(socket);
      expect(count((await wssd.stats()).backendErrors, 'gatewayworker-refused')).toBe(refusedBefore + 1);
      for (const c of clients) expect(await c.inboxAfterSync()).toEqual([]);
      for (const c of clients) await c.close();
      await quiet(wssd);
    },
    PHP_TEST_TIMEOUT,
  );
});
