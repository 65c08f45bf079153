// TLS handshake failures, as Node reports them on 'tlsClientError'. Most are
// noise from the internet (scanners, resets, clients that distrust a dev
// certificate); one is a common operator question: OpenSSL's "http request"
// error, a client that spoke plain HTTP (ws://, http://) to the TLS port. Each
// is classified, counted, and logged at most once per peer IP per window.

export interface TlsClientErrorKind {
  /** A stable name for counting: 'http_request', 'unsupported_protocol', … */
  kind: string;
  /** One sentence for the log. */
  explanation: string;
}

const KNOWN: Record<string, TlsClientErrorKind> = {
  ERR_SSL_HTTP_REQUEST: {
    kind: 'http_request',
    explanation: 'the client used ws:// or http:// instead of wss:// — harmless, answered 400 (use https:// or wss://)',
  },
  ERR_SSL_HTTPS_PROXY_REQUEST: {
    kind: 'http_proxy_request',
    explanation: 'the client sent an HTTP CONNECT (proxy) request to the TLS port — harmless, connection closed',
  },
  ERR_SSL_UNSUPPORTED_PROTOCOL: {
    kind: 'unsupported_protocol',
    explanation: 'the client offered only TLS versions below 1.2, which this server refuses',
  },
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: {
    kind: 'unsupported_protocol',
    explanation: 'the client offered only TLS versions below 1.2, which this server refuses',
  },
  ERR_SSL_NO_SHARED_CIPHER: {
    kind: 'no_shared_cipher',
    explanation: 'the client offered no cipher suite this server accepts',
  },
  ERR_SSL_WRONG_VERSION_NUMBER: {
    kind: 'not_tls',
    explanation: 'the client sent bytes that are not TLS',
  },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: {
    kind: 'certificate_rejected',
    explanation: 'the client did not accept the server certificate (untrusted CA or wrong name)',
  },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: {
    kind: 'certificate_rejected',
    explanation: 'the client does not trust the CA of the server certificate',
  },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: {
    kind: 'certificate_rejected',
    explanation: 'the client rejected the server certificate',
  },
  ECONNRESET: { kind: 'reset', explanation: 'the client closed the connection during the TLS handshake' },
  ERR_TLS_HANDSHAKE_TIMEOUT: { kind: 'handshake_timeout', explanation: 'the TLS handshake did not finish in time' },
};

export function classifyTlsClientError(error: Error & { code?: string }): TlsClientErrorKind {
  const code = error.code ?? '';
  if (Object.hasOwn(KNOWN, code)) return KNOWN[code];
  // An unknown OpenSSL error: its code is the most stable name we have.
  return { kind: code !== '' ? code.toLowerCase() : 'unknown', explanation: `TLS handshake failed (${code || error.message.slice(0, 80)})` };
}

/**
 * At most one log line per key per window; what was held back is counted and
 * reported with the next line for that key. The key table is bounded: past
 * maxKeys, expired entries are dropped, and if none are, the oldest.
 */
export class RateLimiter {
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, { since: number; suppressed: number }>();

  constructor(windowMs = 60_000, maxKeys = 10_000, now: () => number = Date.now) {
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
    this.now = now;
  }

  /** Returns -1 to hold the line back, or how many lines were held back before this one. */
  take(key: string): number {
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry !== undefined && now - entry.since < this.windowMs) {
      entry.suppressed++;
      return -1;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.entries.delete(key);
    if (this.entries.size >= this.maxKeys) this.prune(now);
    this.entries.set(key, { since: now, suppressed: 0 });
    return suppressed;
  }

  private prune(now: number): void {
    // Entries are (re)inserted when logged, so the Map is in `since` order:
    // the expired ones are all at the front.
    for (const [key, entry] of this.entries) {
      if (now - entry.since < this.windowMs) break;
      this.entries.delete(key);
    }
    // All recent: drop the oldest (Map keeps insertion order).
    while (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
