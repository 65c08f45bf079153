// TLS session tickets (RFC 5077 for TLS 1.2; RFC 8446 §4.6.1 for 1.3): the
// keys that encrypt the session state a client keeps and hands back to skip
// the full handshake. Shared keys let a client resume on any worker of
// --workers and on any node of a fleet; several keys let them be rotated
// without turning away the tickets already out.
//
// A key is 48 bytes laid out as nginx's `ssl_session_ticket_key` file: a
// 16-byte name (sent in clear in each ticket, to find the key again), a
// 16-byte AES-128-CBC key, a 16-byte HMAC-SHA256 key. A file holds one key or
// several back to back: the first encrypts new tickets; every one decrypts,
// and a ticket under an older key is accepted and replaced by one under the
// first. Rotation: put a new key first, keep the previous one after it for at
// least the ticket lifetime (sessionTimeout, 300 s by default), then drop it.
//
// Node takes one key per context (`ticketKeys`); decrypting with several needs
// the ticket-key callback of its SecureContext, which Node uses in its own
// tests (test-https-resume-after-renew.js) but does not document. It is used
// only while a file holds several keys; where it is missing, the first key
// alone serves, and `install` says so.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { ConfigError } from '../config-error.js';

export const TICKET_KEY_BYTES = 48;
/** The most keys one file may hold: a current one and a few being retired. */
export const MAX_TICKET_KEYS = 16;

export interface TicketKey {
  /** Sent in clear in every ticket it encrypts: how the key is found again. */
  name: Buffer;
  aes: Buffer;
  hmac: Buffer;
}

/** Splits N × 48 bytes into keys; a ConfigError names `source` and what is wrong. */
export function parseTicketKeys(bytes: Buffer, source: string): TicketKey[] {
  if (bytes.length === 0 || bytes.length % TICKET_KEY_BYTES !== 0) {
    throw new ConfigError(`${source} must hold one or more ${TICKET_KEY_BYTES}-byte TLS ticket keys (${TICKET_KEY_BYTES} × N bytes), got ${bytes.length} bytes`);
  }
  const count = bytes.length / TICKET_KEY_BYTES;
  if (count > MAX_TICKET_KEYS) throw new ConfigError(`${source} holds ${count} TLS ticket keys; at most ${MAX_TICKET_KEYS}`);
  const keys: TicketKey[] = [];
  for (let at = 0; at < bytes.length; at += TICKET_KEY_BYTES) {
    // Copies, so the caller's buffer can be reused or wiped.
    const key = Buffer.from(bytes.subarray(at, at + TICKET_KEY_BYTES));
    keys.push({ name: key.subarray(0, 16), aes: key.subarray(16, 32), hmac: key.subarray(32, 48) });
  }
  for (let i = 1; i < keys.length; i++) {
    for (let j = 0; j < i; j++) {
      if (keys[i].name.equals(keys[j].name)) throw new ConfigError(`${source}: TLS ticket keys ${j + 1} and ${i + 1} have the same name (their first 16 bytes)`);
    }
  }
  return keys;
}

/** Reads a key file; a ConfigError when it cannot be read or is not N × 48 bytes. */
export function readTicketKeyFile(file: string): TicketKey[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new ConfigError(`cannot read the TLS ticket key file ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return parseTicketKeys(bytes, `the TLS ticket key file ${file}`);
}

/** 48 random bytes: one key, as `openssl rand 48` makes for nginx. */
export function randomTicketKey(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

/** The part of a key's name that may be logged (it travels in clear anyway). */
export function describeKeys(keys: readonly TicketKey[]): string {
  const names = keys.map((k) => k.name.toString('hex').slice(0, 8));
  return `${keys.length} key(s), encrypting with ${names[0]}${names.length > 1 ? `, also decrypting ${names.slice(1).join(', ')}` : ''}`;
}

// The callback's answer (node's SecureContext: kTicketKeyReturnIndex…):
// 1 = use this key, 2 = decrypted with an older key: issue a new ticket,
// 0 = unknown key: full handshake.
type TicketAnswer = [number, Buffer, Buffer] | [number, Buffer, Buffer, Buffer, Buffer];
interface NativeContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => TicketAnswer;
  setTicketKeys?: (keys: Buffer) => void;
}

/** Contexts whose tickets go through the callback (it cannot be turned off again). */
const withCallback = new WeakSet<NativeContext>();

/**
 * The keys in force. Rotation replaces them here; every context they were
 * installed on reads them at each ticket, so nothing has to be rebuilt and
 * open connections are untouched.
 */
export class TicketKeyRing {
  private keys: TicketKey[];
  private readonly answer = (name: Buffer, _iv: Buffer, encrypt: boolean): TicketAnswer => {
    const keys = this.keys;
    const current = keys[0];
    if (encrypt) return [1, current.hmac, current.aes, current.name, randomBytes(16)];
    for (let i = 0; i < keys.length; i++) {
      if (keys[i].name.equals(name)) return [i === 0 ? 1 : 2, keys[i].hmac, keys[i].aes];
    }
    return [0, current.hmac, current.aes];
  };

  constructor(keys: TicketKey[]) {
    if (keys.length === 0) throw new ConfigError('a TLS ticket key ring needs at least one key');
    this.keys = keys;
  }

  get current(): readonly TicketKey[] {
    return this.keys;
  }

  /** Rotation: new keys for every ticket from now on. */
  replace(keys: TicketKey[]): void {
    if (keys.length === 0) throw new ConfigError('a TLS ticket key ring needs at least one key');
    this.keys = keys;
  }

  /** Whether `keys` are the ones in force (a reload that changes nothing). */
  same(keys: readonly TicketKey[]): boolean {
    return keys.length === this.keys.length && keys.every((k, i) => k.name.equals(this.keys[i].name) && k.aes.equals(this.keys[i].aes) && k.hmac.equals(this.keys[i].hmac));
  }

  /**
   * Makes `context` encrypt and decrypt tickets with this ring; call again
   * after replace(). One key is given to node:tls itself (its order: name,
   * HMAC, AES), which encrypts in C++; several need the ticket-key callback,
   * a call into JavaScript per ticket (≈ 100 µs more CPU per full TLS
   * handshake, two tickets, in an A/B on the development machine), so only
   * while a rotation keeps an old key. A context that has the callback keeps
   * it (node:tls cannot take it back), reading whatever keys are in force.
   * Returns false where several keys are in force and Node lacks the
   * callback: the context then has the first key alone.
   */
  install(context: tls.SecureContext): boolean {
    const native = (context as tls.SecureContext & { context?: NativeContext }).context;
    if (native === undefined) return false;
    const first = this.keys[0];
    if (!withCallback.has(native) && (this.keys.length === 1 || typeof native.enableTicketKeyCallback !== 'function')) {
      native.setTicketKeys?.(Buffer.concat([first.name, first.hmac, first.aes]));
      return this.keys.length === 1 && typeof native.setTicketKeys === 'function';
    }
    native.onticketkeycallback = this.answer;
    native.enableTicketKeyCallback?.();
    withCallback.add(native);
    return true;
  }
}
