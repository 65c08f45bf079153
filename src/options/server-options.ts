// Server options: each declared once in `serverOptions` below (what it holds,
// its default, its bounds, its flag, its help line), and everything else
// derived from that table: the ServerOptions type, `defaults`, the checks in
// resolveOptions(), and the executable's flags, WSSD_* variables and --help
// (cli/main.ts, cli/flags.ts). Every limit is bounded by default; docs/reference/limits.md
// mirrors the defaults here.
import { constants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import type { MessageRouter, RpcHandler } from '../gateway/message-proxy.js';
import { gatewayOptions, resolveGateway } from './gateway-options.js';
import type { ResolvedGateway } from '../gateway/settings.js';
import { gatewayWorkerOptions, resolveGatewayWorker, type ResolvedGatewayWorker } from './gatewayworker-options.js';
import type { Logger } from '../telemetry/log.js';
import { about, ConfigError, naming, option } from '../config-error.js';
import { TrustedProxies } from '../http/real-ip.js';
import { pairsInDirectory, type PairSource } from '../tls/certificates.js';
import { checkInteger, choice, defaultsOf, integer, list, resolveTable, text, toggle, toggleOr, value, type Given, type Resolved } from './declaration.js';
import { resolveDeflateOptions, type PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import type { RequestVerifier, SubprotocolSelector } from '../http/upgrade.js';
import type { Clock } from '../io/clock.js';
import type { Broker } from '../pubsub/broker.js';
import { parseRedisUrl } from '../redis/redis-url.js';
import { parseTicketKeys, readTicketKeyFile, type TicketKey } from '../tls/ticket-keys.js';


// The port's default depends on `plain`, so it is two constants rather than the entry's `default`.
const TLS_PORT = 8443;
const PLAIN_PORT = 8282;

/**
 * Every server option. The order is the order of --help. An entry without a
 * `flag` is for library callers only.
 */
const coreOptions = {
  port: integer({ min: 0, max: 65535, flag: { name: 'port', arg: 'N' }, help: 'port; 0 picks a free one', shows: `${TLS_PORT}; ${PLAIN_PORT} with --plain` }),
  host: text({ default: '::', flag: { name: 'host', arg: 'ADDR' }, help: 'address to listen on; :: is every address, IPv4 and IPv6' }),

  // The executable's --cert/--key pairs (cli/main.ts) become certFile, keyFile and sni.
  cert: value<string | Buffer>({ help: 'PEM certificate chain, leaf first; with key, required unless plain' }),
  key: value<string | Buffer>({ help: 'PEM private key for cert' }),
  certFile: text({ help: 'the certificate chain as a file, which can then be reloaded (SIGHUP, file changes)' }),
  keyFile: text({ help: 'the key as a file, for certFile' }),
  sni: value<readonly PairSource[]>({ help: "more pairs, chosen by SNI server name (from each certificate's names); the first pair stays the default" }),
  sniDir: text({ flag: { name: 'sni-dir', arg: 'DIR' }, help: 'more pairs for SNI: every NAME.crt (or NAME.pem) with its NAME.key' }),
  watchCertificates: toggle({ default: true, help: 'reload file-backed certificates (and the ticket key file) when their files change' }),
  ticketKeysFile: text({
    flag: { name: 'ticket-keys', arg: 'FILE' },
    help: "TLS session-ticket keys shared by every worker and node: 48 bytes per key (nginx's ssl_session_ticket_key format), the first encrypts, all decrypt; reloaded on SIGHUP and when the file changes",
    shows: 'a random key per process, shared by --workers',
  }),
  ticketKeys: value<Buffer>({ help: 'the ticket keys themselves, 48 bytes per key (instead of ticketKeysFile; not reloadable)' }),

  plain: toggle({ default: false, flag: { name: 'plain' }, help: 'serve ws:// without TLS, for a TLS-terminating proxy in front' }),
  noServer: toggle({ default: false, help: 'no listener of its own: upgrades come through handleUpgrade() (see attach())' }),
  path: list({
    acceptsOne: true,
    flag: { name: 'path', arg: '/P', commas: 'env' },
    help: 'accept upgrades only on this path (/wss/ for /wss too); other paths get 404 naming the served ones',
    shows: 'every path',
  }),
  trustProxy: list({
    flag: { name: 'trust-proxy', arg: 'LIST', commas: 'everywhere' },
    help: "proxies (addresses/CIDRs, comma-separated) whose X-Forwarded-For / X-Real-IP give the client's address",
    shows: 'none — the TCP peer is the client',
  }),

  // A message must fit in one Buffer (2^32 bytes on Node 20).
  maxPayload: integer({ min: 1, max: constants.MAX_LENGTH, default: 16 * 1024 * 1024, flag: { name: 'max-payload', arg: 'N' }, help: 'largest message (and frame) in bytes; larger → close 1009' }),
  maxFragments: integer({ min: 1, default: 100_000, help: 'most fragments in one message; more → close 1009' }),
  maxHeadBytes: integer({ min: 1, default: 16 * 1024, help: 'HTTP head size in bytes; more → 431' }),
  maxHeaderCount: integer({ min: 1, default: 100, help: 'HTTP header lines; more → 431' }),
  maxLineBytes: integer({ min: 1, default: 8 * 1024, help: 'bytes in one HTTP head line; more → 431' }),
  highWaterMark: integer({ min: 1, default: 64 * 1024, help: 'send() returns false, and reading pauses, past this many buffered outgoing bytes' }),
  maxBuffered: integer({
    min: 1,
    default: 16 * 1024 * 1024,
    flag: { name: 'max-buffered', arg: 'N' },
    help: 'outgoing bytes buffered per connection; past it the connection is closed with 1008 (or, with bufferPolicy drop, the message refused)',
  }),
  bufferPolicy: choice({ choices: ['close', 'drop'], default: 'close', help: "past maxBuffered: 'close' fails the connection with 1008; 'drop' refuses the message" }),
  maxConnections: integer({ min: 1, default: 100_000, flag: { name: 'max-connections', arg: 'N' }, help: 'open connections; past it new handshakes get 503' }),
  maxConnectionsPerIp: integer({
    min: 0,
    default: 0,
    flag: { name: 'max-connections-per-ip', arg: 'N' },
    help: 'open connections per client address; past it new ones get 429',
    shows: '0 = no limit',
  }),

  handshakeTimeout: integer({ min: 1, default: 10_000, flag: { name: 'handshake-timeout', arg: 'MS' }, help: 'from TCP accept to the end of the HTTP head' }),
  closeTimeout: integer({ min: 1, default: 5_000, flag: { name: 'close-timeout', arg: 'MS' }, help: "wait for the peer's Close, and for TCP to end after it" }),
  idleTimeout: integer({ min: 0, default: 0, flag: { name: 'idle-timeout', arg: 'MS' }, help: 'close connections that sent nothing this long', shows: '0 = never' }),
  pingInterval: integer({ min: 0, default: 30_000, flag: { name: 'ping-interval', arg: 'MS' }, help: 'heartbeat: ping every connection this often; 0 = off' }),
  // Defaults to pingInterval when that is shorter (see resolveOptions).
  pingTimeout: integer({
    min: 1,
    default: 10_000,
    flag: { name: 'ping-timeout', arg: 'MS' },
    help: 'terminate a connection silent this long after a ping; at most --ping-interval',
  }),

  perMessageDeflate: toggleOr<PerMessageDeflateOptions>()({
    default: false,
    flag: { name: 'deflate' },
    help: 'accept permessage-deflate (RFC 7692) when a client offers it; the library also takes an object of settings (README)',
  }),

  maxTopicLength: integer({ min: 1, max: 64 * 1024, default: 256, flag: { name: 'max-topic-length', arg: 'N' }, help: 'longest topic name, in bytes of UTF-8' }),
  maxTopicsPerConnection: integer({
    min: 1,
    default: 1000,
    flag: { name: 'max-topics-per-connection', arg: 'N' },
    help: 'topics one connection may be subscribed to at once; past it subscribe() returns false (trySubscribe: connection-limit), counted in /stats losses',
  }),
  maxTopics: integer({
    min: 1,
    default: 1_000_000,
    flag: { name: 'max-topics', arg: 'N' },
    help: 'distinct topics with subscribers in one process; past it a subscription to a new topic is refused (server-limit), counted',
  }),
  maxBackpressure: integer({
    min: 0,
    default: 1024 * 1024,
    flag: { name: 'max-backpressure', arg: 'N' },
    help: 'a subscriber with more outgoing bytes waiting than this is slow: a publication then follows --slow-subscriber-policy',
  }),
  slowSubscriberPolicy: choice({
    choices: ['drop', 'close'],
    default: 'drop',
    flag: { name: 'slow-subscriber-policy', arg: 'P' },
    help: "for a slow subscriber: 'drop' skips the publication for it (counted, and a 'drop' event), 'close' closes it with 1008",
  }),
  presencePrefix: list({
    flag: { name: 'presence-prefix', arg: 'P', commas: 'everywhere' },
    help: "topics under this prefix announce members joining and leaving (presence events); '*' for every topic. Member lists are answered for every topic",
    shows: 'none',
  }),
  presenceMaxMembers: integer({
    min: 1,
    default: 1000,
    flag: { name: 'presence-max-members', arg: 'N' },
    help: 'a topic with more subscribers than this in one process announces no joins and leaves from it',
  }),
  redis: text({
    flag: { name: 'redis', arg: 'URL' },
    help: 'join the nodes of a fleet through Redis: redis://[user:pass@]host:port/db or rediss://…',
    shows: 'none — this machine alone',
  }),
  redisCa: text({ flag: { name: 'redis-ca', arg: 'FILE' }, help: 'for rediss://: the PEM CA certificate(s) to trust (default: the system store)' }),
  redisServername: text({ flag: { name: 'redis-servername', arg: 'NAME' }, help: "for rediss://: the name Redis's certificate must have (default: the URL's host)" }),
  redisPrefix: text({ default: 'wssd:', flag: { name: 'redis-prefix', arg: 'P' }, help: "put before every topic to make its Redis channel, so apps can share one Redis" }),
  historySize: integer({
    min: 0,
    default: 0,
    flag: { name: 'history-size', arg: 'N' },
    help: 'with --redis: keep the last N publications of each topic in Redis, so nodes and clients can resume from an offset; 0 = no history',
  }),
  historyPrefix: list({
    flag: { name: 'history-prefix', arg: 'P', commas: 'everywhere' },
    help: 'only topics starting with one of these keep history',
    shows: 'every topic, when --history-size is set',
  }),
  historyTtl: integer({ min: 0, default: 0, flag: { name: 'history-ttl', arg: 'S' }, help: "seconds a topic's history is kept after its last publication; 0 = until trimmed" }),
  broker: value<Broker>({ help: 'the bus between the processes or machines of one server', shows: 'this process alone; --workers: node:cluster IPC' }),
  node: text({ help: "this process's 12 hex digits, the first 12 of its client ids (GatewayWorker mode: its LAN address and port)", shows: 'random' }),
  clock: value<Clock>({ help: 'where deadlines and timers read the time (tests drive a manual one)', shows: 'the monotonic system clock' }),

  subprotocols: value<readonly string[]>({ help: 'subprotocols the server speaks, in its order of preference' }),
  selectSubprotocol: value<SubprotocolSelector>({ help: 'chooses the subprotocol; overrides subprotocols' }),
  routeMessage: value<MessageRouter>({
    help: 'with messageUrl: whether a message goes to the message proxy (true) or stays with the application (false); default: every message goes',
  }),
  onRpc: value<RpcHandler>({
    help: "answers a wssd.v1 client's rpc: what it returns (a string, bytes, or a value sent as JSON; a promise of one) goes back; default: the message proxy",
  }),
  verifyRequest: value<RequestVerifier>({ help: 'checks a valid upgrade request (origin, auth…) before the 101; may refuse with a status' }),

  // On with --path too: the page then connects to the first path.
  demoPage: toggle({ default: true, flag: { name: 'demo-page' }, help: 'the WebSocket test page on a plain GET /, which connects to the first --path' }),
  stats: toggle({ default: false, flag: { name: 'stats' }, help: 'serve GET /stats (JSON counters) and GET /metrics (Prometheus) on the WebSocket port' }),
  statsPort: integer({ min: 0, max: 65535, flag: { name: 'stats-port', arg: 'N' }, help: 'serve /stats, /metrics and /healthz on this plain-HTTP port instead, bound to 127.0.0.1 (implies --stats)' }),
  statsHost: text({ default: '127.0.0.1', help: 'address the statsPort listener binds to' }),
  logger: value<Logger | false>({ help: 'where log lines go; false for none', shows: 'text lines on stderr' }),
};

/** Every server option: the core's, then the gateway's (gateway-options.ts), then GatewayWorker mode's (gatewayworker-options.ts). */
export const serverOptions = { ...coreOptions, ...gatewayOptions, ...gatewayWorkerOptions };

type Declared = typeof serverOptions;

/** What createServer() takes: every declared option, all optional. */
export interface ServerOptions extends Given<Declared> {}

/** Every declared default, and the port's two. */
export const defaults = { ...defaultsOf(serverOptions), tlsPort: TLS_PORT, plainPort: PLAIN_PORT } as const;

/** Options that resolveOptions() turns into something else (certificates, paths, a TrustedProxies…). */
const RESHAPED = ['cert', 'key', 'certFile', 'keyFile', 'sni', 'sniDir', 'path', 'trustProxy', 'port', 'perMessageDeflate', 'ticketKeys'] as const;
type Reshaped = (typeof RESHAPED)[number];

/** Every declared option given or defaulted and checked, plus the ones built from several. */
export interface ResolvedOptions extends Omit<Resolved<Declared>, Reshaped> {
  /** The default pair first, then the SNI pairs; empty with `plain`. */
  certificates: PairSource[];
  port: number;
  paths: readonly string[] | undefined;
  trustProxy: TrustedProxies;
  /** permessage-deflate's settings, every one given or defaulted; undefined when it is off. */
  perMessageDeflate: Required<PerMessageDeflateOptions> | undefined;
  /** The TLS session-ticket keys given (ticketKeys, or read from ticketKeysFile), first one encrypting; undefined: a random one. */
  ticketKeys: TicketKey[] | undefined;
  /** For rediss://: the CA read from redisCa, and the server name to check. */
  redisTls: { ca: Buffer | undefined; servername: string | undefined };
  /** Tokens, the connect proxy, backend URLs, checked together. */
  gateway: ResolvedGateway;
  /** GatewayWorker mode; undefined when it is off. */
  gatewayWorker: ResolvedGatewayWorker | undefined;
}

export function resolveOptions(options: ServerOptions): ResolvedOptions {
  const noServer = options.noServer === true;
  const plain = options.plain === true || noServer;
  const certificates: PairSource[] = [];
  if (!plain) {
    const hasPem = options.cert !== undefined && options.key !== undefined;
    const hasFiles = options.certFile !== undefined && options.keyFile !== undefined;
    if (!hasPem && !hasFiles) {
      throw new ConfigError(
        naming`TLS needs a certificate and a key (${option('cert')} and ${option('key')} as PEM, or ${option('certFile')} and ${option('keyFile')}); with ${option('plain')}, ws:// is served without TLS, behind a proxy`,
      );
    }
    certificates.push(hasFiles ? { certFile: options.certFile, keyFile: options.keyFile } : { cert: options.cert, key: options.key });
    certificates.push(...(options.sni ?? []));
    if (options.sniDir !== undefined) certificates.push(...pairsInDirectory(options.sniDir));
  }
  const port = checkInteger('port', options.port ?? (plain ? PLAIN_PORT : TLS_PORT), serverOptions.port);
  let paths: readonly string[] | undefined;
  if (options.path !== undefined) {
    paths = typeof options.path === 'string' ? [options.path] : options.path;
    for (const p of paths) if (!p.startsWith('/')) throw new ConfigError(naming`${option('path')} must start with "/": ${p}`);
  }
  // Each option alone: given or defaulted, and within its bounds.
  const declared = without(resolveTable(serverOptions, options), RESHAPED);
  // A ping must be answered before the next one is due, so a short interval shortens the default timeout.
  const pingTimeout = checkInteger(
    'pingTimeout',
    options.pingTimeout ?? Math.min(serverOptions.pingTimeout.default, declared.pingInterval || serverOptions.pingTimeout.default),
    serverOptions.pingTimeout,
  );
  if (declared.pingInterval > 0 && pingTimeout > declared.pingInterval) throw new ConfigError(naming`${option('pingTimeout')} must not exceed ${option('pingInterval')}`);
  // Checked here so a bad URL stops startup rather than failing in the background.
  const redis = declared.redis;
  if (redis !== undefined) about('redis', () => parseRedisUrl(redis));
  if (redis !== undefined && options.broker !== undefined) throw new ConfigError(naming`give either ${option('redis')} or ${option('broker')}, not both`);
  if (declared.historySize > 0 && redis === undefined) throw new ConfigError(naming`${option('historySize')} needs ${option('redis')}: history is kept in Redis`);
  const gatewayWorker = resolveGatewayWorker(declared, declared.node);
  return {
    ticketKeys: plain ? undefined : ticketKeys(options.ticketKeys, declared.ticketKeysFile),
    ...declared,
    certificates,
    plain,
    port,
    paths,
    trustProxy: about('trustProxy', () => new TrustedProxies(options.trustProxy ?? [])),
    perMessageDeflate: deflateOptions(options.perMessageDeflate),
    pingTimeout,
    // A separate stats port takes /stats off the WebSocket port.
    stats: declared.stats && options.statsPort === undefined,
    redisTls: { ca: readPem('redisCa', declared.redisCa), servername: declared.redisServername },
    gateway: resolveGateway(declared),
    gatewayWorker,
    // In GatewayWorker mode a client id starts with the LAN address and port, as GatewayWorker's do.
    node: gatewayWorker?.node ?? declared.node,
  };
}

/** Read and checked at startup, so a bad key file stops it with the reason. */
function ticketKeys(given: Buffer | undefined, file: string | undefined): TicketKey[] | undefined {
  if (given !== undefined && file !== undefined) throw new ConfigError(naming`give either ${option('ticketKeys')} or ${option('ticketKeysFile')}, not both`);
  if (given !== undefined) {
    if (!Buffer.isBuffer(given)) throw new ConfigError(naming`${option('ticketKeys')} must be a Buffer of 48-byte keys, got ${typeof given}`);
    return about('ticketKeys', () => parseTicketKeys(given, 'the keys given'));
  }
  return file === undefined ? undefined : about('ticketKeysFile', () => readTicketKeyFile(file));
}

/** A PEM file for a TLS option (redisCa), read at startup: a missing one is bad configuration. */
function readPem(name: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(naming`${option(name)}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function deflateOptions(given: boolean | PerMessageDeflateOptions | undefined): Required<PerMessageDeflateOptions> | undefined {
  if (given !== undefined && typeof given !== 'boolean' && (typeof given !== 'object' || given === null)) {
    throw new ConfigError(naming`${option('perMessageDeflate')} must be true, false or an object of settings, got ${String(given)}`);
  }
  try {
    return resolveDeflateOptions(given);
  } catch (error) {
    // It names the bad setting by its key: perMessageDeflate.level.
    if (error instanceof RangeError) throw new ConfigError(naming`${option('perMessageDeflate')}.${error.message}`, { cause: error });
    throw error;
  }
}

/** A copy of `object` without `keys`. */
function without<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Omit<T, K> {
  const copy = { ...object };
  for (const key of keys) delete copy[key];
  return copy;
}
