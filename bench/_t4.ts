import { readFileSync } from 'node:fs';
import { handshakeOnce } from './load-client.js';
import { startServers, pinClient, killAllServers } from './server-process.js';
import { targetOf } from './echo.js';
process.on('exit', killAllServers);
const pin = process.argv[3] === 'nopin' ? undefined : pinClient();
const ca = readFileSync(new URL('../certs/dev-ca.pem', import.meta.url));
const servers = await startServers([['tls','end'],['net','end'],['wss','echo'],['ws','echo']], pin);
for (const par of (process.argv[2] ?? '1,4').split(',').map(Number)) for (const s of servers) {
  const target = targetOf(s, ca);
  for (let i = 0; i < 20; i++) await handshakeOnce(target);
  const u0 = await s.usage(); const c0 = process.cpuUsage(); const t0 = performance.now();
  let n = 0;
  const end = t0 + 1000;
  await Promise.all(Array.from({length: par}, async () => { while (performance.now() < end) { await handshakeOnce(target); n++; } }));
  const u1 = await s.usage(); const c1 = process.cpuUsage(c0); const t1 = performance.now();
  console.log(s.kind, 'par', par, 'n/s', Math.round(n / (t1 - t0) * 1000), 'srv us', Math.round((u1.cpuUs - u0.cpuUs) / n), 'cli us', Math.round((c1.user + c1.system) / n), 'srv%', Math.round((u1.cpuUs - u0.cpuUs) / (t1 - t0) / 10), 'cli%', Math.round((c1.user + c1.system) / (t1 - t0) / 10));
}
await Promise.all(servers.map(s => s.stop()));
