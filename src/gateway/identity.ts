// Who a client is, decided before the upgrade: from its token (the `token`
// query parameter, which browsers and WeChat can set, or Authorization:
// Bearer, which other clients can), else from the connect proxy, else nobody
// (an anonymous connection, reachable by its client id). With tokens
// configured and no connect proxy, a client without a token is refused (401).
import type { KeyObject } from 'node:crypto';
import type { ClientIdentity, UpgradeRequest } from '../http/upgrade.js';
import { readTokenKeys, type TokenSettings } from './settings.js';
import { handshakeErrors } from '../protocol/errors.js';
import type { ConnectProxy } from './connect-proxy.js';
import { verifyToken, type TokenClaims } from './jwt.js';

export class Identifier {
  private publicKeys: KeyObject[];

  constructor(
    private readonly tokens: TokenSettings | undefined,
    private readonly proxy: ConnectProxy | undefined,
    /** Milliseconds since the epoch (tests pass their own). */
    private readonly now: () => number = Date.now,
  ) {
    this.publicKeys = tokens?.publicKeys ?? [];
  }

  /** Whether anything decides who clients are; without it every connection is anonymous. */
  get active(): boolean {
    return this.tokens !== undefined || this.proxy !== undefined;
  }

  /** Who the client is; throws (or rejects with) a HandshakeError to refuse it. */
  identify(request: UpgradeRequest): ClientIdentity | undefined | Promise<ClientIdentity> {
    const tokens = this.tokens;
    const token = tokens === undefined ? undefined : tokenOf(request);
    if (tokens !== undefined && token !== undefined) {
      const claims = verifyToken(token, { secrets: tokens.secrets, publicKeys: this.publicKeys }, { now: this.now() / 1000, allowNoExp: tokens.allowNoExp, audience: tokens.audience, issuer: tokens.issuer });
      return identityOf(claims);
    }
    if (this.proxy !== undefined) return this.proxy.identify(request);
    if (tokens !== undefined) throw handshakeErrors.tokenMissing();
    return undefined;
  }

  /** Verifies a new token for a connection (a refresh): its identity, or a HandshakeError. */
  verify(token: string): ClientIdentity {
    const tokens = this.tokens;
    if (tokens === undefined) throw handshakeErrors.tokenMissing();
    return identityOf(verifyToken(token, { secrets: tokens.secrets, publicKeys: this.publicKeys }, { now: this.now() / 1000, allowNoExp: tokens.allowNoExp, audience: tokens.audience, issuer: tokens.issuer }));
  }

  /** The public key file, for the watcher. */
  get keyFile(): string | undefined {
    return this.tokens?.publicKeyFile;
  }

  /**
   * Reads the public key file again (SIGHUP, or the file changed): new
   * handshakes are verified with its keys. A file that does not load keeps
   * the keys in force and says why.
   */
  reloadKeys(): { outcome: 'reloaded' | 'unchanged' | 'refused'; detail: string } {
    const file = this.tokens?.publicKeyFile;
    if (file === undefined) return { outcome: 'unchanged', detail: 'no token key file' };
    let keys: KeyObject[];
    try {
      keys = readTokenKeys(file);
    } catch (error) {
      return { outcome: 'refused', detail: error instanceof Error ? error.message : String(error) };
    }
    const same = keys.length === this.publicKeys.length && keys.every((k, i) => k.equals(this.publicKeys[i] as KeyObject));
    if (same) return { outcome: 'unchanged', detail: file };
    this.publicKeys = keys;
    return { outcome: 'reloaded', detail: `${keys.length} key(s) from ${file}` };
  }
}

/** The token a request carries: Authorization: Bearer, else the `token` query parameter. */
export function tokenOf(request: UpgradeRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (m !== null) return m[1];
  }
  if (request.query === '') return undefined;
  const token = new URLSearchParams(request.query).get('token');
  return token === null || token === '' ? undefined : token;
}

function identityOf(claims: TokenClaims): ClientIdentity {
  return { user: claims.user, info: claims.info, topics: claims.topics, allow: claims.allow, publish: claims.publish, expiresAt: claims.exp === undefined ? undefined : claims.exp * 1000 };
}
