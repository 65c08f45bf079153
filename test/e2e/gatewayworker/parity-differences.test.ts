// The two GatewayWorker parity scenarios whose answers differ by design, run
// as parity.test.ts runs the others (three times, each on its own Register
// and BusinessWorker: PHP's Gateway, wssd over ws://, wssd over wss://), each
// difference stated per Gateway in the scenario itself: names PHP takes and
// wssd refuses (wssd's limits), and raw sends that wssd reads as frames where
// PHP writes the bytes as they are. Apart from parity.test.ts because its
// side-by-side comparison of transcripts leaves these two out.
import { expect } from 'vitest';
import { LIMITS, RAW_AS_FRAMES, runOnEachGateway, type Scenario } from './parity-scene.js';
import { count, type WssdGateway } from './support.js';

const scenarios: [string, Scenario][] = [
  [
    LIMITS,
    async (s) => {
      const a = await s.open('a');
      const odd = ['é 群', 'a b', 'room:1/x', ' 5', '05', '-3', '9223372036854775808'];
      for (const group of odd) await a.call('joinGroup', '@me', group);
      // Keys as PHP makes them: "-3" is an int, the others stay strings.
      expect(await a.call('getAllGroupIdList')).toEqual({ 'é 群': 'é 群', 'a b': 'a b', 'room:1/x': 'room:1/x', ' 5': ' 5', '05': '05', '-3': -3, '9223372036854775808': '9223372036854775808' });
      await a.call('sendToGroup', odd, 'to-odd');
      expect(await a.inboxAfterSync()).toEqual(odd.map(() => 'to-odd'));
      await a.call('bindUid', '@me', 'é 群');
      expect(await a.call('getUidByClientId', a.id)).toBe('é 群');

      // wssd's limits: a group is a topic, a uid is a user (docs/reference/limits.md). PHP has none.
      const long = 'x'.repeat(300);
      await a.call('joinGroup', '@me', long);
      expect(await a.call('getClientIdCountByGroup', long)).toBe(s.php ? 1 : 0);
      await a.call('joinGroup', '@me', { hex: 'ff' });
      expect(await a.call('getClientIdCountByGroup', { hex: 'ff' })).toBe(s.php ? 1 : 0);
      // A refused uid leaves the client bound to the one it had.
      await a.call('bindUid', '@me', 'y'.repeat(300));
      expect(await a.call('getUidByClientId', a.id)).toBe(s.php ? 'y'.repeat(300) : 'é 群');
      if (s.gateway.kind !== 'php') expect(count((await (s.gateway as WssdGateway).stats()).backendErrors, 'gatewayworker-command')).toBeGreaterThanOrEqual(3);
      // '' and '0' are no names, in either.
      await a.call('joinGroup', '@me', '0');
      expect(await a.call('getClientIdCountByGroup', '0')).toBe(0);
      expect(await a.inboxAfterSync()).toEqual([]);
    },
  ],
  [
    RAW_AS_FRAMES,
    async (s) => {
      const a = await s.open('a');
      const raw = async (hex: string): Promise<void> => {
        await a.call('sendToClient', '@me', { hex }, true);
      };
      // A ping: wssd keeps each connection's liveness itself and leaves it out.
      await raw('89027070');
      expect(a.take()).toEqual(s.php ? ['<ping 0x7070>'] : []);
      // A masked frame: PHP passes the mask on (a browser fails the connection); wssd sends the message.
      await raw('818301020304606060');
      expect(a.take()).toEqual(s.php ? ['<masked> abc'] : ['abc']);
      // Bytes that are not whole frames: PHP writes them into the stream (the client cannot read on); wssd refuses them, logged.
      if (!s.php) {
        await raw('68656c6c6f');
        await raw('8103');
        expect(await a.inboxAfterSync()).toEqual([]);
        expect(count((await (s.gateway as WssdGateway).stats()).backendErrors, 'gatewayworker-command')).toBeGreaterThanOrEqual(3);
      }
      // A Close: PHP writes it and goes on (the answer follows it); wssd closes the connection with its code.
      a.send(JSON.stringify({ call: 'sendToClient', args: ['@me', { hex: '880203e9' }, true] }));
      if (s.php) {
        await a.expectNext('<close 1001>', '{"re":"sendToClient","r":true}');
        // The client answered the Close: Workerman's own closing handshake (always 1000).
        expect(await a.ending()).toEqual(['<close 1000>', '<end>']);
      } else {
        expect(await a.ending()).toEqual(['<close 1001>', '<end>']);
      }
    },
  ],
];

runOnEachGateway(scenarios);
