// workerman-chat, the chat room GatewayWorker's author publishes as its
// example application, with its Events.php exactly as that project ships it
// and wssd as its Gateway: wss:// on the dev certificate, --workers 2 (a
// client's room and private messages cross between the workers), the
// application's own heartbeat ({"type":"ping"}). What it leans on: $_SESSION
// written in onMessage and read back in a later message and in onClose,
// getClientSessionsByGroup for the member list, joinGroup and sendToGroup,
// sendToClient to an id of the other worker, sendToCurrentClient.
import { afterAll, describe, expect, it } from 'vitest';
import { Op, RawClient } from '../../helpers/raw-client.js';
import { removeDir, tempDir } from '../support.js';
import {
  businessWorkersConnected,
  later,
  freshPortPair,
  lanPrefix,
  PhpProcess,
  PHP_TEST_TIMEOUT,
  startRegister,
  startWssdGateway,
  stopAll,
  type WssdGateway,
} from './support.js';

afterAll(stopAll, PHP_TEST_TIMEOUT);

/** A chat message as workerman-chat's Events.php writes them (JSON text). */
interface ChatMessage {
  type: string;
  client_id?: string;
  client_name?: string;
  client_list?: Record<string, string>;
  from_client_id?: string;
  from_client_name?: string;
  to_client_id?: string;
  content?: string;
}

/** A browser of the chat page: it logs in, talks, and reads the JSON messages the room sends it. */
class ChatUser {
  id = '';
  /** The room's members when it logged in, by client id (the application's client_list). */
  members: Record<string, string> = {};
  /** Heartbeats the Gateway sent it. */
  pings = 0;
  private inbox: ChatMessage[] = [];

  private constructor(
    readonly name: string,
    private readonly raw: RawClient,
  ) {}

  static async join(gateway: WssdGateway, name: string, room: string): Promise<ChatUser> {
    const raw = await RawClient.connect({ port: gateway.port, tls: true, timeoutMs: 5000 });
    later(() => raw.destroy());
    await raw.upgrade({ path: '/', host: `localhost:${gateway.port}` }, 5000);
    const user = new ChatUser(name, raw);
    user.send({ type: 'login', client_name: name, room_id: room });
    const welcome = await user.next('login');
    user.id = welcome.client_id ?? '';
    user.members = welcome.client_list ?? {};
    return user;
  }

  send(message: Record<string, string>): void {
    this.raw.sendText(JSON.stringify(message));
  }

  /** The next message of `type`; the others of other types stay for later, heartbeats are counted. */
  async next(type: string, timeoutMs = 5000): Promise<ChatMessage> {
    const queued = this.inbox.findIndex((m) => m.type === type);
    if (queued >= 0) return this.inbox.splice(queued, 1)[0];
    let found: ChatMessage | undefined;
    await this.raw.readFramesUntil(
      (frame) => {
        expect(frame.opcode, `${this.name}: a text frame`).toBe(Op.Text);
        const message = JSON.parse(frame.payload.toString('utf8')) as ChatMessage;
        if (message.type === 'ping') this.pings++;
        else if (message.type === type) found = message;
        else this.inbox.push(message);
        return found !== undefined;
      },
      timeoutMs,
      `${this.name}: a "${type}" message`,
    );
    return found as ChatMessage;
  }

  /** Waits for one more heartbeat than it had seen. */
  async ping(timeoutMs: number): Promise<void> {
    const seen = this.pings;
    await this.raw.readFramesUntil(
      (frame) => {
        const message = JSON.parse(frame.payload.toString('utf8')) as ChatMessage;
        if (message.type === 'ping') this.pings++;
        else this.inbox.push(message);
        return this.pings > seen;
      },
      timeoutMs,
      `${this.name}: a heartbeat`,
    );
  }

  /** Messages received and not taken, heartbeats left out. */
  unread(): ChatMessage[] {
    return [...this.inbox];
  }

  close(): void {
    this.raw.sendClose(1000);
  }
}

describe('workerman-chat (its Events.php unchanged) with wssd as its Gateway over wss://, --workers 2', () => {
  it(
    'logins list the room from the sessions, messages reach the room across the workers, private messages find their client, onClose reads the session, the heartbeat is the application’s',
    async () => {
      const register = await startRegister();
      const dir = tempDir('gw-chat');
      later(() => removeDir(dir));
      new PhpProcess('chat-business', 'chat-business.php', ['--register', register.address, '--count', '2'], dir);
      const lanPort = await freshPortPair();
      const gateway = await startWssdGateway(register, {
        tls: true,
        lanPort,
        heartbeat: { intervalMs: 1000, limit: 0, data: '{"type":"ping"}' },
        args: ['--workers', '2'],
      });
      // Two BusinessWorker processes, each linked to both wssd workers.
      await businessWorkersConnected(gateway.process, 4);

      const alice = await ChatUser.join(gateway, 'alice', '1');
      const bobs: ChatUser[] = [];
      for (let i = 0; i < 4; i++) {
        const bob = await ChatUser.join(gateway, `bob${i}`, '1');
        bobs.push(bob);
        // Everyone already in the room is named in the newcomer's list (from getClientSessionsByGroup), and alice hears of it.
        expect(bob.id).toMatch(/^[0-9a-f]{20}$/);
        expect(bob.members).toEqual(Object.fromEntries([alice, ...bobs].map((u) => [u.id, u.name])));
        expect(await alice.next('login')).toMatchObject({ client_id: bob.id, client_name: bob.name });
        for (const earlier of bobs.slice(0, -1)) expect(await earlier.next('login')).toMatchObject({ client_id: bob.id });
      }
      const everyone = [alice, ...bobs];
      // The connections are spread over both workers: client ids carry each one's LAN port.
      expect(new Set(everyone.map((u) => u.id.slice(0, 12)))).toEqual(new Set([lanPrefix(lanPort), lanPrefix(lanPort + 1)]));
      const carol = await ChatUser.join(gateway, 'carol', '2');
      expect(carol.members).toEqual({ [carol.id]: 'carol' });

      // bob0 to the room: escaped by the application, to every member on either worker, not to room 2.
      const [bob0] = bobs;
      bob0.send({ type: 'say', to_client_id: 'all', content: 'hi <all>' });
      for (const user of everyone) expect(await user.next('say')).toMatchObject({ from_client_id: bob0.id, from_client_name: 'bob0', to_client_id: 'all', content: 'hi &lt;all&gt;' });

      // A private message to a client id, wherever it is; the sender gets its own copy.
      const other = bobs.find((b) => b.id.slice(0, 12) !== bob0.id.slice(0, 12));
      expect(other).toBeDefined();
      const to = other as ChatUser;
      bob0.send({ type: 'say', to_client_id: to.id, to_client_name: to.name, content: 'psst' });
      expect(await to.next('say')).toMatchObject({ from_client_id: bob0.id, to_client_id: to.id, content: '<b>对你说: </b>psst' });
      expect(await bob0.next('say')).toMatchObject({ to_client_id: to.id, content: `<b>你对${to.name}说: </b>psst` });

      // bob0 leaves: onClose reads its session (room and name) and tells the room.
      bob0.close();
      for (const user of everyone.slice(0, 1).concat(bobs.slice(1))) {
        expect(await user.next('logout')).toMatchObject({ from_client_id: bob0.id, from_client_name: 'bob0' });
      }

      // A newcomer to room 1 sees who is left.
      const dave = await ChatUser.join(gateway, 'dave', '1');
      const room = [alice, ...bobs.slice(1), dave];
      expect(dave.members).toEqual(Object.fromEntries(room.map((u) => [u.id, u.name])));
      for (const user of room.slice(0, -1)) expect(await user.next('login')).toMatchObject({ client_id: dave.id });

      // The application's heartbeat: pingData each interval to a client that said nothing in it.
      await alice.ping(5000);
      await carol.ping(5000);

      // Nothing else arrived: room 2 heard nothing of room 1.
      expect(carol.unread()).toEqual([]);
      for (const user of room) expect(user.unread()).toEqual([]);
    },
    PHP_TEST_TIMEOUT,
  );
});
