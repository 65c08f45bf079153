// A port nobody listens on right now, for child processes that need a fixed
// --port (in-process servers use port 0 instead).
//
// Not one the kernel hands out itself: a port of the ephemeral range, free
// when probed, can become the source port of any test's outgoing connection
// before the child binds it (EADDRINUSE). So a port is drawn at random below
// that range, probed, and never handed out twice by this process; two test
// processes drawing the same one at the same moment is what remains.
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The lowest port the kernel uses for outgoing connections (Linux: ip_local_port_range), else the IANA default. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 12_000) return low;
  } catch {
    // Not Linux: IANA's dynamic range.
  }
  return 49_152;
}

const LOW = 10_000;
const HIGH = ephemeralLow();
const handedOut = new Set<number>();

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await canListen(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} in 100 attempts`);
}
