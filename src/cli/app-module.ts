// --app MODULE: the application the executable runs. Its shape is AppModule
// (exported from `wssd`); the older forms, a default-exported function or an
// onConnection export called for every connection, are still accepted.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, naming, option } from '../config-error.js';
import type { RequestVerifier } from '../http/upgrade.js';
import type { Connection, UpgradeRequest } from '../server/connection.js';
import type { WebSocketServer } from '../server/websocket-server.js';

/**
 * What an --app module exports, as named exports or as the members of a
 * default-exported object; every member is optional, but one must be there.
 * A default-exported function alone is `onConnection`.
 */
export interface AppModule {
  /**
   * Called once in each process that serves (every worker of --workers),
   * with its server, before it listens; awaited. A throw (or a rejection)
   * stops the start-up: one line, exit 1.
   */
  init?(server: WebSocketServer): void | Promise<void>;
  /**
   * The server's verifyRequest: it sees each valid upgrade request before
   * the 101 and may refuse it with a status (false: 403; { status: 401 }…).
   */
  verifyRequest?: RequestVerifier;
  /** Called for every connection, after the 101. */
  onConnection?(connection: Connection, request: UpgradeRequest, server: WebSocketServer): void;
  /**
   * With --message-url: whether this message goes to the message proxy
   * (true) or stays with the application alone (false). Without it, every
   * message goes to the proxy.
   */
  routeMessage?(connection: Connection, data: string | Buffer, isBinary: boolean): boolean;
  /**
   * Answers a wssd.v1 client's rpc: a string, bytes, or a value sent as
   * JSON (or a promise of one). Without it, rpcs go to the message proxy.
   */
  onRpc?(connection: Connection, data: string | Buffer, isBinary: boolean): unknown;
}

const MEMBERS = ['init', 'verifyRequest', 'onConnection', 'routeMessage', 'onRpc'] as const;

/** What the executable runs without --app: every message is sent back as it came. */
export const echoApp: AppModule = {
  onConnection(connection) {
    connection.on('message', (data, isBinary) => connection.send(data, { binary: isBinary }));
  },
};

/** Imports the module `spec` names (a path, or a file: URL) and checks its shape. */
export async function loadApp(spec: string): Promise<AppModule> {
  const url = spec.startsWith('file:') ? spec : pathToFileURL(resolve(spec)).href;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(naming`cannot load ${option('app')} ${spec}: ${describe(error)}`);
  }
  return appFrom(exports, spec);
}

/**
 * The AppModule in a module's exports: a default-exported object's members,
 * else the named exports; a default-exported function is onConnection when
 * there is no other.
 */
export function appFrom(exports: Record<string, unknown>, spec: string): AppModule {
  const fallback = exports.default;
  const source = typeof fallback === 'object' && fallback !== null ? (fallback as Record<string, unknown>) : exports;
  const found: Record<string, unknown> = {};
  for (const member of MEMBERS) {
    const value = source[member];
    if (value === undefined) continue;
    if (typeof value !== 'function') throw new ConfigError(naming`${option('app')} ${spec}: its ${member} is not a function`);
    found[member] = value;
  }
  if (found.onConnection === undefined && typeof fallback === 'function') found.onConnection = fallback;
  if (Object.keys(found).length === 0) {
    throw new ConfigError(naming`${option('app')} ${spec} exports no function: a default function, or init, verifyRequest or onConnection`);
  }
  return found as AppModule;
}

/** Runs the module's init with the server; what it throws becomes the start-up's ConfigError. */
export async function initApp(app: AppModule, server: WebSocketServer, spec: string | undefined): Promise<void> {
  if (app.init === undefined) return;
  try {
    await app.init(server);
  } catch (error) {
    throw new ConfigError(naming`${option('app')} ${spec ?? ''}: init failed: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
