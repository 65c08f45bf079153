// Server options, their defaults, and their validation. Every limit is bounded
// by default; the README's limits table mirrors `defaults` below.
import { constants } from 'node:buffer';
import type { Logger } from './log.js';
import { ConfigError } from './config-error.js';
import { TrustedProxies } from './http/real-ip.js';
import { pairsInDirectory, type PairSource } from './tls/certificates.js';

const MAX_LENGTH = constants.MAX_LENGTH;
import type { UpgradeRequest } from './connection.js';

/** What a request check may answer: accept (true/undefined) or refuse with a status. */
export type RequestVerdict = boolean | undefined | void | { status: number; reason?: string; headers?: Record<string, string> };

export interface ServerOptions {
  /** PEM certificate chain (leaf first) and key. Omit both with `plain: true`. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Or the same as files, which can then be reloaded (SIGHUP, file changes). */
  certFile?: string;
  keyFile?: string;
  /** More pairs, chosen by SNI server name (from each certificate's names); the first pair stays the default. */
  sni?: readonly PairSource[];
  /** A directory of NAME.crt (or NAME.pem) + NAME.key pairs for SNI. */
  sniDir?: string;
  /** Reload file-backed certificates when their files change. Default: true. */
  watchCertificates?: boolean;
  /** Serve plain ws:// (behind a TLS-terminating proxy). */
  plain?: boolean;
  /** No listener of its own: upgrades come through handleUpgrade() (see attach()). */
  noServer?: boolean;
  host?: string;
  /** Default 8443, or 8282 with `plain`. 0 picks a free port. */
  port?: number;
  /** Paths that accept WebSocket upgrades; default: every path. */
  path?: string | readonly string[];
  /** Largest message (and frame) in bytes; larger → close 1009. */
  maxPayload?: number;
  /** Most fragments in one message; more → close 1009. */
  maxFragments?: number;
  /** HTTP head limits: bytes, header lines, bytes per line; over → 431. */
  maxHeadBytes?: number;
  maxHeaderCount?: number;
  maxLineBytes?: number;
  /** From TCP accept to the end of the HTTP head, in ms. */
  handshakeTimeout?: number;
  /** How long to wait for the peer's Close and for TCP to end, in ms. */
  closeTimeout?: number;
  /** send() returns false, and reading pauses, past this many buffered outgoing bytes. */
  highWaterMark?: number;
  /** Hard cap on a connection's buffered outgoing bytes; past it `bufferPolicy` applies. */
  maxBuffered?: number;
  /** Past maxBuffered: 'close' fails the connection with 1008 (default); 'drop' refuses the message. */
  bufferPolicy?: 'close' | 'drop';
  /**
   * Proxies whose X-Forwarded-For / X-Real-IP are believed (addresses or
   * CIDRs, e.g. ["127.0.0.1", "::1", "10.0.0.0/8"]). Empty (default): the TCP peer is the client.
   */
  trustProxy?: readonly string[];
  /** Open WebSocket connections at most; new handshakes get 503 past it. */
  maxConnections?: number;
  /** Open connections per client address at most (0 = no limit); new ones get 429 past it. */
  maxConnectionsPerIp?: number;
  /** Close connections that sent nothing for this long, in ms; 0 (default) = never. */
  idleTimeout?: number;
  /** Ping every connection this often, in ms; 0 = never. */
  pingInterval?: number;
  /** Terminate a connection from which nothing came back this long after a ping, in ms. */
  pingTimeout?: number;
  /** Subprotocols the server speaks, in its order of preference. */
  subprotocols?: readonly string[];
  /** Chooses the subprotocol; overrides `subprotocols`. Return undefined for none. */
  selectSubprotocol?: (offered: readonly string[], request: UpgradeRequest) => string | undefined;
  /** Checks a valid upgrade request (origin, auth…) before the 101; may refuse with a status. */
  verifyRequest?: (request: UpgradeRequest) => RequestVerdict | Promise<RequestVerdict>;
  /** Serve the WebSocket test page on a plain GET / (default true). */
  demoPage?: boolean;
  /** Serve GET /stats (JSON) on the WebSocket port (default false). */
  stats?: boolean;
  /** Serve /stats on this separate plain-HTTP port instead, bound to statsHost (default 127.0.0.1). */
  statsPort?: number;
  statsHost?: string;
  /** Where log lines go; false for none. Default: text lines on stderr. */
  logger?: Logger | false;
}

export const defaults = {
  host: '::',
  tlsPort: 8443,
  plainPort: 8282,
  maxPayload: 16 * 1024 * 1024,
  maxFragments: 100_000,
  maxHeadBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxLineBytes: 8 * 1024,
  handshakeTimeout: 10_000,
  closeTimeout: 5_000,
  highWaterMark: 64 * 1024,
  maxBuffered: 16 * 1024 * 1024,
  maxConnections: 100_000,
  maxConnectionsPerIp: 0,
  idleTimeout: 0,
  pingInterval: 30_000,
  pingTimeout: 10_000,
} as const;

export interface ResolvedOptions {
  /** The default pair first, then the SNI pairs; empty with `plain`. */
  certificates: PairSource[];
  watchCertificates: boolean;
  plain: boolean;
  noServer: boolean;
  host: string;
  port: number;
  paths: readonly string[] | undefined;
  maxPayload: number;
  maxFragments: number;
  maxHeadBytes: number;
  maxHeaderCount: number;
  maxLineBytes: number;
  handshakeTimeout: number;
  closeTimeout: number;
  highWaterMark: number;
  maxBuffered: number;
  bufferPolicy: 'close' | 'drop';
  maxConnections: number;
  maxConnectionsPerIp: number;
  trustProxy: TrustedProxies;
  idleTimeout: number;
  pingInterval: number;
  pingTimeout: number;
  subprotocols: readonly string[] | undefined;
  selectSubprotocol: ServerOptions['selectSubprotocol'];
  verifyRequest: ServerOptions['verifyRequest'];
  logger: Logger | false | undefined;
  demoPage: boolean;
  stats: boolean;
  statsPort: number | undefined;
  statsHost: string;
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`option ${name} must be a non-negative integer, got ${String(value)}`);
  return value;
}

function positiveInt(name: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new ConfigError(`option ${name} must be a positive integer up to ${max}, got ${String(value)}`);
  }
  return value;
}

function bufferPolicy(value: string | undefined): 'close' | 'drop' {
  if (value === undefined || value === 'close' || value === 'drop') return value ?? 'close';
  throw new ConfigError(`option bufferPolicy must be 'close' or 'drop', got ${value}`);
}

// Checked here rather than by listen(), whose RangeError would read as a bug.
function portNumber(name: string, port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`${name} must be 0–65535, got ${port}`);
  return port;
}

function trustedProxies(specs: readonly string[]): TrustedProxies {
  try {
    return new TrustedProxies(specs);
  } catch (error) {
    // TrustedProxies says a spec is bad with a RangeError; here that is bad configuration.
    if (error instanceof RangeError) throw new ConfigError(error.message, { cause: error });
    throw error;
  }
}

export function resolveOptions(options: ServerOptions): ResolvedOptions {
  const noServer = options.noServer === true;
  const plain = options.plain === true || noServer;
  const certificates: PairSource[] = [];
  if (!plain) {
    const hasPem = options.cert !== undefined && options.key !== undefined;
    const hasFiles = options.certFile !== undefined && options.keyFile !== undefined;
    if (!hasPem && !hasFiles) {
      throw new ConfigError('TLS needs a certificate and a key (cert/key PEM or certFile/keyFile); pass plain: true to serve ws:// behind a proxy');
    }
    certificates.push(hasFiles ? { certFile: options.certFile, keyFile: options.keyFile } : { cert: options.cert, key: options.key });
    certificates.push(...(options.sni ?? []));
    if (options.sniDir !== undefined) certificates.push(...pairsInDirectory(options.sniDir));
  }
  const port = portNumber('port', options.port ?? (plain ? defaults.plainPort : defaults.tlsPort));
  let paths: readonly string[] | undefined;
  if (options.path !== undefined) {
    paths = typeof options.path === 'string' ? [options.path] : options.path;
    for (const p of paths) if (!p.startsWith('/')) throw new ConfigError(`path must start with "/": ${p}`);
  }
  const pingInterval = nonNegativeInt('pingInterval', options.pingInterval, defaults.pingInterval);
  const pingTimeout = positiveInt('pingTimeout', options.pingTimeout, Math.min(defaults.pingTimeout, pingInterval || defaults.pingTimeout));
  if (pingInterval > 0 && pingTimeout > pingInterval) throw new ConfigError('pingTimeout must not exceed pingInterval');
  return {
    certificates,
    watchCertificates: options.watchCertificates ?? true,
    plain,
    noServer,
    host: options.host ?? defaults.host,
    port,
    paths,
    // A message must fit in one Buffer (2^32 bytes on Node 20).
    maxPayload: positiveInt('maxPayload', options.maxPayload, defaults.maxPayload, MAX_LENGTH),
    maxFragments: positiveInt('maxFragments', options.maxFragments, defaults.maxFragments),
    maxHeadBytes: positiveInt('maxHeadBytes', options.maxHeadBytes, defaults.maxHeadBytes),
    maxHeaderCount: positiveInt('maxHeaderCount', options.maxHeaderCount, defaults.maxHeaderCount),
    maxLineBytes: positiveInt('maxLineBytes', options.maxLineBytes, defaults.maxLineBytes),
    handshakeTimeout: positiveInt('handshakeTimeout', options.handshakeTimeout, defaults.handshakeTimeout),
    closeTimeout: positiveInt('closeTimeout', options.closeTimeout, defaults.closeTimeout),
    highWaterMark: positiveInt('highWaterMark', options.highWaterMark, defaults.highWaterMark),
    maxBuffered: positiveInt('maxBuffered', options.maxBuffered, defaults.maxBuffered),
    bufferPolicy: bufferPolicy(options.bufferPolicy),
    trustProxy: trustedProxies(options.trustProxy ?? []),
    maxConnections: positiveInt('maxConnections', options.maxConnections, defaults.maxConnections),
    maxConnectionsPerIp: nonNegativeInt('maxConnectionsPerIp', options.maxConnectionsPerIp, defaults.maxConnectionsPerIp),
    idleTimeout: nonNegativeInt('idleTimeout', options.idleTimeout, defaults.idleTimeout),
    pingInterval,
    pingTimeout,
    subprotocols: options.subprotocols,
    selectSubprotocol: options.selectSubprotocol,
    verifyRequest: options.verifyRequest,
    logger: options.logger,
    demoPage: options.demoPage ?? true,
    stats: options.stats === true && options.statsPort === undefined,
    statsPort: options.statsPort === undefined ? undefined : portNumber('statsPort', options.statsPort),
    statsHost: options.statsHost ?? '127.0.0.1',
  };
}
