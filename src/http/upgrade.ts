// The upgrade decision for a parsed request head, after the RFC's rules
// (handshake.ts): who the client is (behind a trusted proxy, the address it
// reported), what the application's check says, and which subprotocol is
// spoken. Pure: the server acts on the result.
import { handshakeErrors, type HandshakeError } from '../protocol/errors.js';
import { evaluateUpgrade, selectSubprotocol } from './handshake.js';
import { clientAddress, type TrustedProxies } from './real-ip.js';
import type { RequestHead } from './request-head.js';

/** What the client asked for, as the server saw it. */
export interface UpgradeRequest extends RequestHead {
  /** The client's address: the TCP peer, or the one a trusted proxy reported. */
  remoteAddress: string;
  /** The TCP peer's port (the proxy's, behind a proxy). */
  remotePort: number;
  /** The TCP peer's address: the proxy's, behind a trusted proxy; else remoteAddress. */
  peerAddress: string;
  /** Subprotocols the client offered, in its order. */
  protocols: string[];
  /** Whether the connection came over TLS. */
  secure: boolean;
  /** The id the connection will have (20 hex digits, unique across the fleet). */
  client: string;
  /** Who the client is, once a token or the connect proxy said so; undefined for an anonymous one. */
  identity: ClientIdentity | undefined;
}

/** Who a client is and what it may do, from its token's claims or the connect proxy's answer. */
export interface ClientIdentity {
  /** The user (a token's sub), if any. */
  user: string | undefined;
  /** A small JSON object about the connection, shown in presence and events. */
  info: Record<string, unknown> | undefined;
  /** Topics the server subscribes the connection to at connect. */
  topics: readonly string[];
  /** Topics (exact, or prefixes ending in '*') the client may subscribe to itself. */
  allow: readonly string[];
  /** Whether, or to which topics, the client may publish itself. */
  publish: boolean | readonly string[];
  /** When the token expires, in ms since the epoch; undefined: never. */
  expiresAt: number | undefined;
}

/** What a request check may answer: accept (true/undefined) or refuse with a status. */
export type RequestVerdict = boolean | undefined | void | { status: number; reason?: string; headers?: Record<string, string> };

/** Chooses the subprotocol from the client's offer; undefined for none. */
export type SubprotocolSelector = (offered: readonly string[], request: UpgradeRequest) => string | undefined;

/** Checks a valid upgrade request (origin, auth…) before the 101; may refuse with a status. */
export type RequestVerifier = (request: UpgradeRequest) => RequestVerdict | Promise<RequestVerdict>;

export interface UpgradePolicy {
  paths: readonly string[] | undefined;
  trustProxy: TrustedProxies;
  subprotocols: readonly string[] | undefined;
  selectSubprotocol: SubprotocolSelector | undefined;
}

/** Where the TCP connection came from. */
export interface Peer {
  address: string;
  port: number;
  secure: boolean;
}

/** Applies §4.2.1 to a head; returns the request and its Sec-WebSocket-Accept, or throws a HandshakeError. */
export function upgradeRequest(head: RequestHead, peer: Peer, policy: UpgradePolicy, client = ''): { request: UpgradeRequest; accept: string } {
  const decision = evaluateUpgrade(head, { paths: policy.paths });
  const request: UpgradeRequest = {
    ...head,
    remoteAddress: clientAddress(peer.address, head.headers, policy.trustProxy),
    remotePort: peer.port,
    peerAddress: peer.address,
    protocols: decision.offeredProtocols,
    secure: peer.secure,
    client,
    identity: undefined,
  };
  return { request, accept: decision.accept };
}

/** The refusal an application's verifyRequest answer means, or undefined to accept. */
export function refusalOf(verdict: RequestVerdict): HandshakeError | undefined {
  if (verdict === false) return handshakeErrors.refusedByApplication();
  if (typeof verdict === 'object' && verdict !== null) {
    return handshakeErrors.refusedByApplication(verdict.status, verdict.reason ?? 'request refused by the server', verdict.headers);
  }
  return undefined;
}

/**
 * The subprotocol to answer with (§4.2.2): the application's choice, else the
 * first of the server's list that the client offered. Choosing one the client
 * did not offer is a programming error, not the client's.
 */
export function chooseSubprotocol(request: UpgradeRequest, policy: UpgradePolicy): string | undefined {
  const protocol =
    policy.selectSubprotocol !== undefined
      ? policy.selectSubprotocol(request.protocols, request)
      : selectSubprotocol(request.protocols, policy.subprotocols);
  if (protocol !== undefined && !request.protocols.includes(protocol)) {
    throw new Error(`selectSubprotocol chose ${protocol}, which the client did not offer`);
  }
  return protocol;
}
