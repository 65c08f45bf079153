// parseCli(argv, env): flags and WSSD_* variables → server options and the
// executable's own settings. Pure: nothing listens, nothing is read from disk.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliSettings, configMessage, helpText, parseCli } from '../../../src/cli/main.js';
import { resolveOptions, serverOptions } from '../../../src/options/server-options.js';
import { ConfigError } from '../../../src/config-error.js';
import { commandLineName, defaultShown, envName } from '../../../src/cli/flags.js';
import type { Declaration } from '../../../src/options/declaration.js';
import { parseWorkers } from '../../../src/cli/workers.js';

const DEV_CERT = fileURLToPath(new URL('../../../certs/dev-cert.pem', import.meta.url));
const DEV_KEY = fileURLToPath(new URL('../../../certs/dev-key.pem', import.meta.url));

type Config = Exclude<ReturnType<typeof parseCli>, 'help'>;

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const config = parseCli(argv, env);
  if (config === 'help') throw new Error('unexpected help');
  return config;
}

/** The ConfigError `run` throws; fails the test if it throws nothing or something else. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** Every flag and environment variable wssd has had; a flag dropped from a table fails here. */
const EVERY_FLAG = [
  'port', 'host', 'cert', 'key', 'sni-dir', 'ticket-keys', 'plain', 'path', 'trust-proxy', 'max-payload', 'max-buffered',
  'max-connections', 'max-connections-per-ip', 'handshake-timeout', 'close-timeout', 'idle-timeout',
  'ping-interval', 'ping-timeout', 'max-topic-length', 'max-topics-per-connection', 'max-topics', 'max-backpressure', 'presence-prefix', 'presence-max-members', 'slow-subscriber-policy', 'redis', 'redis-ca', 'redis-servername', 'redis-prefix', 'history-size', 'history-prefix', 'history-ttl', 'deflate', 'app', 'log-format', 'stats', 'stats-port', 'demo-page', 'shutdown-timeout', 'workers', 'help',
  'jwt-secret', 'jwt-public-key', 'jwt-allow-no-exp', 'jwt-audience', 'jwt-issuer', 'connect-url', 'proxy-timeout', 'proxy-concurrency',
  'api-port', 'api-host', 'api-key', 'api-max-body', 'events-url', 'events-secret', 'events-max-queue', 'subscribe-url', 'client-subscribe-prefix', 'client-publish-prefix', 'message-url', 'message-max-queue',
  'gateway-register', 'gateway-secret', 'gateway-lan', 'gateway-lan-listen', 'gateway-router', 'gateway-ping-interval', 'gateway-ping-limit', 'gateway-ping-data', 'gateway-max-inner', 'gateway-max-packet', 'gateway-max-worker-buffer',
];

/** Integer flags and the server option each sets. */
const INTEGER_FLAGS = {
  port: 'port',
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
  'max-topic-length': 'maxTopicLength',
  'max-topics-per-connection': 'maxTopicsPerConnection',
  'max-topics': 'maxTopics',
  'presence-max-members': 'presenceMaxMembers',
  'proxy-timeout': 'proxyTimeout',
  'proxy-concurrency': 'proxyConcurrency',
  'api-port': 'apiPort',
  'api-max-body': 'apiMaxBody',
  'events-max-queue': 'eventsMaxQueue',
  'message-max-queue': 'messageMaxQueue',
  'max-backpressure': 'maxBackpressure',
  'history-size': 'historySize',
  'history-ttl': 'historyTtl',
} as const;

const declarations: Declaration[] = [...Object.values(serverOptions), ...Object.values(cliSettings)];
const declaredFlags = declarations.flatMap((d) => (d.flag !== undefined ? [d.flag.name] : []));

describe('parseCli: no flags', () => {
  it('TLS with the dev pair, one worker, text logs, echo, 10 s shutdown; every server option left to its default', () => {
    const config = parse([]);
    expect(config).toMatchObject({ workers: 1, shutdownTimeout: 10_000, app: undefined, logFormat: 'text', certFile: DEV_CERT, usingDevCert: true });
    expect(config.options).toMatchObject({ plain: false, stats: false, certFile: DEV_CERT, keyFile: DEV_KEY, sni: [] });
    for (const key of ['host', 'port', 'path', 'trustProxy', 'sniDir', ...Object.values(INTEGER_FLAGS)] as const) {
      expect(config.options[key], key).toBeUndefined();
    }
    expect(resolveOptions(config.options)).toMatchObject({ port: 8443, host: '::', maxPayload: 16 * 1024 * 1024, pingInterval: 30_000 });
  });
});

describe('parseCli: --help', () => {
  it('--help and -h answer help, before any other value is checked', () => {
    expect(parseCli(['--help'], {})).toBe('help');
    expect(parseCli(['-h'], {})).toBe('help');
    expect(parseCli(['--log-format', 'xml', '--help'], { WSSD_WORKERS: 'many' })).toBe('help');
  });

  it('there is no WSSD_HELP', () => {
    expect(parseCli([], { WSSD_HELP: '1' })).not.toBe('help');
  });
});

describe('parseCli: flags and the environment', () => {
  it('the tables declare exactly the flags wssd has always had', () => {
    expect([...declaredFlags].sort()).toEqual([...EVERY_FLAG].sort());
    expect(new Set(declaredFlags).size).toBe(declaredFlags.length);
  });

  it('every variable is WSSD_ and the flag in capitals, - as _', () => {
    expect(envName({ name: 'max-connections-per-ip' })).toBe('WSSD_MAX_CONNECTIONS_PER_IP');
    expect(envName({ name: 'port' })).toBe('WSSD_PORT');
    expect(envName({ name: 'help', env: false })).toBeUndefined();
  });

  for (const [flag, option] of Object.entries(INTEGER_FLAGS)) {
    const variable = `WSSD_${flag.toUpperCase().replace(/-/g, '_')}`;
    it(`--${flag} / ${variable} → ${option}: the flag wins, an empty variable is unset, only digits are accepted`, () => {
      expect(parse(['--plain', `--${flag}`, '7']).options[option]).toBe(7);
      expect(parse(['--plain'], { [variable]: '8' }).options[option]).toBe(8);
      expect(parse(['--plain', `--${flag}`, '7'], { [variable]: '8' }).options[option]).toBe(7);
      expect(parse(['--plain'], { [variable]: '' }).options[option]).toBeUndefined();
      expect(parse(['--plain', `--${flag}`, '0']).options[option]).toBe(0);
      for (const bad of ['-1', '1.5', '1e3', 'ten', '', ' 7', '0x10']) {
        // --flag=VALUE: parseArgs would take a lone "-1" for a flag.
        expect(configError(() => parse(['--plain', `--${flag}=${bad}`])).message, bad).toBe(`--${flag} must be a non-negative integer, got "${bad}"`);
      }
      // The message names the flag even when the variable was wrong.
      expect(configError(() => parse(['--plain'], { [variable]: 'x' })).message).toBe(`--${flag} must be a non-negative integer, got "x"`);
    });
  }

  it('--host / WSSD_HOST, flag first', () => {
    expect(parse(['--host', '127.0.0.1'], { WSSD_HOST: '::1' }).options.host).toBe('127.0.0.1');
    expect(parse([], { WSSD_HOST: '::1' }).options.host).toBe('::1');
    expect(parse([], { WSSD_HOST: '' }).options.host).toBeUndefined();
  });

  it('--plain / WSSD_PLAIN: 1 or true turn it on; anything else leaves it off', () => {
    expect(parse(['--plain']).options.plain).toBe(true);
    expect(parse([], { WSSD_PLAIN: '1' }).options.plain).toBe(true);
    expect(parse([], { WSSD_PLAIN: 'true' }).options.plain).toBe(true);
    for (const off of ['0', 'false', 'yes', '']) expect(parse([], { WSSD_PLAIN: off }).options.plain, off).toBe(false);
  });

  it('--no-demo-page / WSSD_DEMO_PAGE: the page is on unless turned off; the variable takes 0/false and 1/true', () => {
    expect(parse([]).options.demoPage).toBe(true);
    expect(parse(['--path', '/wss']).options.demoPage).toBe(true);
    expect(parse(['--no-demo-page']).options.demoPage).toBe(false);
    for (const off of ['0', 'false']) expect(parse([], { WSSD_DEMO_PAGE: off }).options.demoPage, off).toBe(false);
    for (const on of ['1', 'true', '', 'yes']) expect(parse([], { WSSD_DEMO_PAGE: on }).options.demoPage, on).toBe(true);
    // The flag wins over the variable.
    expect(parse(['--no-demo-page'], { WSSD_DEMO_PAGE: '1' }).options.demoPage).toBe(false);
    expect(configError(() => parse(['--demo-page'])).message).toBe('unknown flag --demo-page (see --help)');
    expect(helpText().replace(/\s+/g, ' ')).toContain('--no-demo-page turn off the WebSocket test page on a plain GET /, which connects to the first --path');
  });

  it('--stats / WSSD_STATS likewise', () => {
    expect(parse(['--stats']).options.stats).toBe(true);
    expect(parse([], { WSSD_STATS: '1' }).options.stats).toBe(true);
    expect(parse([], { WSSD_STATS: 'on' }).options.stats).toBe(false);
  });

  it('--deflate / WSSD_DEFLATE: permessage-deflate on, with the defaults; off without', () => {
    expect(parse(['--plain', '--deflate']).options.perMessageDeflate).toBe(true);
    expect(parse(['--plain'], { WSSD_DEFLATE: '1' }).options.perMessageDeflate).toBe(true);
    expect(parse(['--plain']).options.perMessageDeflate).toBe(false);
    expect(resolveOptions(parse(['--plain', '--deflate']).options).perMessageDeflate).toMatchObject({ clientNoContextTakeover: true });
    expect(resolveOptions(parse(['--plain']).options).perMessageDeflate).toBeUndefined();
  });

  it('--stats-port N: /stats on its own port, not on the WebSocket port', () => {
    const config = parse(['--plain', '--stats-port', '9100']);
    expect(config.options.statsPort).toBe(9100);
    expect(resolveOptions(config.options)).toMatchObject({ stats: false, statsPort: 9100, statsHost: '127.0.0.1' });
    expect(resolveOptions(parse(['--plain', '--stats', '--stats-port', '9100']).options).stats).toBe(false);
    expect(resolveOptions(parse(['--plain', '--stats']).options)).toMatchObject({ stats: true, statsPort: undefined });
    expect(configMessage(configError(() => resolveOptions(parse(['--plain', '--stats-port', '65536']).options)))).toBe('--stats-port must be 0–65535, got 65536');
  });

  it('--port out of range: the resolver says so', () => {
    expect(configMessage(configError(() => resolveOptions(parse(['--plain', '--port', '65536']).options)))).toBe('--port must be 0–65535, got 65536');
  });

  it('--path is repeatable and taken whole; WSSD_PATH is split on commas', () => {
    expect(parse(['--path', '/a', '--path', '/b']).options.path).toEqual(['/a', '/b']);
    expect(parse(['--path', '/a,b']).options.path).toEqual(['/a,b']);
    expect(parse([], { WSSD_PATH: '/wss,/chat' }).options.path).toEqual(['/wss', '/chat']);
    expect(parse(['--path', '/x'], { WSSD_PATH: '/wss,/chat' }).options.path).toEqual(['/x']);
    expect(parse([], { WSSD_PATH: '' }).options.path).toBeUndefined();
    expect(configMessage(configError(() => resolveOptions(parse(['--plain', '--path', 'ws']).options)))).toBe('--path must start with "/": ws');
  });

  it('--trust-proxy is repeatable and comma-separated everywhere, spaces and empty entries dropped', () => {
    expect(parse(['--trust-proxy', '127.0.0.1, ::1', '--trust-proxy', '10.0.0.0/8,']).options.trustProxy).toEqual(['127.0.0.1', '::1', '10.0.0.0/8']);
    expect(parse([], { WSSD_TRUST_PROXY: '127.0.0.1 , 10.0.0.0/8' }).options.trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8']);
    expect(parse(['--trust-proxy', '::1'], { WSSD_TRUST_PROXY: '127.0.0.1' }).options.trustProxy).toEqual(['::1']);
    expect(parse(['--trust-proxy', ' , ']).options.trustProxy).toEqual([]);
    expect(configMessage(configError(() => resolveOptions(parse(['--plain', '--trust-proxy', 'proxy.local']).options)))).toBe(
      '--trust-proxy: "proxy.local" is not an IP address or CIDR',
    );
  });

  it('--ticket-keys / WSSD_TICKET_KEYS: the ticket key file', () => {
    expect(parse(['--ticket-keys', '/etc/wssd/ticket.key']).options.ticketKeysFile).toBe('/etc/wssd/ticket.key');
    expect(parse([], { WSSD_TICKET_KEYS: '/run/wssd/ticket.key' }).options.ticketKeysFile).toBe('/run/wssd/ticket.key');
    expect(parse([]).options.ticketKeysFile).toBeUndefined();
  });

  it('--sni-dir / WSSD_SNI_DIR', () => {
    expect(parse(['--sni-dir', '/etc/wssd/sni']).options.sniDir).toBe('/etc/wssd/sni');
    expect(parse([], { WSSD_SNI_DIR: '/srv/sni' }).options.sniDir).toBe('/srv/sni');
  });

  it('unknown flags, a flag without its value, a switch with one and stray arguments: one line naming it', () => {
    expect(configError(() => parse(['--bogus'])).message).toBe('unknown flag --bogus (see --help)');
    expect(configError(() => parse(['-x'])).message).toBe('unknown flag -x (see --help)');
    expect(configError(() => parse(['--port'])).message).toBe('--port needs a value');
    expect(configError(() => parse(['--host', '--plain'])).message).toBe('--host needs a value, got the flag --plain (a value starting with - goes as --host=VALUE)');
    expect(configError(() => parse(['8443'])).message).toBe('unexpected argument "8443": every setting is a flag (see --help)');
    expect(configError(() => parse(['--', '--plain'])).message).toBe('unexpected argument "--plain": every setting is a flag (see --help)');
    expect(configError(() => parse(['--plain=yes'])).message).toBe('--plain is a switch and takes no value, got "yes"');
    // A value may start with a dash when it is given with =.
    expect(parse(['--plain', '--path=-x']).options.path).toEqual(['-x']);
  });

  it('a negative number is taken as the value it is, and refused as such, for every kind of flag', () => {
    const cases: [string[], string][] = [
      [['--workers', '-1'], '--workers must be a positive integer or "auto", got "-1"'],
      [['--port', '-1'], '--port must be a non-negative integer, got "-1"'],
      [['--shutdown-timeout', '-5'], '--shutdown-timeout must be a non-negative integer, got "-5"'],
      [['--log-format', '-1'], '--log-format must be text or json, got "-1"'],
      [['--slow-subscriber-policy', '-2'], '--slow-subscriber-policy must be drop or close, got "-2"'],
      // A switch takes none: the number is a stray argument.
      [['--plain', '-1'], 'unexpected argument "-1": every setting is a flag (see --help)'],
      [['-15'], 'unexpected argument "-15": every setting is a flag (see --help)'],
    ];
    for (const [argv, message] of cases) expect(configError(() => parse(argv)).message, argv.join(' ')).toBe(message);
    // A text or list flag keeps it; the option's own check then speaks (here: a path starts with /).
    expect(parse(['--host', '-1']).options.host).toBe('-1');
    expect(configMessage(configError(() => resolveOptions(parse(['--plain', '--path', '-1']).options)))).toBe('--path must start with "/": -1');
  });

  it('every flag without its value: one line naming it', () => {
    for (const declaration of declarations) {
      if (declaration.flag === undefined || declaration.kind === 'switch') continue;
      const flag = `--${declaration.flag.name}`;
      expect(configError(() => parse([flag])).message, flag).toBe(`${flag} needs a value`);
    }
  });

  it('errors of the resolved options name flags, not option names', () => {
    const resolveFlags = (argv: string[]): string => configMessage(configError(() => resolveOptions(parse(['--plain', ...argv]).options)));
    expect(resolveFlags(['--history-size', '5'])).toBe('--history-size needs --redis: history is kept in Redis');
    expect(resolveFlags(['--ping-interval', '1000', '--ping-timeout', '2000'])).toBe('--ping-timeout must not exceed --ping-interval');
    expect(resolveFlags(['--max-connections', '0'])).toBe('--max-connections must be a positive integer up to 9007199254740991, got 0');
    expect(resolveFlags(['--redis', 'http://x'])).toMatch(/^--redis: a Redis URL starts with redis:\/\//);
    expect(resolveFlags(['--redis', 'rediss://x', '--redis-ca', '/no/such/ca.pem'])).toBe('--redis-ca: cannot read /no/such/ca.pem: ENOENT');
    expect(configMessage(configError(() => resolveOptions(parse(['--ticket-keys', '/no/such/keys']).options)))).toMatch(/^--ticket-keys: cannot read/);
    // The library's own message keeps option names; an option without a flag keeps its name in both.
    expect(configError(() => resolveOptions({ plain: true, historySize: 5 })).message).toBe('historySize needs redis: history is kept in Redis');
    expect(configMessage(configError(() => resolveOptions({ plain: true, maxFragments: 0 })))).toMatch(/^maxFragments must be/);
  });
});

describe('parseCli: certificates', () => {
  it('--cert/--key: the first pair is the default, further pairs go to SNI', () => {
    const config = parse(['--cert', 'a.crt', '--key', 'a.key', '--cert', 'b.crt', '--key', 'b.key', '--cert', 'c.crt', '--key', 'c.key']);
    expect(config).toMatchObject({ certFile: 'a.crt', usingDevCert: false });
    expect(config.options).toMatchObject({
      certFile: 'a.crt',
      keyFile: 'a.key',
      sni: [
        { certFile: 'b.crt', keyFile: 'b.key' },
        { certFile: 'c.crt', keyFile: 'c.key' },
      ],
    });
  });

  it('a --cert without its --key (or the other way round) is a ConfigError', () => {
    const message = '--cert and --key go together, one --key for each --cert';
    expect(configError(() => parse(['--cert', 'a.crt'])).message).toBe(message);
    expect(configError(() => parse(['--key', 'a.key'])).message).toBe(message);
    expect(configError(() => parse(['--cert', 'a.crt', '--key', 'a.key', '--cert', 'b.crt'])).message).toBe(message);
    expect(configError(() => parse([], { WSSD_CERT: 'a.crt' })).message).toBe(message);
  });

  it('WSSD_CERT / WSSD_KEY give one pair (no comma splitting); flags win', () => {
    expect(parse([], { WSSD_CERT: 'x,y.crt', WSSD_KEY: 'x.key' }).options).toMatchObject({ certFile: 'x,y.crt', keyFile: 'x.key', sni: [] });
    expect(parse(['--cert', 'a.crt', '--key', 'a.key'], { WSSD_CERT: 'e.crt', WSSD_KEY: 'e.key' }).options).toMatchObject({ certFile: 'a.crt', keyFile: 'a.key' });
  });

  it('--plain drops every certificate setting (and does not check the pairs)', () => {
    for (const config of [parse(['--plain', '--cert', 'a.crt', '--sni-dir', '/d']), parse([], { WSSD_PLAIN: '1', WSSD_CERT: 'a.crt', WSSD_KEY: 'a.key' })]) {
      expect(config).toMatchObject({ certFile: undefined, usingDevCert: false });
      for (const key of ['certFile', 'keyFile', 'sni', 'sniDir'] as const) expect(config.options[key], key).toBeUndefined();
      expect(resolveOptions(config.options)).toMatchObject({ plain: true, port: 8282, certificates: [] });
    }
  });
});

describe('parseCli: the executable settings', () => {
  it('--app / WSSD_APP', () => {
    expect(parse(['--app', './chat.mjs']).app).toBe('./chat.mjs');
    expect(parse([], { WSSD_APP: 'x.mjs' }).app).toBe('x.mjs');
    expect(parse(['--app', 'a.mjs'], { WSSD_APP: 'x.mjs' }).app).toBe('a.mjs');
  });

  it('--log-format text|json / WSSD_LOG_FORMAT', () => {
    expect(parse(['--log-format', 'json']).logFormat).toBe('json');
    expect(parse([], { WSSD_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(parse(['--log-format', 'text'], { WSSD_LOG_FORMAT: 'json' }).logFormat).toBe('text');
    expect(configError(() => parse(['--log-format', 'xml'])).message).toBe('--log-format must be text or json, got "xml"');
  });

  it('--shutdown-timeout / WSSD_SHUTDOWN_TIMEOUT', () => {
    expect(parse(['--shutdown-timeout', '0']).shutdownTimeout).toBe(0);
    expect(parse([], { WSSD_SHUTDOWN_TIMEOUT: '2500' }).shutdownTimeout).toBe(2500);
    expect(configError(() => parse(['--shutdown-timeout', '5s'])).message).toBe('--shutdown-timeout must be a non-negative integer, got "5s"');
  });

  it('--workers N|auto / WSSD_WORKERS', () => {
    expect(parse(['--workers', '3']).workers).toBe(3);
    expect(parse(['--workers', 'auto']).workers).toBe(availableParallelism());
    expect(parse([], { WSSD_WORKERS: '2' }).workers).toBe(2);
    expect(parse(['--workers', '4'], { WSSD_WORKERS: '2' }).workers).toBe(4);
    for (const bad of ['0', '-1', '1.5', '01', 'all']) {
      expect(configError(() => parse([`--workers=${bad}`])).message, bad).toBe(`--workers must be a positive integer or "auto", got "${bad}"`);
    }
    expect(parseWorkers(undefined)).toBe(1);
  });
});

describe('--help text', () => {
  // Wrapping may break a line anywhere between words.
  const help = helpText().replace(/\s+/g, ' ');

  it('lists every declared flag, with its argument, its help line and its default', () => {
    for (const declaration of declarations) {
      const { flag } = declaration;
      if (flag === undefined) continue;
      const name = commandLineName({ ...declaration, flag });
      expect(help).toContain(`--${name}${flag.arg !== undefined ? ` ${flag.arg}` : ''} `);
      expect(help).toContain(declaration.help.replace(/\s+/g, ' '));
      // A --no- flag says what it turns off, which is on by default.
      if (name !== flag.name) expect(help, name).toContain(`--${name} turn off ${declaration.help}`);
      const shown = defaultShown(declaration);
      if (shown !== undefined && name === flag.name) expect(help, flag.name).toContain(`(default ${shown})`);
    }
  });

  it('shows the defaults operators look for', () => {
    for (const text of [
      '--port N',
      '(default 8443; 8282 with --plain)',
      '(default ::)',
      '(default 16777216)',
      '(default 100000)',
      '(default 0 = no limit)',
      '(default 10000)',
      '(default 5000)',
      '(default 0 = never)',
      '(default 30000)',
      '(default text)',
      '(default echo)',
      '(default 1)',
      '(default the dev certificate in certs/)',
      '-h, --help',
      'WSSD_<NAME>',
    ]) {
      expect(help).toContain(text);
    }
  });

  it('no line is wider than 100 columns', () => {
    for (const line of helpText().split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });
});

describe('parseCli: topics', () => {
  it('--slow-subscriber-policy / WSSD_SLOW_SUBSCRIBER_POLICY: drop or close, the flag wins over the variable', () => {
    expect(parse(['--plain', '--slow-subscriber-policy', 'close']).options.slowSubscriberPolicy).toBe('close');
    expect(parse(['--plain'], { WSSD_SLOW_SUBSCRIBER_POLICY: 'close' }).options.slowSubscriberPolicy).toBe('close');
    expect(parse(['--plain', '--slow-subscriber-policy', 'drop'], { WSSD_SLOW_SUBSCRIBER_POLICY: 'close' }).options.slowSubscriberPolicy).toBe('drop');
    expect(parse(['--plain']).options.slowSubscriberPolicy).toBeUndefined();
  });
});
