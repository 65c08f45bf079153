// Client ids: unique across the whole fleet, short, and in GatewayWorker's
// format so PHP code that stores or parses them keeps working: 20 lowercase
// hex digits, the first 12 naming the process (GatewayWorker: the gateway's
// LAN IPv4 address and port; otherwise 6 random bytes) and the last 8 the
// connection within it (a counter from 1). A client id therefore says which
// process holds the connection, so a command for it goes to that process alone.
import { randomBytes } from 'node:crypto';

export const CLIENT_ID = /^[0-9a-f]{20}$/;

export class ClientIds {
  /** This process's 12 hex digits. */
  readonly node: string;
  private next = 1;

  constructor(node: string = randomBytes(6).toString('hex')) {
    if (!/^[0-9a-f]{12}$/.test(node)) throw new RangeError(`a node is 12 lowercase hex digits, got ${JSON.stringify(node)}`);
    this.node = node;
  }

  /** The next id; after 2^32 − 1 connections the counter starts again at 1 (GatewayWorker does the same). */
  allocate(): string {
    const id = this.node + this.next.toString(16).padStart(8, '0');
    this.next = this.next === 0xffffffff ? 1 : this.next + 1;
    return id;
  }
}

/** The process a client id names, or undefined when it is not one. */
export function nodeOfClient(id: string): string | undefined {
  return CLIENT_ID.test(id) ? id.slice(0, 12) : undefined;
}
