// Whether one more connection may open: the server-wide and the per-address
// limits, checked at the handshake so a refusal is an HTTP answer (503, 429
// with Retry-After) rather than a connection dropped after the 101.
import { handshakeErrors, type HandshakeError } from '../protocol/errors.js';

export class Admission {
  /** Open connections per client address, only while maxPerAddress is set. */
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    /** 0: no per-address limit. */
    private readonly maxPerAddress: number,
  ) {}

  /** The refusal for one more connection from `address` while `open` are open, or undefined to admit it. */
  check(address: string, open: number): HandshakeError | undefined {
    if (open >= this.maxConnections) return handshakeErrors.serverFull();
    if (this.maxPerAddress > 0 && (this.perAddress.get(address) ?? 0) >= this.maxPerAddress) return handshakeErrors.tooManyFromAddress();
    return undefined;
  }

  opened(address: string): void {
    if (this.maxPerAddress === 0) return;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
  }

  closed(address: string): void {
    if (this.maxPerAddress === 0) return;
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(address, n);
    else this.perAddress.delete(address);
  }
}
