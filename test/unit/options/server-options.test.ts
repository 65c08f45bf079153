// resolveOptions(): every default, every bound (just inside, just outside),
// the rules that tie options together, and one ConfigError with the exact
// message for every bad value. Expected values are written out here rather
// than read from the table, so a changed default or bound fails a test.
import { LocalBroker } from '../../../src/pubsub/broker.js';
import { constants } from 'node:buffer';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { defaults, resolveOptions, serverOptions, type ResolvedOptions, type ServerOptions } from '../../../src/options/server-options.js';
import { ConfigError } from '../../../src/config-error.js';
import { TrustedProxies } from '../../../src/http/real-ip.js';
import type { Logger } from '../../../src/telemetry/log.js';
import type { PairSource } from '../../../src/tls/certificates.js';
import type { UpgradeRequest } from '../../../src/server/connection.js';
import * as api from '../../../src/index.js';

/** The ConfigError `run` throws; fails the test if it throws nothing or something else. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).not.toBeInstanceOf(RangeError);
    expect(error).not.toBeInstanceOf(TypeError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const plain = (options: ServerOptions = {}): ResolvedOptions => resolveOptions({ plain: true, ...options });

describe('resolveOptions: defaults', () => {
  it('every limit and setting has its documented default (docs/reference/limits.md)', () => {
    const r = plain();
    expect(r).toMatchObject({
      host: '::',
      port: 8282,
      paths: undefined,
      maxPayload: 16 * 1024 * 1024,
      maxFragments: 100_000,
      maxHeadBytes: 16 * 1024,
      maxHeaderCount: 100,
      maxLineBytes: 8 * 1024,
      handshakeTimeout: 10_000,
      closeTimeout: 5_000,
      highWaterMark: 64 * 1024,
      maxBuffered: 16 * 1024 * 1024,
      bufferPolicy: 'close',
      maxConnections: 100_000,
      maxConnectionsPerIp: 0,
      idleTimeout: 0,
      pingInterval: 30_000,
      pingTimeout: 10_000,
      subprotocols: undefined,
      selectSubprotocol: undefined,
      verifyRequest: undefined,
      logger: undefined,
      watchCertificates: true,
      plain: true,
      noServer: false,
      demoPage: true,
      stats: false,
      statsPort: undefined,
      statsHost: '127.0.0.1',
      certificates: [],
    });
    expect(r.trustProxy).toBeInstanceOf(TrustedProxies);
    expect(r.trustProxy.size).toBe(0);
  });

  it('the port is 8443 with TLS, 8282 plain; 0 is kept (a free port)', () => {
    expect(resolveOptions({ cert: 'C', key: 'K' }).port).toBe(8443);
    expect(plain().port).toBe(8282);
    expect(plain({ port: 0 }).port).toBe(0);
  });

  it('`defaults` holds the same values (and the two ports)', () => {
    expect(defaults).toMatchObject({
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
    });
    // Every declared default is in `defaults`, and resolving nothing gives it.
    const r = plain() as unknown as Record<string, unknown>;
    for (const [name, declaration] of Object.entries(serverOptions)) {
      if (!('default' in declaration) || declaration.default === undefined) continue;
      expect(defaults, name).toHaveProperty(name, declaration.default);
      // perMessageDeflate resolves to its settings, or undefined when off (tested below).
      if (name !== 'plain' && name !== 'perMessageDeflate') expect(r[name], name).toBe(declaration.default);
    }
  });

  it('perMessageDeflate: off by default; true gives the defaults; an object overrides some; bad settings are a ConfigError', () => {
    expect(plain().perMessageDeflate).toBeUndefined();
    expect(resolveOptions({ plain: true, perMessageDeflate: true }).perMessageDeflate).toMatchObject({ serverMaxWindowBits: 12, memLevel: 5, level: 1, clientNoContextTakeover: true });
    expect(resolveOptions({ plain: true, perMessageDeflate: { level: 6, threshold: 0 } }).perMessageDeflate).toMatchObject({ level: 6, threshold: 0, memLevel: 5 });
    expect(() => resolveOptions({ plain: true, perMessageDeflate: { serverMaxWindowBits: 7 } })).toThrow(ConfigError);
    expect(() => resolveOptions({ plain: true, perMessageDeflate: { serverMaxWindowBits: 7 } })).toThrow('perMessageDeflate.serverMaxWindowBits must be an integer 8–15, got 7');
  });

  it('given values are kept', () => {
    const select = (): string | undefined => undefined;
    const verify = (): boolean => true;
    const logger: Logger = { info() {}, warn() {}, error() {} };
    const r = plain({
      host: '127.0.0.1',
      port: 9000,
      maxPayload: 5,
      bufferPolicy: 'drop',
      subprotocols: ['chat'],
      selectSubprotocol: select,
      verifyRequest: verify,
      logger,
      watchCertificates: false,
      demoPage: false,
      statsHost: '::1',
    });
    expect(r).toMatchObject({ host: '127.0.0.1', port: 9000, maxPayload: 5, bufferPolicy: 'drop', subprotocols: ['chat'], watchCertificates: false, demoPage: false, statsHost: '::1' });
    expect(r.selectSubprotocol).toBe(select);
    expect(r.verifyRequest).toBe(verify);
    expect(r.logger).toBe(logger);
    expect(plain({ logger: false }).logger).toBe(false);
  });

  it('the resolved object has only ResolvedOptions fields (cert, key, path… are reshaped, not copied)', () => {
    const r = resolveOptions({ cert: 'C', key: 'K', path: '/ws', sni: [], trustProxy: ['::1'] });
    for (const gone of ['cert', 'key', 'certFile', 'keyFile', 'sni', 'sniDir', 'path']) expect(r, gone).not.toHaveProperty(gone);
  });
});

/** [option, smallest allowed, largest allowed (undefined: unbounded)]: the bounds as documented. */
const INTEGER_BOUNDS: [keyof ServerOptions, number, number | undefined][] = [
  ['port', 0, 65535],
  ['statsPort', 0, 65535],
  ['maxPayload', 1, constants.MAX_LENGTH],
  ['maxFragments', 1, Number.MAX_SAFE_INTEGER],
  ['maxHeadBytes', 1, Number.MAX_SAFE_INTEGER],
  ['maxHeaderCount', 1, Number.MAX_SAFE_INTEGER],
  ['maxLineBytes', 1, Number.MAX_SAFE_INTEGER],
  ['handshakeTimeout', 1, Number.MAX_SAFE_INTEGER],
  ['closeTimeout', 1, Number.MAX_SAFE_INTEGER],
  ['highWaterMark', 1, Number.MAX_SAFE_INTEGER],
  ['maxBuffered', 1, Number.MAX_SAFE_INTEGER],
  ['maxConnections', 1, Number.MAX_SAFE_INTEGER],
  ['maxConnectionsPerIp', 0, undefined],
  ['idleTimeout', 0, undefined],
  ['pingInterval', 0, undefined],
  ['pingTimeout', 1, Number.MAX_SAFE_INTEGER],
  ['maxTopicLength', 1, 65536],
  ['maxTopicsPerConnection', 1, Number.MAX_SAFE_INTEGER],
  ['maxTopics', 1, Number.MAX_SAFE_INTEGER],
  ['presenceMaxMembers', 1, Number.MAX_SAFE_INTEGER],
  ['proxyTimeout', 1, Number.MAX_SAFE_INTEGER],
  ['proxyConcurrency', 1, Number.MAX_SAFE_INTEGER],
  ['apiPort', 0, 65535],
  ['apiMaxBody', 1, Number.MAX_SAFE_INTEGER],
  ['eventsMaxQueue', 1, Number.MAX_SAFE_INTEGER],
  ['messageMaxQueue', 1, Number.MAX_SAFE_INTEGER],
  ['maxBackpressure', 0, undefined],
  ['historySize', 0, undefined],
  ['historyTtl', 0, undefined],
  ['gatewayPingInterval', 0, undefined],
  ['gatewayPingLimit', 0, undefined],
  ['gatewayMaxInner', 1, Number.MAX_SAFE_INTEGER],
  ['gatewayMaxPacket', 1, Number.MAX_SAFE_INTEGER],
  ['gatewayMaxWorkerBuffer', 1, Number.MAX_SAFE_INTEGER],
  ['gatewayLanOffset', 0, undefined],
];

/** The exact message for a bad value of `name` with those bounds. */
function boundMessage(name: string, min: number, max: number | undefined, got: unknown): string {
  if (min === 1) return `${name} must be a positive integer up to ${max}, got ${String(got)}`;
  if (max === undefined) return `${name} must be a non-negative integer, got ${String(got)}`;
  return `${name} must be 0–${max}, got ${String(got)}`;
}

describe('resolveOptions: bounds', () => {
  it('the bounds list above covers every integer option in the table', () => {
    const declared = Object.entries(serverOptions)
      .filter(([, d]) => d.kind === 'integer')
      .map(([name]) => name);
    expect(INTEGER_BOUNDS.map(([name]) => name).sort()).toEqual(declared.sort());
  });

  for (const [name, min, max] of INTEGER_BOUNDS) {
    // A ping timeout above the interval is refused for another reason; turn the heartbeat off to test its bounds.
    // History lives in Redis, so its size needs a Redis URL beside it.
    const base: ServerOptions = name === 'pingTimeout' ? { pingInterval: 0 } : name === 'historySize' ? { redis: 'redis://127.0.0.1' } : name === 'apiPort' ? { apiKey: ['a-key-of-sixteen+-chars'] } : {};
    const resolve = (value: unknown): ResolvedOptions => plain({ ...base, [name]: value });

    it(`${name}: ${min}…${max ?? '∞'} accepted, just outside refused with a ConfigError`, () => {
      expect(resolve(min)[name as keyof ResolvedOptions]).toBe(min);
      expect(resolve(min + 1)[name as keyof ResolvedOptions]).toBe(min + 1);
      expect(configError(() => resolve(min - 1)).message).toBe(boundMessage(name, min, max, min - 1));
      if (max !== undefined) {
        expect(resolve(max)[name as keyof ResolvedOptions]).toBe(max);
        expect(configError(() => resolve(max + 1)).message).toBe(boundMessage(name, min, max, max + 1));
      } else {
        expect(resolve(2 ** 40)[name as keyof ResolvedOptions]).toBe(2 ** 40);
      }
      expect(configError(() => resolve(1.5)).message).toBe(boundMessage(name, min, max, 1.5));
      expect(configError(() => resolve(Number.NaN)).message).toBe(boundMessage(name, min, max, Number.NaN));
      // A JavaScript caller may pass a string: refused, not coerced.
      expect(configError(() => resolve('100')).message).toBe(boundMessage(name, min, max, '100'));
    });
  }

  it('messages, spelled out', () => {
    expect(configError(() => plain({ maxPayload: 0 })).message).toBe('maxPayload must be a positive integer up to 4294967296, got 0');
    expect(configError(() => plain({ maxFragments: -1 })).message).toBe('maxFragments must be a positive integer up to 9007199254740991, got -1');
    expect(configError(() => plain({ idleTimeout: -1 })).message).toBe('idleTimeout must be a non-negative integer, got -1');
    expect(configError(() => plain({ port: 65536 })).message).toBe('port must be 0–65535, got 65536');
    expect(configError(() => plain({ statsPort: -1 })).message).toBe('statsPort must be 0–65535, got -1');
  });

  it("bufferPolicy is 'close' or 'drop'", () => {
    expect(plain({ bufferPolicy: 'close' }).bufferPolicy).toBe('close');
    expect(plain({ bufferPolicy: 'drop' }).bufferPolicy).toBe('drop');
    const bad = { bufferPolicy: 'queue' } as unknown as ServerOptions;
    expect(configError(() => plain(bad)).message).toBe("bufferPolicy must be 'close' or 'drop', got queue");
  });
});

describe('resolveOptions: options that depend on each other', () => {
  it('apiKey: at least 16 characters, without white space (Authorization: Bearer KEY could not carry it)', () => {
    expect(plain({ apiPort: 0, apiKey: ['sixteen-chars-ok'] }).apiKey).toEqual(['sixteen-chars-ok']);
    expect(configError(() => plain({ apiPort: 0, apiKey: ['too-short'] })).message).toBe('apiKey must be at least 16 characters');
    expect(configError(() => plain({ apiPort: 0, apiKey: ['a key with spaces in it'] })).message).toBe('apiKey must not contain white space');
  });

  it('pingTimeout defaults to pingInterval when that is shorter, and never exceeds it', () => {
    expect(plain({ pingInterval: 3000 }).pingTimeout).toBe(3000);
    expect(plain({ pingInterval: 10_001 }).pingTimeout).toBe(10_000);
    expect(plain({ pingInterval: 0 }).pingTimeout).toBe(10_000);
    expect(plain({ pingInterval: 0, pingTimeout: 60_000 }).pingTimeout).toBe(60_000);
    expect(plain({ pingInterval: 5000, pingTimeout: 5000 }).pingTimeout).toBe(5000);
    expect(configError(() => plain({ pingInterval: 5000, pingTimeout: 5001 })).message).toBe('pingTimeout must not exceed pingInterval');
    expect(configError(() => plain({ pingTimeout: 30_001 })).message).toBe('pingTimeout must not exceed pingInterval');
  });

  it('a stats port takes /stats off the WebSocket port', () => {
    expect(plain({ stats: true }).stats).toBe(true);
    expect(plain({ stats: true, statsPort: 9100 })).toMatchObject({ stats: false, statsPort: 9100 });
    expect(plain({ statsPort: 0 })).toMatchObject({ stats: false, statsPort: 0 });
  });

  it('noServer implies plain: no certificate needed', () => {
    expect(resolveOptions({ noServer: true })).toMatchObject({ noServer: true, plain: true, certificates: [] });
  });

  it('TLS needs a certificate and a key', () => {
    const message = 'TLS needs a certificate and a key (cert and key as PEM, or certFile and keyFile); with plain, ws:// is served without TLS, behind a proxy';
    expect(configError(() => resolveOptions({})).message).toBe(message);
    expect(configError(() => resolveOptions({ cert: 'C' })).message).toBe(message);
    expect(configError(() => resolveOptions({ certFile: 'c.pem' })).message).toBe(message);
  });

  it('certificates: the files win over PEM, then the SNI pairs; none with plain', () => {
    const sni: PairSource[] = [{ certFile: 'b.crt', keyFile: 'b.key' }];
    expect(resolveOptions({ cert: 'C', key: 'K' }).certificates).toEqual([{ cert: 'C', key: 'K' }]);
    expect(resolveOptions({ cert: 'C', key: 'K', certFile: 'a.crt', keyFile: 'a.key', sni }).certificates).toEqual([
      { certFile: 'a.crt', keyFile: 'a.key' },
      { certFile: 'b.crt', keyFile: 'b.key' },
    ]);
    expect(resolveOptions({ plain: true, certFile: 'a.crt', keyFile: 'a.key', sni }).certificates).toEqual([]);
  });

  it('path: one string or a list, each starting with "/"', () => {
    expect(plain({ path: '/ws' }).paths).toEqual(['/ws']);
    expect(plain({ path: ['/a', '/b'] }).paths).toEqual(['/a', '/b']);
    expect(configError(() => plain({ path: 'ws' })).message).toBe('path must start with "/": ws');
    expect(configError(() => plain({ path: ['/a', 'b'] })).message).toBe('path must start with "/": b');
  });

  it('trustProxy becomes a TrustedProxies; a bad address is a ConfigError with its message', () => {
    const r = plain({ trustProxy: ['127.0.0.1', '10.0.0.0/8'] });
    expect(r.trustProxy.has('10.1.2.3')).toBe(true);
    expect(r.trustProxy.has('11.1.2.3')).toBe(false);
    expect(configError(() => plain({ trustProxy: ['example.com'] })).message).toBe('trustProxy: "example.com" is not an IP address or CIDR');
    expect(configError(() => plain({ trustProxy: ['10.0.0.0/33'] })).message).toBe('trustProxy: "10.0.0.0/33" has a bad prefix length');
  });
});

describe('the public API', () => {
  it('exports ConfigError, the one class for bad options', () => {
    expect(api.ConfigError).toBe(ConfigError);
    expect(new ConfigError('x').name).toBe('ConfigError');
  });

  it('createServer() throws a ConfigError for a bad option', () => {
    expect(configError(() => api.createServer({ plain: true, maxPayload: 0 })).message).toBe(
      'maxPayload must be a positive integer up to 4294967296, got 0',
    );
  });

  it('ResolvedOptions and ServerOptions keep their field types (checked by tsc)', () => {
    type Select = (offered: readonly string[], request: UpgradeRequest) => string | undefined;
    expectTypeOf<ResolvedOptions['certificates']>().toEqualTypeOf<PairSource[]>();
    expectTypeOf<ResolvedOptions['watchCertificates']>().toEqualTypeOf<boolean>();
    expectTypeOf<ResolvedOptions['plain']>().toEqualTypeOf<boolean>();
    expectTypeOf<ResolvedOptions['noServer']>().toEqualTypeOf<boolean>();
    expectTypeOf<ResolvedOptions['host']>().toEqualTypeOf<string>();
    expectTypeOf<ResolvedOptions['port']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['paths']>().toEqualTypeOf<readonly string[] | undefined>();
    expectTypeOf<ResolvedOptions['maxPayload']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['maxFragments']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['maxHeadBytes']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['maxHeaderCount']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['maxLineBytes']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['handshakeTimeout']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['closeTimeout']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['highWaterMark']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['maxBuffered']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['bufferPolicy']>().toEqualTypeOf<'close' | 'drop'>();
    expectTypeOf<ResolvedOptions['maxConnections']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['maxConnectionsPerIp']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['trustProxy']>().toEqualTypeOf<TrustedProxies>();
    expectTypeOf<ResolvedOptions['idleTimeout']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['pingInterval']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['pingTimeout']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedOptions['subprotocols']>().toEqualTypeOf<readonly string[] | undefined>();
    expectTypeOf<ResolvedOptions['selectSubprotocol']>().toEqualTypeOf<Select | undefined>();
    expectTypeOf<ResolvedOptions['verifyRequest']>().toEqualTypeOf<ServerOptions['verifyRequest']>();
    expectTypeOf<ResolvedOptions['logger']>().toEqualTypeOf<Logger | false | undefined>();
    expectTypeOf<ResolvedOptions['demoPage']>().toEqualTypeOf<boolean>();
    expectTypeOf<ResolvedOptions['stats']>().toEqualTypeOf<boolean>();
    expectTypeOf<ResolvedOptions['statsPort']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<ResolvedOptions['statsHost']>().toEqualTypeOf<string>();

    expectTypeOf<ServerOptions['cert']>().toEqualTypeOf<string | Buffer | undefined>();
    expectTypeOf<ServerOptions['sni']>().toEqualTypeOf<readonly PairSource[] | undefined>();
    expectTypeOf<ServerOptions['path']>().toEqualTypeOf<string | readonly string[] | undefined>();
    expectTypeOf<ServerOptions['trustProxy']>().toEqualTypeOf<readonly string[] | undefined>();
    expectTypeOf<ServerOptions['bufferPolicy']>().toEqualTypeOf<'close' | 'drop' | undefined>();
    expectTypeOf<ServerOptions['port']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<ServerOptions['selectSubprotocol']>().toEqualTypeOf<Select | undefined>();
    expectTypeOf<ServerOptions['logger']>().toEqualTypeOf<Logger | false | undefined>();
  });
});

describe('resolveOptions: Redis and history', () => {
  it('a bad Redis URL, redis and broker together, history without redis: ConfigError', () => {
    expect(configError(() => plain({ redis: 'http://x' })).message).toMatch(/redis:\/\/ or rediss:\/\//);
    expect(configError(() => plain({ redis: 'redis://x', broker: new LocalBroker() })).message).toBe('give either redis or broker, not both');
    expect(configError(() => plain({ historySize: 10 })).message).toBe('historySize needs redis: history is kept in Redis');
    expect(plain({ redis: 'redis://x', historySize: 10, historyPrefix: ['room:'] })).toMatchObject({ redis: 'redis://x', redisPrefix: 'wssd:', historySize: 10, historyPrefix: ['room:'] });
  });
});

describe('resolveOptions: every ConfigError names its options', () => {
  // The library reads option names; the executable renders the same error with its flags (cli/main.ts).
  const cases: [ServerOptions, string[]][] = [
    [{ maxPayload: 0 }, ['maxPayload']],
    [{ bufferPolicy: 'queue' as 'close' }, ['bufferPolicy']],
    [{ port: 65536 }, ['port']],
    [{ path: 'ws' }, ['path']],
    [{ pingInterval: 5000, pingTimeout: 5001 }, ['pingTimeout', 'pingInterval']],
    [{ redis: 'http://x' }, ['redis']],
    [{ redis: 'redis://x', broker: new LocalBroker() }, ['redis', 'broker']],
    [{ historySize: 10 }, ['historySize', 'redis']],
    [{ trustProxy: ['example.com'] }, ['trustProxy']],
    [{ redis: 'rediss://x', redisCa: '/no/such/ca.pem' }, ['redisCa']],
    [{ perMessageDeflate: { level: 10 } }, ['perMessageDeflate']],
    [{ plain: false, cert: 'C', key: 'K', ticketKeys: Buffer.alloc(47) }, ['ticketKeys']],
    [{ plain: false, cert: 'C', key: 'K', ticketKeysFile: '/no/such/keys' }, ['ticketKeysFile']],
    [{ plain: false, cert: 'C', key: 'K', ticketKeys: Buffer.alloc(48), ticketKeysFile: '/k' }, ['ticketKeys', 'ticketKeysFile']],
  ];
  for (const [options, named] of cases) {
    it(`${JSON.stringify(options, (_k, v: unknown) => (v instanceof LocalBroker ? 'a broker' : v))} → about ${named.join(', ')}`, () => {
      const error = configError(() => plain(options));
      expect(error.options).toEqual(named);
      // Rendered with other names, every mention changes and nothing else does.
      const shouted = error.render((name) => name.toUpperCase());
      for (const name of named) expect(shouted).toContain(name.toUpperCase());
      expect(error.render((name) => name)).toBe(error.message);
    });
  }

  it('TLS without a certificate names the four options and plain', () => {
    expect(configError(() => resolveOptions({})).options).toEqual(['cert', 'key', 'certFile', 'keyFile', 'plain']);
  });
});

describe('resolveOptions: GatewayWorker mode', () => {
  const plain = { plain: true } as const;

  it('off without a Register; on with one: the LAN address makes the node, worker i adds i to the port', () => {
    expect(resolveOptions(plain).gatewayWorker).toBeUndefined();
    const o = resolveOptions({ ...plain, gatewayRegister: ['127.0.0.1:1236'], gatewayLan: '10.0.0.7:2000', gatewayLanOffset: 1 });
    expect(o.gatewayWorker).toMatchObject({ registers: [{ host: '127.0.0.1', port: 1236 }], lanIp: '10.0.0.7', lanPort: 2001, listenHost: '10.0.0.7', secret: '', router: 'least-connections' });
    expect(o.node).toBe('0a00000707d1');
  });

  it('refuses a LAN address that is not an IPv4 literal, a bad HOST:PORT, a node that is not the LAN address, a ping limit without an interval', () => {
    expect(() => resolveOptions({ ...plain, gatewayRegister: ['r:1'], gatewayLan: 'lan.example:2000' })).toThrow('gatewayLan must be the IPv4 address BusinessWorkers reach');
    expect(() => resolveOptions({ ...plain, gatewayRegister: ['r:1'], gatewayLan: '0.0.0.0:2000' })).toThrow('gatewayLan must be the IPv4 address');
    expect(() => resolveOptions({ ...plain, gatewayRegister: ['nowhere'] })).toThrow('gatewayRegister is HOST:PORT, got "nowhere"');
    expect(() => resolveOptions({ ...plain, gatewayRegister: ['r:1'], gatewayLan: '127.0.0.1:65535', gatewayLanOffset: 1 })).toThrow('past 65535');
    expect(() => resolveOptions({ ...plain, gatewayRegister: ['r:1'], node: 'abcdefabcdef' })).toThrow('node is the LAN address in GatewayWorker mode');
    expect(() => resolveOptions({ ...plain, gatewayRegister: ['r:1'], gatewayPingLimit: 2 })).toThrow('gatewayPingLimit needs gatewayPingInterval');
  });
});
