// The connect proxy: when identity lives in the backend (a session cookie, a
// login the backend checks), each handshake is POSTed to it before the
// upgrade — {client, ip, path, query, headers} with an allow-list of headers
// — and its answer says who the client is ({user, topics, info, allow,
// publish}) or refuses it ({refuse: {status, reason}}). A timeout, an error
// or an answer that is not one is a 503: the client may try again. At most
// `concurrency` requests are in flight, as many more wait, the rest are
// refused at once, so a slow backend never queues handshakes without bound.
import { handshakeErrors } from '../protocol/errors.js';
import type { ClientIdentity, UpgradeRequest } from '../http/upgrade.js';
import { HttpPostError, post } from './http-post.js';
import { readGatewayClaims } from './jwt.js';
import { Semaphore } from '../pubsub/semaphore.js';

/** Headers the backend is shown: what identifies a browser or a client, nothing else. */
export const FORWARDED_HEADERS = ['cookie', 'authorization', 'user-agent', 'origin', 'x-forwarded-for', 'x-real-ip', 'accept-language'] as const;

/** Largest answer read from the proxy. */
const MAX_ANSWER = 64 * 1024;

export interface ConnectProxyOptions {
  url: URL;
  timeout: number;
  concurrency: number;
  /** A request that failed, with its cause (timeout, network, status, answer): for the log and the counters. */
  onFailure: (cause: string, message: string) => void;
}

export class ConnectProxy {
  private readonly slots: Semaphore;

  constructor(private readonly options: ConnectProxyOptions) {
    this.slots = new Semaphore(options.concurrency);
  }

  /** Who the client is, from the backend; throws a HandshakeError (its refusal, or 503). */
  async identify(request: UpgradeRequest): Promise<ClientIdentity> {
    if (this.slots.queued >= this.options.concurrency) throw handshakeErrors.proxyBusy();
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = request.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const body = JSON.stringify({ client: request.client, ip: request.remoteAddress, path: request.path, query: request.query, headers });
    const answer = await this.slots.run(async () => {
      try {
        return await post(this.options.url, body, { timeout: this.options.timeout, maxBody: MAX_ANSWER });
      } catch (error) {
        const kind = error instanceof HttpPostError ? error.kind : 'network';
        this.options.onFailure(`connect-proxy-${kind}`, `the connect proxy failed: ${error instanceof Error ? error.message : String(error)}`);
        throw handshakeErrors.proxyUnavailable();
      }
    });
    if (answer.status !== 200) {
      this.options.onFailure('connect-proxy-status', `the connect proxy answered ${answer.status}`);
      throw handshakeErrors.proxyUnavailable();
    }
    let value: unknown;
    try {
      value = JSON.parse(answer.body.toString('utf8'));
    } catch {
      this.options.onFailure('connect-proxy-answer', 'the connect proxy answered something that is not JSON');
      throw handshakeErrors.proxyUnavailable();
    }
    const refused = refusal(value);
    if (refused !== undefined) throw refused;
    try {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
      const answerObject = value as Record<string, unknown>;
      const expireAt = answerObject.expire_at;
      return { ...readGatewayClaims(answerObject, 'user'), expiresAt: typeof expireAt === 'number' ? expireAt * 1000 : undefined };
    } catch (error) {
      this.options.onFailure('connect-proxy-answer', `the connect proxy's answer: ${error instanceof Error ? error.message : String(error)}`);
      throw handshakeErrors.proxyUnavailable();
    }
  }
}

/** {refuse: {status, reason}}: the backend's refusal, with a 4xx status (403 when it gives none that is one). */
function refusal(value: unknown) {
  if (typeof value !== 'object' || value === null) return undefined;
  const refuse = (value as Record<string, unknown>).refuse;
  if (refuse === undefined) return undefined;
  const r = typeof refuse === 'object' && refuse !== null ? (refuse as Record<string, unknown>) : {};
  const status = typeof r.status === 'number' && Number.isInteger(r.status) && r.status >= 400 && r.status <= 499 ? r.status : 403;
  const reason = typeof r.reason === 'string' && r.reason !== '' ? r.reason.replace(/[\r\n]/g, ' ').slice(0, 200) : 'refused by the backend';
  return handshakeErrors.refusedByBackend(status, reason);
}
