// The production process: flags and WSSD_* environment variables → options →
// server, plus the startup line and the signals. Errors in the configuration
// stop startup with one clear line and exit code 1.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import cluster from 'node:cluster';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Connection, UpgradeRequest } from './connection.js';
import { defaults, type ServerOptions } from './config.js';
import { ConfigError } from './config-error.js';
import { createLogger, type LogFormat, type Logger } from './log.js';
import { CertificateError, describePair } from './tls/certificates.js';
import { createServer, type WebSocketServer } from './websocket-server.js';
import { parseWorkers, supervise } from './workers.js';

const DEV_CERT = fileURLToPath(new URL('../certs/dev-cert.pem', import.meta.url));
const DEV_KEY = fileURLToPath(new URL('../certs/dev-key.pem', import.meta.url));

/** What --app modules export: called for every connection; `server` gives access to all of them (broadcast). */
export type ConnectionHandler = (connection: Connection, request: UpgradeRequest, server: WebSocketServer) => void;

const HELP = `Usage: wssd [options]       (node dist/server.js [options])

A WebSocket server (RFC 6455): wss:// with its own TLS, or ws:// behind nginx/apache.
Every option can also be set as WSSD_<NAME> in the environment (e.g. WSSD_PORT=443).

  --port N            port (default ${defaults.tlsPort}; ${defaults.plainPort} with --plain)
  --host ADDR         address to listen on (default :: = all, IPv4 and IPv6)
  --cert FILE         PEM certificate chain, leaf first (default: the dev certificate in certs/);
                      repeat --cert/--key for more names: the first pair is the default, the
                      others are chosen by SNI server name
  --key FILE          PEM private key (default: the dev key in certs/)
  --sni-dir DIR       more pairs for SNI: every NAME.crt (or NAME.pem) with its NAME.key
                      Certificates reload without a restart on SIGHUP and when their files change.
  --plain             serve ws:// without TLS, for a TLS-terminating proxy in front
  --path /P           accept upgrades only on this path (repeatable; default: every path)
  --trust-proxy LIST  proxies (addresses/CIDRs, comma-separated) whose X-Forwarded-For / X-Real-IP
                      give the client's address (default: none — the TCP peer is the client)
  --max-payload N     largest message in bytes (default ${defaults.maxPayload})
  --max-buffered N    outgoing bytes buffered per connection before it is closed with 1008 (default ${defaults.maxBuffered})
  --max-connections N open connections; past it new handshakes get 503 (default ${defaults.maxConnections})
  --max-connections-per-ip N  per client address, 429 past it (default 0 = no limit)
  --handshake-timeout MS  from TCP accept to the end of the HTTP head (default ${defaults.handshakeTimeout})
  --close-timeout MS  wait for the peer's Close / for shutdown (default ${defaults.closeTimeout})
  --idle-timeout MS   close connections that sent nothing this long (default 0 = never)
  --ping-interval MS  heartbeat ping period, 0 = off (default ${defaults.pingInterval})
  --ping-timeout MS   drop a peer silent this long after a ping, at most --ping-interval (default ${defaults.pingTimeout})
  --app MODULE        module whose default export (or onConnection) handles connections (default: echo)
  --log-format F      text (default) or json
  --stats             serve GET /stats (JSON counters) on the WebSocket port
  --stats-port N      serve /stats on this port instead, on 127.0.0.1 (implies --stats)
  --shutdown-timeout MS  on SIGTERM/SIGINT, wait this long for connections to close (default 10000)
  --workers N|auto    processes sharing the port (node:cluster); auto = one per CPU (default 1)
  --help              this text
`;

// It was declared here first; importers of cli.ts still find it.
export { ConfigError };

/** Integer flags and the option each sets. */
const INT_FLAGS = {
  'max-payload': 'maxPayload',
  'max-buffered': 'maxBuffered',
  'max-connections': 'maxConnections',
  'max-connections-per-ip': 'maxConnectionsPerIp',
  'handshake-timeout': 'handshakeTimeout',
  'close-timeout': 'closeTimeout',
  'idle-timeout': 'idleTimeout',
  'ping-interval': 'pingInterval',
  'ping-timeout': 'pingTimeout',
  'stats-port': 'statsPort',
} as const satisfies Record<string, keyof ServerOptions>;

interface CliConfig {
  options: ServerOptions;
  workers: number;
  shutdownTimeout: number;
  app: string | undefined;
  logFormat: LogFormat;
  certFile: string | undefined;
  usingDevCert: boolean;
}

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) throw new ConfigError(`--${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliConfig | 'help' {
  const { values } = parseFlags({
    args: [...argv],
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      cert: { type: 'string', multiple: true },
      key: { type: 'string', multiple: true },
      'sni-dir': { type: 'string' },
      plain: { type: 'boolean' },
      path: { type: 'string', multiple: true },
      'trust-proxy': { type: 'string', multiple: true },
      ...Object.fromEntries(Object.keys(INT_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      app: { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'log-format': { type: 'string' },
      stats: { type: 'boolean' },
      'stats-port': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const fromEnv = (name: string): string | undefined => {
    const v = env[`WSSD_${name.toUpperCase().replace(/-/g, '_')}`];
    return v === '' ? undefined : v;
  };
  const str = (name: string): string | undefined => {
    const v = (values as Record<string, string | boolean | string[] | undefined>)[name];
    return typeof v === 'string' ? v : fromEnv(name);
  };
  const plainEnv = fromEnv('plain');
  const plain = values.plain === true || plainEnv === '1' || plainEnv === 'true';
  const logFormat = str('log-format') ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new ConfigError(`--log-format must be text or json, got "${logFormat}"`);
  const envPath = fromEnv('path');
  const paths = values.path ?? (envPath !== undefined ? envPath.split(',') : undefined);

  const trustArgs = values['trust-proxy'] ?? (fromEnv('trust-proxy') !== undefined ? [fromEnv('trust-proxy') as string] : []);
  const trustProxy = trustArgs.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const options: ServerOptions = {
    trustProxy,
    plain,
    host: str('host'),
    port: intOption('port', str('port')),
    path: paths,
  };
  for (const [flag, key] of Object.entries(INT_FLAGS)) {
    const value = intOption(flag, str(flag));
    if (value !== undefined) options[key] = value;
  }
  let certFile: string | undefined;
  let usingDevCert = false;
  if (!plain) {
    const certs = values.cert ?? (fromEnv('cert') !== undefined ? [fromEnv('cert') as string] : []);
    const keys = values.key ?? (fromEnv('key') !== undefined ? [fromEnv('key') as string] : []);
    if (certs.length !== keys.length) throw new ConfigError('--cert and --key go together, one --key for each --cert');
    usingDevCert = certs.length === 0;
    if (usingDevCert) {
      certs.push(DEV_CERT);
      keys.push(DEV_KEY);
    }
    certFile = certs[0];
    options.certFile = certs[0];
    options.keyFile = keys[0];
    // Further pairs are chosen by SNI server name.
    options.sni = certs.slice(1).map((c, i) => ({ certFile: c, keyFile: keys[i + 1] }));
    options.sniDir = str('sni-dir');
  }
  const statsEnv = fromEnv('stats');
  options.stats = values.stats === true || statsEnv === '1' || statsEnv === 'true';
  const workers = parseWorkers(str('workers'));
  const shutdownTimeout = intOption('shutdown-timeout', str('shutdown-timeout')) ?? 10_000;
  return { options, workers, shutdownTimeout, app: str('app'), logFormat, certFile, usingDevCert };
}

/** parseArgs, with the operator's typos (an unknown flag, a missing value…) as ConfigErrors rather than TypeErrors. */
function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new ConfigError((error as Error).message, { cause: error });
    throw error;
  }
}

function echo(connection: Connection): void {
  connection.on('message', (data, isBinary) => connection.send(data, { binary: isBinary }));
}

async function loadApp(spec: string): Promise<ConnectionHandler> {
  const url = spec.startsWith('file:') ? spec : pathToFileURL(resolve(spec)).href;
  let mod: { default?: unknown; onConnection?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown; onConnection?: unknown };
  } catch (error) {
    throw new ConfigError(`cannot load --app ${spec}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const handler = mod.onConnection ?? mod.default;
  if (typeof handler !== 'function') throw new ConfigError(`--app ${spec} exports no function (default export or onConnection)`);
  return handler as ConnectionHandler;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<WebSocketServer | undefined> {
  let config: CliConfig | 'help';
  let log: Logger = createLogger('text');
  let server: WebSocketServer;
  try {
    config = parseCli(argv, env);
    if (config === 'help') {
      process.stdout.write(HELP);
      return undefined;
    }
    log = createLogger(config.logFormat);
    if (config.workers > 1 && cluster.isPrimary) {
      // The primary only supervises; each worker runs this same main() and listens.
      const done = supervise(config.workers, log, config.shutdownTimeout);
      void done.then(() => process.exit(0));
      return undefined;
    }
    const handler = config.app !== undefined ? await loadApp(config.app) : echo;
    server = createServer({ ...config.options, logger: log });
    const app = handler;
    server.on('connection', (connection, request) => app(connection, request, server));
    server.on('error', (error) => log.error(`server error: ${error.message}`));
    const address = await server.listen();
    const certificates = server.certificates;
    const tlsNote =
      certificates === undefined
        ? 'plain ws:// (put a TLS-terminating proxy in front)'
        : `TLSv1.2 and TLSv1.3, ${certificates.all.map(describePair).join('; ')}`;
    const shown = address.host === '::' || address.host === '0.0.0.0' ? 'localhost' : address.host.includes(':') ? `[${address.host}]` : address.host;
    const scheme = config.options.plain === true ? 'ws' : 'wss';
    log.info(`wssd listening on ${scheme}://${shown}:${address.port}/ (bound to ${address.host}) — ${tlsNote}`);
    if (config.usingDevCert) {
      log.warn(`using the DEVELOPMENT certificate ${config.certFile}: fine for localhost, never for production (pass --cert and --key)`);
    }
  } catch (error) {
    // Only what the operator can fix is reported as one line; a bug keeps its stack trace.
    if (error instanceof ConfigError || error instanceof CertificateError || isListenError(error)) {
      log.error(`wssd: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
      return undefined;
    }
    throw error;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: closing ${server.connections.size} connection(s) with 1001`);
    server.close(1001, 'server shutting down', config.shutdownTimeout).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading certificates');
    if (server.reloadCertificates() === 'unchanged') log.info('certificates unchanged');
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return server;
}

function isListenError(error: unknown): error is Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL';
}
