// The production process: flags and WSSD_* environment variables → options →
// server, plus the startup line and the signals. What stops the start (bad
// configuration, a certificate, the port, the --app) is one clear line and
// exit code 1; with --workers the primary says it, once (cli/workers.ts).
import { fileURLToPath } from 'node:url';
import cluster from 'node:cluster';
import { serverOptions, type ServerOptions } from '../options/server-options.js';
import { ConfigError } from '../config-error.js';
import { flagHelp, flagsByOption, parseFlags, readFlags } from './flags.js';
import { createLogger, type LogFormat, type Logger } from '../telemetry/log.js';
import { CertificateError, describePair } from '../tls/certificates.js';
import { choice, integer, list, resolveTable, text, toggle } from '../options/declaration.js';
import { createServer, type WebSocketServer } from '../server/websocket-server.js';
import { CRASH_LIMIT, CRASH_WINDOW_MS, parseWorkers, supervise, tellPrimary, workerIndex } from './workers.js';
import { ClusterBroker } from '../pubsub/cluster-broker.js';
import { randomTicketKey } from '../tls/ticket-keys.js';
import { primeMalloc } from './malloc-priming.js';
import { echoApp, initApp, loadApp } from './app-module.js';

/**
 * With --workers and no --ticket-keys, the primary makes one random ticket
 * key and hands it to every worker it forks (restarted ones included) in this
 * variable, so a client resumes on whichever worker takes its next
 * connection. Read once and removed from the worker's environment.
 */
const SHARED_TICKET_KEY = 'WSSD_SHARED_TICKET_KEY';

// It was declared here first; importers of cli/main.ts still find it.
export { ConfigError };

const DEV_CERT = fileURLToPath(new URL('../../certs/dev-cert.pem', import.meta.url));
const DEV_KEY = fileURLToPath(new URL('../../certs/dev-key.pem', import.meta.url));

/**
 * Settings of the executable that are not server options. --cert/--key pairs
 * become the server's certFile, keyFile and sni.
 */
export const cliSettings = {
  cert: list({
    flag: { name: 'cert', arg: 'FILE' },
    help: 'PEM certificate chain, leaf first; repeat --cert/--key for more names: the first pair is the default, the others are chosen by SNI server name',
    shows: 'the dev certificate in certs/',
  }),
  key: list({ flag: { name: 'key', arg: 'FILE' }, help: 'PEM private key, one for each --cert', shows: 'the dev key in certs/' }),
  app: text({
    flag: { name: 'app', arg: 'MODULE' },
    help: 'the application (type AppModule): it exports onConnection(ws, request, server), called for every connection (or a default function), and may export init(server), awaited once per process before listening (a throw stops the start), and verifyRequest(request), which may refuse a handshake (401, 403…) before the upgrade; named exports or a default object',
    shows: 'echo',
  }),
  logFormat: choice({ choices: ['text', 'json'], default: 'text', flag: { name: 'log-format', arg: 'F' }, help: 'log lines as text or json' }),
  shutdownTimeout: integer({
    min: 0,
    default: 10_000,
    flag: { name: 'shutdown-timeout', arg: 'MS' },
    help: 'on SIGTERM/SIGINT, wait this long for connections to close',
  }),
  workers: text({
    default: '1',
    flag: { name: 'workers', arg: 'N|auto' },
    help: `processes sharing the port (node:cluster); auto = one per CPU. A worker that cannot start stops them all (exit 1); one that crashes later is restarted, but ${CRASH_LIMIT} crashes within ${CRASH_WINDOW_MS / 1000} s stop them all (exit 1)`,
  }),
  help: toggle({ flag: { name: 'help', short: 'h', env: false }, help: 'this text' }),
};

/** Every flag, server options first. */
const FLAG_TABLES = [serverOptions, cliSettings];

/** Each option as the executable writes it: --flag. */
const FLAGS = flagsByOption(FLAG_TABLES);

/**
 * A ConfigError as the operator reads it: the options it names as their
 * flags (--history-size needs --redis); one without a flag keeps its name.
 */
export function configMessage(error: ConfigError): string {
  return error.render((name) => FLAGS.get(name) ?? name);
}

export function helpText(): string {
  return `Usage: wssd [options]       (node dist/server.js [options])

A WebSocket server (RFC 6455): wss:// with its own TLS, or ws:// behind nginx/apache.
Every option can also be set as WSSD_<NAME> in the environment (e.g. WSSD_PORT=443, WSSD_PLAIN=1);
a switch's variable takes 1/true or 0/false (WSSD_DEMO_PAGE=0 is --no-demo-page).
Certificates and TLS ticket keys reload without a restart on SIGHUP and when their files change.

${flagHelp(FLAG_TABLES)}`;
}

interface CliConfig {
  options: ServerOptions;
  workers: number;
  shutdownTimeout: number;
  app: string | undefined;
  logFormat: LogFormat;
  certFile: string | undefined;
  usingDevCert: boolean;
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliConfig | 'help' {
  const parsed = parseFlags(argv, FLAG_TABLES);
  // --help answers before any other value is checked.
  if (parsed[cliSettings.help.flag.name] === true) return 'help';
  const settings = resolveTable(cliSettings, readFlags(cliSettings, parsed, env));
  // The SNI directory only means something with TLS.
  const { sniDir, ...flagged } = readFlags(serverOptions, parsed, env);
  const options: ServerOptions = flagged;
  let certFile: string | undefined;
  let usingDevCert = false;
  if (!flagged.plain) {
    const certs = [...(settings.cert ?? [])];
    const keys = [...(settings.key ?? [])];
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
    options.sniDir = sniDir;
  }
  return {
    options,
    workers: parseWorkers(settings.workers),
    shutdownTimeout: settings.shutdownTimeout,
    app: settings.app,
    logFormat: settings.logFormat,
    certFile,
    usingDevCert,
  };
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<WebSocketServer | undefined> {
  let config: CliConfig | 'help';
  let log: Logger = createLogger('text');
  let server: WebSocketServer;
  /** The server once made, so a start that fails after it can close it. */
  let made: WebSocketServer | undefined;
  try {
    config = parseCli(argv, env);
    if (config === 'help') {
      process.stdout.write(helpText());
      return undefined;
    }
    log = createLogger(config.logFormat);
    if (config.workers > 1 && cluster.isPrimary) {
      // The primary only supervises; each worker runs this same main() and listens.
      const env: Record<string, string> = config.options.plain === true || config.options.ticketKeysFile !== undefined ? {} : { [SHARED_TICKET_KEY]: randomTicketKey().toString('hex') };
      const done = supervise(config.workers, log, config.shutdownTimeout, env);
      warnOfPublicStats(config, log);
      void done.then((code) => process.exit(code));
      return undefined;
    }
    // Each process that carries connections (not a supervising primary): see malloc-priming.ts.
    void primeMalloc();
    // Without --app: echo, unless the message proxy or the BusinessWorkers answer the messages.
    // In GatewayWorker mode the BusinessWorkers answer.
    const answered = config.options.messageUrl !== undefined || (config.options.gatewayRegister ?? []).length > 0;
    const app = config.app !== undefined ? await loadApp(config.app) : answered ? {} : echoApp;
    // A worker of --workers N shares its topics with the others through the primary.
    // With --redis, Redis joins every worker of every node instead.
    const broker = config.workers > 1 && cluster.isWorker && config.options.redis === undefined ? new ClusterBroker() : undefined;
    const shared = cluster.isWorker ? env[SHARED_TICKET_KEY] : undefined;
    delete process.env[SHARED_TICKET_KEY];
    const ticketKeys = shared !== undefined && config.options.ticketKeysFile === undefined ? Buffer.from(shared, 'hex') : undefined;
    // The flags cannot set verifyRequest: only the app can.
    // GatewayWorker mode: worker i of --workers takes the LAN port plus i (GatewayWorker's startPort + id).
    const gatewayLanOffset = cluster.isWorker ? workerIndex(env) : 0;
    made = server = createServer({ ...config.options, logger: log, broker, ticketKeys, gatewayLanOffset, verifyRequest: app.verifyRequest, routeMessage: app.routeMessage, onRpc: app.onRpc });
    const live = server;
    const onConnection = app.onConnection;
    if (onConnection !== undefined) server.on('connection', (connection, request) => onConnection(connection, request, live));
    server.on('error', (error) => log.error(`server error: ${error.message}`));
    await initApp(app, server, config.app);
    const address = await server.listen();
    const certificates = server.certificates;
    const tlsNote =
      certificates === undefined
        ? 'plain ws:// (put a TLS-terminating proxy in front)'
        : `TLSv1.2 and TLSv1.3, ${certificates.all.map(describePair).join('; ')}`;
    const shown = address.host === '::' || address.host === '0.0.0.0' ? 'localhost' : address.host.includes(':') ? `[${address.host}]` : address.host;
    const scheme = config.options.plain === true ? 'ws' : 'wss';
    // The first --path is where clients connect; the others are named after it.
    const [path = '/', ...otherPaths] = config.options.path ?? [];
    const others = otherPaths.length === 0 ? '' : ` (and ${otherPaths.join(', ')})`;
    log.info(`wssd listening on ${scheme}://${shown}:${address.port}${path}${others} (bound to ${address.host}) — ${tlsNote}`);
    if (config.usingDevCert) {
      log.warn(`using the DEVELOPMENT certificate ${config.certFile}: fine for localhost, never for production (pass --cert and --key)`);
    }
    if (cluster.isWorker) tellPrimary({ wssd: 'listening' });
    else warnOfPublicStats(config, log);
  } catch (error) {
    const reason = startFailure(error);
    // A bug keeps its stack trace (and a worker that dies of it before listening stops the server too).
    if (reason === undefined) throw error;
    if (cluster.isWorker) {
      // The primary says it once for every worker, and stops them all.
      tellPrimary({ wssd: 'fatal', reason }, () => process.exit(1));
      return undefined;
    }
    log.error(`wssd: ${reason}`);
    process.exitCode = 1;
    // Its timers and broker would keep the process alive.
    void made?.close();
    return undefined;
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
    log.info('SIGHUP: reloading certificates, ticket keys and token keys');
    if (server.reloadCertificates() === 'unchanged') log.info('certificates unchanged');
    server.reloadTicketKeys();
    server.reloadTokenKeys();
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return server;
}

/**
 * --stats without --stats-port puts the counters on the port the world
 * reaches: said once at start, by the process the operator started (the
 * primary with --workers).
 */
function warnOfPublicStats(config: CliConfig, log: Logger): void {
  if (config.options.stats !== true || config.options.statsPort !== undefined) return;
  log.warn(
    '--stats serves /stats and /metrics on the public WebSocket port: anyone who reaches it reads the traffic counters, refusals, memory use and process ids; --stats-port N serves them on 127.0.0.1 instead',
  );
}

/** Why the start failed, as one line, when the operator can fix it; undefined for a bug. */
function startFailure(error: unknown): string | undefined {
  if (error instanceof ConfigError) return configMessage(error);
  if (error instanceof CertificateError) return error.message;
  return listenFailure(error);
}

/** Why the port could not be had, as Node says it for one process ("listen EADDRINUSE: address already in use 127.0.0.1:8443"). */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available',
};

/**
 * A listen error in the same words with or without --workers (a worker's
 * comes from the primary's bind: "bind EADDRINUSE 127.0.0.1:8443");
 * undefined for any other error.
 */
function listenFailure(error: unknown): string | undefined {
  const { code, address, port } = (error ?? {}) as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code === undefined || !Object.hasOwn(LISTEN_ERRORS, code)) return undefined;
  const where = address === undefined ? '' : ` ${address.includes(':') ? `[${address}]` : address}${port === undefined ? '' : `:${port}`}`;
  return `listen ${code}: ${LISTEN_ERRORS[code]}${where}`;
}
