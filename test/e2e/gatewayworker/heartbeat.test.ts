// GatewayWorker's own client heartbeat (pingInterval, pingNotResponseLimit,
// pingData), PHP's Gateway and wssd's --gateway-ping-* side by side: a client
// that says nothing gets pingData as text messages, then is dropped after
// `limit` intervals; a client that talks is never pinged nor dropped. (The
// WebSocket ping/pong frames are no part of it, in either.)
import { afterAll, describe, expect, it } from 'vitest';
import { scaled } from '../../helpers/timeouts.js';
import {
  BusinessWorker,
  businessWorkersConnected,
  PHP_TEST_TIMEOUT,
  served,
  startPhpGateway,
  startRegister,
  startWssdGateway,
  stopAll,
  type Entry,
  type GatewayUnderTest,
  type Heartbeat,
} from './support.js';

afterAll(stopAll, PHP_TEST_TIMEOUT);

const HEARTBEAT: Heartbeat = { intervalMs: 500, limit: 2, data: 'ping' };

describe.each(['php', 'wssd-ws'] as const)('the %s Gateway with pingInterval 0.5 s, pingNotResponseLimit 2, pingData "ping"', (kind) => {
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  it(
    'a silent client gets "ping" twice, then its connection ends (no Close frame) about limit × interval after its last message, and onClose runs; a client that talks is left alone',
    async () => {
      const register = await startRegister();
      new BusinessWorker(register);
      let gateway: GatewayUnderTest;
      if (kind === 'php') {
        gateway = await startPhpGateway(register, { heartbeat: HEARTBEAT });
      } else {
        const wssd = await startWssdGateway(register, { heartbeat: HEARTBEAT });
        await businessWorkersConnected(wssd.process);
        gateway = wssd;
      }
      await served(gateway);
      const talker = await gateway.open('talker');
      await talker.call('joinGroup', '@me', 'watchers');
      const talking = setInterval(() => talker.send('still here'), 100);
      try {
        const silent = await gateway.open('silent');
        const since = performance.now();
        const got: Entry[] = [];
        for (let i = 0; i < 10 && got.at(-1) !== '<end>'; i++) got.push(await silent.next(5000));
        const after = performance.now() - since;
        expect(got).toEqual(['ping', 'ping', '<end>']);
        // Dropped once it was silent for limit × interval (± half an interval, the timer's phase): never early.
        expect(after).toBeGreaterThanOrEqual(HEARTBEAT.limit * HEARTBEAT.intervalMs - HEARTBEAT.intervalMs / 2);
        expect(after).toBeLessThan(scaled(HEARTBEAT.limit * HEARTBEAT.intervalMs + 2000));
        expect(await talker.waitFor((e) => e.startsWith('left:'), 5000, 'left:silent')).toBe(`left:${silent.id}:null`);
      } finally {
        clearInterval(talking);
      }
      expect(talker.take().filter((e) => e !== 'echo:still here')).toEqual([]);
      expect(talker.raw.closed).toBe(false);
      await talker.close();
    },
    PHP_TEST_TIMEOUT,
  );
});
