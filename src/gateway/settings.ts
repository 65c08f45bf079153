// What the gateway is configured with, as the resolved options hand it over
// (options/gateway-options.ts declares and checks them): connection tokens,
// the backends' URLs, and the settings the gateway's parts read. Declared
// here, beside what reads them, so the gateway needs nothing from options/.
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config-error.js';
import { readPublicKeys } from './jwt.js';
import type { MessageRouter, RpcHandler } from './message-proxy.js';

/** Connection tokens, resolved: the secrets as bytes, the public keys read, the claims' rules. */
export interface TokenSettings {
  secrets: Buffer[];
  publicKeyFile: string | undefined;
  publicKeys: KeyObject[];
  allowNoExp: boolean;
  audience: string | undefined;
  issuer: string | undefined;
}

export interface ResolvedGateway {
  /** Undefined when no token is configured: connections are anonymous, or the connect proxy says who they are. */
  tokens: TokenSettings | undefined;
  connectUrl: URL | undefined;
  eventsUrl: URL | undefined;
  messageUrl: URL | undefined;
  subscribeUrl: URL | undefined;
}

/** What the gateway reads of the server's options (gateway.ts). */
export interface GatewaySettings {
  gateway: ResolvedGateway;
  proxyTimeout: number;
  proxyConcurrency: number;
  eventsSecret: string | undefined;
  eventsMaxQueue: number;
  messageMaxQueue: number;
  routeMessage: MessageRouter | undefined;
  watchCertificates: boolean;
  apiPort: number | undefined;
  apiHost: string;
  apiKey: readonly string[] | undefined;
  apiMaxBody: number;
}

/** What wssd.v1 sessions read of the server's options (v1/services.ts). */
export interface V1Settings {
  demoPage: boolean;
  onRpc: RpcHandler | undefined;
  clientSubscribePrefix: readonly string[] | undefined;
  clientPublishPrefix: readonly string[] | undefined;
}

/** The public keys of a token key file: read at start (a bad file stops it) and on reload. */
export function readTokenKeys(file: string): KeyObject[] {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return readPublicKeys(pem, file);
}
