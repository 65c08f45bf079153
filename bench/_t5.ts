import { readFileSync } from 'node:fs';
import { open, closeFrame } from './load-client.js';
import { startServers, pinClient, killAllServers } from './server-process.js';
import { targetOf } from './echo.js';
process.on('exit', killAllServers);
const pin = pinClient();
const ca = readFileSync(new URL('../certs/dev-ca.pem', import.meta.url));
const servers = await startServers([['ws','echo'],['wss','echo']], pin);
for (const s of servers) {
  const target = targetOf(s, ca);
  const acc = [0,0,0,0,0];
  const N = 200;
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const { socket } = await open(target);
    const t1 = performance.now();
    const ts: number[] = [];
    await new Promise<void>((resolve) => {
      socket.on('data', () => ts[0] ??= performance.now());
      socket.on('end', () => ts[1] = performance.now());
      socket.on('close', () => { ts[2] = performance.now(); resolve(); });
      socket.write(closeFrame());
      socket.resume();
    });
    acc[0] += t1 - t0; acc[1] += ts[0] - t1; acc[2] += ts[1] - ts[0]; acc[3] += ts[2] - ts[1];
  }
  console.log(s.kind, 'open', (acc[0]/N).toFixed(3), 'close frame', (acc[1]/N).toFixed(3), 'end', (acc[2]/N).toFixed(3), 'close', (acc[3]/N).toFixed(3));
}
await Promise.all(servers.map(s => s.stop()));
