import { readFileSync } from 'node:fs';
import { connect, upgrade } from './load-client.js';
import { startServers, pinClient, killAllServers } from './server-process.js';
import { targetOf } from './echo.js';
process.on('exit', killAllServers);
const pin = process.argv[2] === 'nopin' ? undefined : pinClient();
const ca = readFileSync(new URL('../certs/dev-ca.pem', import.meta.url));
const servers = await startServers([['ws','echo'],['wss','echo'],['net','hold'],['tls','hold']], pin);
for (const s of servers) {
  const target = targetOf(s, ca);
  const acc = [0,0];
  const N = 200;
  const c0 = process.cpuUsage(); const u0 = await s.usage();
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const socket = await connect(target);
    const t1 = performance.now();
    if (target.websocket) await upgrade(socket, target.port);
    const t2 = performance.now();
    acc[0] += t1 - t0; acc[1] += t2 - t1;
    socket.destroy();
  }
  const c1 = process.cpuUsage(c0); const u1 = await s.usage();
  console.log(s.kind, 'connect', (acc[0]/N).toFixed(3), 'upgrade', (acc[1]/N).toFixed(3), 'cli us', ((c1.user+c1.system)/N).toFixed(0), 'srv us', ((u1.cpuUs-u0.cpuUs)/N).toFixed(0));
}
await Promise.all(servers.map(s => s.stop()));
