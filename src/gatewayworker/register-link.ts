// The link to one GatewayWorker Register (spec §4.3): connect, say
// gateway_connect with this Gateway's LAN address and the secret, and keep
// the connection; the Register then tells every BusinessWorker and
// GatewayClient where this Gateway is, and forgets it when the connection
// closes. After any close or failed connect, connect again a second later,
// for as long as the server runs. Over anything but a loopback address, a
// ping line every 25 s keeps the Register's side of it (and any NAT) alive.
// The Register sends a Gateway nothing; what arrives is read and dropped.
import net from 'node:net';
import type { RegisterAddress } from '../options/gatewayworker-options.js';

export const REGISTER_RECONNECT_MS = 1000;
export const REGISTER_PING_MS = 25_000;

/**
 * The gateway_connect line as GatewayWorker's Gateway writes it, byte for
 * byte (a space after each comma; the key is not JSON-escaped there, so one
 * with a quote or backslash would break the Register's JSON: we escape it,
 * which reads the same for every key that works with PHP).
 */
export function gatewayConnectLine(address: string, secret: string): string {
  const key = JSON.stringify(secret).slice(1, -1);
  return `{"event":"gateway_connect", "address":"${address}", "secret_key":"${key}"}\n`;
}

export const REGISTER_PING_LINE = '{"event":"ping"}\n';

export interface RegisterLinkHost {
  /** Registered (the line is written), or the connection is lost (`detail` says why). Called on changes only. */
  state(register: RegisterAddress, connected: boolean, detail: string): void;
}

export class RegisterLink {
  private socket: net.Socket | undefined;
  private retry: NodeJS.Timeout | undefined;
  private ping: NodeJS.Timeout | undefined;
  private connected = false;
  private stopped = false;

  constructor(
    readonly register: RegisterAddress,
    /** This Gateway's LAN address, IP:PORT. */
    private readonly address: string,
    private readonly secret: string,
    private readonly host: RegisterLinkHost,
  ) {}

  start(): void {
    if (this.stopped || this.socket !== undefined) return;
    const socket = net.connect({ host: this.register.host, port: this.register.port });
    this.socket = socket;
    let failure = '';
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(gatewayConnectLine(this.address, this.secret));
      this.connected = true;
      this.host.state(this.register, true, `registered ${this.address} with the Register at ${this.describe()}`);
      if (!this.register.host.startsWith('127.0.0.1')) {
        this.ping = setInterval(() => socket.write(REGISTER_PING_LINE), REGISTER_PING_MS).unref();
      }
    });
    // The Register writes nothing to a Gateway; whatever comes is not kept.
    socket.on('data', () => {});
    socket.on('error', (error: NodeJS.ErrnoException) => {
      failure = error.code ?? error.message;
    });
    socket.on('close', () => {
      this.socket = undefined;
      clearInterval(this.ping);
      this.ping = undefined;
      if (this.connected || failure !== '') {
        const how = this.connected ? `lost the Register at ${this.describe()}${failure === '' ? '' : ` (${failure})`}` : `cannot reach the Register at ${this.describe()}: ${failure}`;
        this.host.state(this.register, false, `${how}; trying again every ${REGISTER_RECONNECT_MS / 1000} s`);
      }
      this.connected = false;
      if (this.stopped) return;
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.start();
      }, REGISTER_RECONNECT_MS).unref();
    });
  }

  get isRegistered(): boolean {
    return this.connected;
  }

  /** Closes the link (the Register then forgets this Gateway) and stops reconnecting. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.ping);
    this.socket?.end();
    this.socket?.destroySoon();
  }

  private describe(): string {
    return `${this.register.host}:${this.register.port}`;
  }
}
