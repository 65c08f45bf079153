// temporary (not committed): heap by constructor per idle connection
import { createServer } from '../src/index.js';
import net from 'node:net';
import v8 from 'node:v8';
import { readFileSync } from 'node:fs';
const N = 2000;
function census(): Map<string, [number, number]> {
  const file = v8.writeHeapSnapshot('/tmp/prof/h.heapsnapshot');
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields; const nf = f.length;
  const ti = f.indexOf('type'), ni = f.indexOf('name'), si = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const m = new Map<string, [number, number]>();
  for (let i = 0; i < snap.nodes.length; i += nf) {
    const type = types[snap.nodes[i + ti]];
    const name = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + ni]]}` : type;
    const e = m.get(name) ?? [0, 0]; e[0]++; e[1] += snap.nodes[i + si]; m.set(name, e);
  }
  return m;
}
const server = createServer({ plain: true, port: 0, host: '127.0.0.1', logger: false, pingInterval: 0 });
const { port } = await server.listen();
server.on('connection', (c: any) => c.on('message', (d: any) => c.send(d)));
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const socks: net.Socket[] = [];
async function openOne() {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write(`GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise((r) => s.once('data', r));
  socks.push(s);
}
for (let i = 0; i < 50; i++) await openOne();
(globalThis as any).gc(); 
const a = census();
for (let i = 0; i < N; i++) await openOne();
await new Promise((r) => setTimeout(r, 500));
(globalThis as any).gc();
const b = census();
const rows: [string, number, number][] = [];
for (const [k, [c, s]] of b) { const [c0, s0] = a.get(k) ?? [0, 0]; rows.push([k, (c - c0) / N, (s - s0) / N]); }
rows.sort((x, y) => y[2] - x[2]);
let total = 0; for (const r of rows) total += r[2];
console.log('total bytes/conn (client+server in-process!)', total.toFixed(0));
for (const r of rows.slice(0, 40)) console.log(r[2].toFixed(1).padStart(8), r[1].toFixed(2).padStart(6), r[0]);
process.exit(0);
