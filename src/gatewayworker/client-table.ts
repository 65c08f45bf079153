// The clients of this Gateway as GatewayWorker knows them: by connection id
// (the last 8 hex digits of the client id), in the order they connected, each
// with what GatewayWorker keeps beside the socket — the session bytes, the
// BusinessWorker it is bound to, its heartbeat count. Its uid and groups are
// not kept here: a uid is the connection's user and a group is a topic (the
// server's routes and topic registry hold them), so wssd's API and topics
// reach the same clients.
import type { SubscribeStatus, Subscriber } from '../pubsub/pubsub.js';
import type { ClientAddress } from './gateway-protocol.js';

/** What the role needs of a connection (the server's Connection). */
export interface RoleConnection extends Subscriber {
  readonly id: string;
  readonly user: string | undefined;
  setUser(user: string | undefined): void;
  readonly topics: readonly string[];
  trySubscribe(topic: string): SubscribeStatus;
  unsubscribe(topic: string): boolean;
  /** A message to this client (a `message` push for a wssd.v1 client). */
  sendMessage(data: Buffer, binary: boolean): boolean;
  kick(code: number, reason: string): void;
  terminate(): void;
}

const EMPTY = Buffer.alloc(0);

export class ClientState<C extends RoleConnection> {
  /** The session as the BusinessWorkers serialized it: stored and returned byte for byte. */
  session: Buffer = EMPTY;
  /** The BusinessWorker its events go to (worker key), once given one. */
  worker: string | undefined;
  /** It joined a group once (before that, PHP's `groups` property is null). */
  grouped = false;
  /** The ON_WEBSOCKET_CONNECT body, while its connect events wait for a BusinessWorker to connect. */
  pendingConnect: Buffer | undefined;
  /** The Gateway heartbeat's count (pingNotResponseCount): -1 after each message. */
  silence = -1;

  constructor(
    readonly connection: C,
    /** The header fields of its events. */
    readonly address: ClientAddress,
  ) {}

  get connectionId(): number {
    return this.address.connectionId;
  }
}

export class ClientTable<C extends RoleConnection> {
  private readonly byId = new Map<number, ClientState<C>>();
  private readonly byConnection = new Map<C, ClientState<C>>();

  add(state: ClientState<C>): void {
    this.byId.set(state.connectionId, state);
    this.byConnection.set(state.connection, state);
  }

  remove(state: ClientState<C>): void {
    this.byId.delete(state.connectionId);
    this.byConnection.delete(state.connection);
  }

  get(connectionId: number): ClientState<C> | undefined {
    return this.byId.get(connectionId);
  }

  of(connection: C): ClientState<C> | undefined {
    return this.byConnection.get(connection);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Every client, in the order they connected. */
  all(): IterableIterator<ClientState<C>> {
    return this.byId.values();
  }

  ids(): IterableIterator<number> {
    return this.byId.keys();
  }
}

/** The connection id a GatewayWorker-format client id ends with. */
export function connectionIdOf(clientId: string): number {
  return parseInt(clientId.slice(12), 16);
}
