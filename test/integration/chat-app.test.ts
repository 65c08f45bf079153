// The chat-room example, docs/chat-app.mjs, run as operators would run it
// (node dist/server.js --app docs/chat-app.mjs): messages relayed to every
// client, joins and leaves announced, binary refused with 1003.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { Op, RawClient, type Frame } from '../helpers/raw-client.js';

const CHAT_APP = fileURLToPath(new URL('../../docs/chat-app.mjs', import.meta.url));

describe('the chat example app (node dist/server.js --app docs/chat-app.mjs)', () => {
  let p: WssdProcess | undefined;
  afterEach(() => {
    p?.kill();
    p = undefined;
  });

  /** Reads text frames until one matches `pattern`; fails on a non-text frame or after the deadline. */
  async function receive(client: RawClient, pattern: RegExp, timeoutMs = 2000): Promise<string> {
    const frames = await client.readFramesUntil(
      (frame) => {
        expect(frame.opcode).toBe(Op.Text);
        return pattern.test(frame.payload.toString('utf8'));
      },
      timeoutMs,
      `a text frame matching ${pattern}`,
    );
    return (frames.pop() as Frame).payload.toString('utf8');
  }

  it('a message from one client is received by both; join and leave are announced', async () => {
    const port = await freePort();
    p = new WssdProcess(['--port', String(port), '--host', '127.0.0.1', '--app', CHAT_APP]);
    await p.waitForLine(/listening/);
    const alice = await RawClient.connect({ port, tls: true });
    await alice.upgrade();
    const aliceName = `127.0.0.1:${alice.socket.localPort}`;
    expect(await receive(alice, /joined/)).toBe(`* ${aliceName} joined (1 here)`);
    const bob = await RawClient.connect({ port, tls: true });
    await bob.upgrade();
    const bobName = `127.0.0.1:${bob.socket.localPort}`;
    expect(await receive(bob, /joined/)).toBe(`* ${bobName} joined (2 here)`);
    expect(await receive(alice, /joined/)).toBe(`* ${bobName} joined (2 here)`);

    alice.sendText('hello, room');
    expect(await receive(alice, /room/)).toBe(`${aliceName}: hello, room`);
    expect(await receive(bob, /room/)).toBe(`${aliceName}: hello, room`);
    bob.sendText('hi alice');
    expect(await receive(alice, /alice/)).toBe(`${bobName}: hi alice`);
    expect(await receive(bob, /alice/)).toBe(`${bobName}: hi alice`);

    // Binary is refused with 1003 (unsupported data); the others hear that bob left.
    bob.sendBinary(Buffer.from([1, 2, 3]));
    expect((await bob.readClose()).code).toBe(1003);
    bob.sendClose(1003);
    await bob.waitClosed(2000);
    expect(await receive(alice, /left/)).toBe(`* ${bobName} left`);
    alice.destroy();
  });
});
