// The client's real address behind a TLS-terminating proxy (nginx, apache).
// A proxy reports it in X-Forwarded-For (each hop appends the address it saw)
// and X-Real-IP. Anyone can send those headers, so they are believed only
// when the TCP peer is a configured proxy, and then X-Forwarded-For is read
// from the right, skipping trusted proxies: the first untrusted entry is the
// one no client could have forged.
import net from 'node:net';

export class TrustedProxies {
  private readonly list = new net.BlockList();
  readonly size: number;

  /** `specs`: addresses and CIDRs, e.g. ["127.0.0.1", "::1", "10.0.0.0/8"]. Throws on a bad one. */
  constructor(specs: readonly string[]) {
    for (const raw of specs) {
      const spec = raw.trim();
      const slash = spec.indexOf('/');
      const address = slash < 0 ? spec : spec.slice(0, slash);
      const family = net.isIP(address);
      if (family === 0) throw new RangeError(`"${raw}" is not an IP address or CIDR`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) {
        this.list.addAddress(address, type);
        continue;
      }
      const prefixText = spec.slice(slash + 1);
      const prefix = Number(prefixText);
      if (!/^[0-9]{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) {
        throw new RangeError(`"${raw}" has a bad prefix length`);
      }
      this.list.addSubnet(address, prefix, type);
    }
    this.size = specs.length;
  }

  has(address: string): boolean {
    const family = net.isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** An X-Forwarded-For element without a port or brackets, or '' if it is no IP address. */
function cleanAddress(element: string): string {
  let a = element.trim();
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    a = close < 0 ? '' : a.slice(1, close);
  } else if (a.indexOf(':') !== a.lastIndexOf(':')) {
    // Several colons: IPv6 without a port.
  } else if (a.includes(':')) {
    a = a.slice(0, a.indexOf(':')); // IPv4:port
  }
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
  return net.isIP(a) !== 0 ? a : '';
}

/**
 * The client's address: `peer` itself unless it is a trusted proxy, then the
 * right-most untrusted X-Forwarded-For entry, else X-Real-IP, else `peer`.
 */
export function clientAddress(peer: string, headers: Record<string, string>, trusted: TrustedProxies | undefined): string {
  if (trusted === undefined || trusted.size === 0 || !trusted.has(peer)) return peer;
  const forwarded = headers['x-forwarded-for'];
  if (forwarded !== undefined) {
    const hops = forwarded.split(',');
    let leftmost = '';
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = cleanAddress(hops[i]);
      // A garbled entry ends the chain we can trust.
      if (hop === '') break;
      leftmost = hop;
      if (!trusted.has(hop)) return hop;
    }
    // Every hop was a trusted proxy: the first one is as far back as we can see.
    if (leftmost !== '') return leftmost;
  }
  const real = headers['x-real-ip'];
  if (real !== undefined) {
    const address = cleanAddress(real);
    if (address !== '') return address;
  }
  return peer;
}
