// What the application is told of a client's address, PHP's Gateway and
// wssd side by side: the header of every event carries an IPv4 client_ip
// ($_SERVER['REMOTE_ADDR'] in the BusinessWorker), onWebSocketConnect's
// $data['server'] the address as the Gateway's socket has it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BusinessWorker,
  businessWorkersConnected,
  lanPrefix,
  PHP_TEST_TIMEOUT,
  served,
  startPhpGateway,
  startRegister,
  startWssdGateway,
  stopAll,
  type GatewayUnderTest,
} from './support.js';

afterAll(stopAll, PHP_TEST_TIMEOUT);

interface Told {
  server: { remote: string; gatewayPort: number; clientId: string };
  ws: Record<string, unknown>;
}

describe.each(['php', 'wssd-ws'] as const)('client addresses through the %s Gateway', (kind) => {
  /** Listening on ::1, and on :: (both families). */
  let v6: GatewayUnderTest;
  let dual: GatewayUnderTest;

  beforeAll(async () => {
    const register = await startRegister();
    new BusinessWorker(register);
    const start = async (host: string): Promise<GatewayUnderTest> => {
      if (kind === 'php') return startPhpGateway(register, { host });
      const wssd = await startWssdGateway(register, { host });
      await businessWorkersConnected(wssd.process);
      return wssd;
    };
    v6 = await start('::1');
    dual = await start('::');
    await served(v6, 20_000, '::1');
    await served(dual);
  }, PHP_TEST_TIMEOUT);
  afterAll(stopAll, PHP_TEST_TIMEOUT);

  async function told(gateway: GatewayUnderTest, host: string): Promise<Told> {
    const client = await gateway.open('c', { host, path: '/where?all=1' });
    const server = (await client.call('server')) as Told['server'];
    const session = (await client.call('session')) as { server: Record<string, unknown> };
    await client.close();
    const { REMOTE_ADDR, SERVER_NAME, HTTP_HOST } = session.server;
    return { server, ws: { REMOTE_ADDR, SERVER_NAME, HTTP_HOST } };
  }

  it(
    'an IPv6 client: no IPv4 address for the event header (0.0.0.0), "[::1]" in the upgrade request, as Workerman writes it',
    async () => {
      const got = await told(v6, '::1');
      expect(got.server).toEqual({ remote: '0.0.0.0', gatewayPort: v6.port, clientId: expect.stringMatching(new RegExp(`^${lanPrefix(v6.lanPort)}`)) });
      expect(got.ws).toEqual({ REMOTE_ADDR: '[::1]', SERVER_NAME: `[::1]:${v6.port}`, HTTP_HOST: `[::1]:${v6.port}` });
    },
    PHP_TEST_TIMEOUT,
  );

  it(
    'an IPv4 client of a dual-stack listener: PHP sees an IPv4-mapped IPv6 address (no client_ip); wssd gives the IPv4 address, as PHP does on an IPv4 socket',
    async () => {
      const got = await told(dual, '127.0.0.1');
      const remote = kind === 'php' ? { header: '0.0.0.0', request: '[::ffff:127.0.0.1]' } : { header: '127.0.0.1', request: '127.0.0.1' };
      expect(got.server.remote).toBe(remote.header);
      expect(got.ws).toEqual({ REMOTE_ADDR: remote.request, SERVER_NAME: `127.0.0.1:${dual.port}`, HTTP_HOST: `127.0.0.1:${dual.port}` });
    },
    PHP_TEST_TIMEOUT,
  );
});
