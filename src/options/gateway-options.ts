// The gateway's options, declared once like every server option (they join
// serverOptions, after the others in --help): who a client is (tokens, the
// connect proxy), the server API for backends, backend events and the
// message proxy. Resolved here into what the gateway needs: secrets as
// bytes, public keys read (and re-read on reload), URLs parsed.
import { about, ConfigError, naming, option } from '../config-error.js';
import { backendUrl } from '../gateway/http-post.js';
import { readTokenKeys, type ResolvedGateway } from '../gateway/settings.js';
import { integer, list, text, toggle, type Resolved } from './declaration.js';

export const gatewayOptions = {
  jwtSecret: list({
    flag: { name: 'jwt-secret', arg: 'SECRET' },
    help: 'connection tokens: an HMAC secret for HS256/384/512 tokens (the token comes in the token query parameter or Authorization: Bearer); repeat to rotate. WSSD_JWT_SECRET keeps it out of the process list',
    shows: 'none',
  }),
  jwtPublicKey: text({
    flag: { name: 'jwt-public-key', arg: 'FILE' },
    help: 'connection tokens: PEM public key(s) for RS256, ES256 and EdDSA tokens; reloaded on SIGHUP and when the file changes',
  }),
  jwtAllowNoExp: toggle({ default: false, flag: { name: 'jwt-allow-no-exp' }, help: 'accept tokens without exp (by default a token must expire)' }),
  jwtAudience: text({ flag: { name: 'jwt-audience', arg: 'AUD' }, help: 'tokens must name this audience (aud)' }),
  jwtIssuer: text({ flag: { name: 'jwt-issuer', arg: 'ISS' }, help: 'tokens must come from this issuer (iss)' }),
  connectUrl: text({
    flag: { name: 'connect-url', arg: 'URL' },
    help: 'connect proxy: each handshake is POSTed here ({client, ip, path, query, headers}); the backend answers {user, topics, info} or {refuse: {status, reason}}',
  }),
  proxyTimeout: integer({ min: 1, default: 5000, flag: { name: 'proxy-timeout', arg: 'MS' }, help: 'how long the backend may take to answer a proxy request (connect, subscribe, message) or an events batch; past it the handshake gets 503, the subscribe is refused as unavailable, the message is counted lost, the events batch is retried' }),
  proxyConcurrency: integer({
    min: 1,
    default: 256,
    flag: { name: 'proxy-concurrency', arg: 'N' },
    help: 'requests in flight at once to each backend proxy (connect, subscribe, message); more wait their turn — for the connect proxy as many more, the rest of the handshakes refused with 503',
  }),
  apiPort: integer({ min: 0, max: 65535, flag: { name: 'api-port', arg: 'N' }, help: 'serve the server API (HTTP, JSON) for backends on this port', shows: 'off' }),
  apiHost: text({ default: '127.0.0.1', flag: { name: 'api-host', arg: 'ADDR' }, help: 'address the server API listens on' }),
  apiKey: list({
    flag: { name: 'api-key', arg: 'KEY' },
    help: 'a key the server API accepts (Authorization: Bearer KEY); required with --api-port; repeat for several. WSSD_API_KEY keeps it out of the process list',
    shows: 'none',
  }),
  apiMaxBody: integer({ min: 1, default: 1024 * 1024, flag: { name: 'api-max-body', arg: 'N' }, help: 'largest server API request body, in bytes; larger → 413' }),
  eventsUrl: text({
    flag: { name: 'events-url', arg: 'URL' },
    help: 'backend events (connect, disconnect, subscribe, unsubscribe) are POSTed here in batches, signed with --events-secret',
  }),
  eventsSecret: text({ flag: { name: 'events-secret', arg: 'SECRET' }, help: 'the HMAC-SHA256 key that signs each events request (X-Wssd-Signature); required with --events-url' }),
  eventsMaxQueue: integer({
    min: 1,
    default: 10_000,
    flag: { name: 'events-max-queue', arg: 'N' },
    help: 'events waiting for the backend; past it an event is dropped and counted, never blocking a connection',
  }),
  subscribeUrl: text({
    flag: { name: 'subscribe-url', arg: 'URL' },
    help: "subscribe proxy: a wssd.v1 client's subscription its token does not allow is POSTed here ({client, user, topic}); {} allows, {refuse: {reason}} refuses",
  }),
  clientSubscribePrefix: list({
    flag: { name: 'client-subscribe-prefix', arg: 'P', commas: 'everywhere' },
    help: "wssd.v1 clients may subscribe themselves to topics under this prefix, whoever they are; '*' for every topic",
    shows: 'none (with the test page on: demo:)',
  }),
  clientPublishPrefix: list({
    flag: { name: 'client-publish-prefix', arg: 'P', commas: 'everywhere' },
    help: "wssd.v1 clients may publish on topics under this prefix, whoever they are; '*' for every topic",
    shows: 'none (with the test page on: demo:)',
  }),
  messageUrl: text({
    flag: { name: 'message-url', arg: 'URL' },
    help: 'message proxy: each client message is POSTed here ({client, user, data}); a non-empty 200 answer goes back to that client',
  }),
  messageMaxQueue: integer({
    min: 1,
    default: 16,
    flag: { name: 'message-max-queue', arg: 'N' },
    help: "one connection's messages waiting for the message proxy; past it reading from that connection pauses until they are answered",
  }),
};

type Declared = typeof gatewayOptions;

/** The gateway's options checked together; the declared ones alone were resolved with the rest. */
export function resolveGateway(declared: Resolved<Declared>): ResolvedGateway {
  const secrets = (declared.jwtSecret ?? []).map((s) => Buffer.from(s, 'utf8'));
  if (secrets.some((s) => s.length === 0)) throw new ConfigError(naming`${option('jwtSecret')} must not be empty`);
  const publicKeyFile = declared.jwtPublicKey;
  const publicKeys = publicKeyFile === undefined ? [] : about('jwtPublicKey', () => readTokenKeys(publicKeyFile));
  const tokens = secrets.length > 0 || publicKeys.length > 0 ? { secrets, publicKeyFile, publicKeys, allowNoExp: declared.jwtAllowNoExp, audience: declared.jwtAudience, issuer: declared.jwtIssuer } : undefined;
  if (declared.apiPort !== undefined && (declared.apiKey ?? []).length === 0) throw new ConfigError(naming`${option('apiPort')} needs ${option('apiKey')}: the server API never runs without a key`);
  if ((declared.apiKey ?? []).some((k) => k.length < 16)) throw new ConfigError(naming`${option('apiKey')} must be at least 16 characters`);
  // Authorization: Bearer KEY carries no white space: such a key would never be accepted.
  if ((declared.apiKey ?? []).some((k) => /\s/.test(k))) throw new ConfigError(naming`${option('apiKey')} must not contain white space`);
  if (declared.eventsUrl !== undefined && (declared.eventsSecret ?? '') === '') throw new ConfigError(naming`${option('eventsUrl')} needs ${option('eventsSecret')}: the backend checks each request's signature`);
  return {
    tokens,
    connectUrl: url('connectUrl', declared.connectUrl),
    eventsUrl: url('eventsUrl', declared.eventsUrl),
    messageUrl: url('messageUrl', declared.messageUrl),
    subscribeUrl: url('subscribeUrl', declared.subscribeUrl),
  };
}

function url(name: string, text: string | undefined): URL | undefined {
  return text === undefined ? undefined : about(name, () => backendUrl(text, 'the URL'));
}
