// Random bytes over real TLS: on the TLS port before any handshake (refused
// and counted as a TLS client error), and after a valid upgrade (Close 1002).
// Afterwards a connection opened before the attack still echoes and new
// connections are served.
import { afterEach, describe, expect, it } from 'vitest';
import { bystanderScene } from '../helpers/bystander.js';
import { rng } from '../unit/helpers/prng.js';
import { expectServing } from '../helpers/test-server.js';
import { eventually } from '../helpers/poll.js';

const scene = bystanderScene();
const { serverWithBystander, expectBystanderEchoes } = scene;
afterEach(() => scene.close());

describe('random garbage', () => {
  it('seeded random bytes on the TLS port: each connection is closed and counted as not_tls; no error, still serving', async () => {
    const server = await serverWithBystander({ handshakeTimeout: 2000 });
    const kinds: string[] = [];
    server.server.on('tlsClientError', (kind) => kinds.push(kind));
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    await Promise.all(
      seeds.map(async (seed) => {
        const client = await server.connect({ tls: false });
        client.write(rng(seed).bytes(4096));
        // Well before the handshake deadline: OpenSSL rejects the first bytes.
        await client.waitClosed(1000);
        expect(client.pending).toBe(0);
      }),
    );
    await eventually(() => kinds.length === seeds.length, 1000, 'every garbage connection reported');
    expect(kinds).toEqual(seeds.map(() => 'not_tls'));
    expect(server.server.tlsClientErrors.get('not_tls')).toBe(seeds.length);
    expect(server.logs.lines('error')).toEqual([]);
    expect(server.accepted).toHaveLength(1);
    await expectBystanderEchoes();
    await expectServing(server);
  });

  it('garbage shaped like a TLS record (handshake type, version 3.1) is refused too, whatever its kind', async () => {
    const server = await serverWithBystander({ handshakeTimeout: 2000 });
    const body = rng(99).bytes(300);
    const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x01, 0x2c]), body]);
    const client = await server.connect({ tls: false });
    client.write(record);
    await client.waitClosed(1500);
    await eventually(() => [...server.server.tlsClientErrors.values()].reduce((a, b) => a + b, 0) === 1, 1000, 'the failure counted');
    expect(server.logs.lines('error')).toEqual([]);
    await expectBystanderEchoes();
  });

  it('seeded garbage after a valid upgrade → Close 1002, then TCP closed', async () => {
    const server = await serverWithBystander();
    const garbage = rng(4244).bytes(2048);
    // Precondition of the fixture: RSV bits set in the first byte, which §5.2
    // makes a protocol error whatever follows.
    expect(garbage[0] & 0x70).not.toBe(0);
    const client = await server.open();
    const side = await server.serverSide(client);
    client.write(garbage);
    const close = await client.readClose(2000);
    expect(close.code).toBe(1002);
    expect(close.before).toEqual([]);
    await client.waitClosed(2000);
    expect(side.messages).toEqual([]);
    expect((await side.closed).code).toBe(1006);
    await expectBystanderEchoes();
  });
});
