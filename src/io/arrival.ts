// When and from where a TCP connection arrived. The handshake deadline counts
// from here (the TLS handshake included), and a failure after the peer reset
// the connection can still name the peer (the socket no longer knows it then).
import type net from 'node:net';
import type { Clock } from './clock.js';

export interface Arrival {
  /** The clock's time at TCP accept. */
  at: number;
  address: string;
  port: number;
}

export function arrival(socket: net.Socket, clock: Clock): Arrival {
  return { at: clock.now(), address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
}

/** "::ffff:192.0.2.1" (an IPv4 peer on a dual-stack socket) → "192.0.2.1", as operators expect. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** An address as the host part of host:port (IPv6 in brackets). */
export function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
