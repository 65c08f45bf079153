// Many machines, end to end: docs/deploy/nginx-cluster.conf as written (ports,
// addresses and paths substituted, nothing else) in front of two wssd nodes
// that share one redis-server, and headless chromium's WebSockets through it.
// The two connections land on different nodes (each node's /stats says so),
// and a message sent on one reaches the other: it crossed nodes via Redis.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WssdProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/free-port.js';
import { RedisServer } from '../helpers/redis-server.js';
import { Chromium } from './chromium.js';
import { inPage } from './page-scripts.js';
import { E2E_TIMEOUT, HOOK_TIMEOUT } from './proxy-suite.js';
import { Daemon, DEV_CERT_FILE, DEV_KEY_FILE, removeDir, requireTool, ROOT, startWssd, substitute, tempDir } from './support.js';

const NGINX = '/usr/sbin/nginx';
const CHAT_APP = join(ROOT, 'examples', 'chat-app.mjs');

let dir: string | undefined;
let redis: RedisServer | undefined;
let nginx: Daemon | undefined;
let browser: Chromium | undefined;
const nodes: WssdProcess[] = [];
const statsPorts: number[] = [];
let port = 0;

function renderCluster(o: { port: number; root: string; nodePorts: number[] }): string {
  const what = 'docs/deploy/nginx-cluster.conf';
  let site = readFileSync(join(ROOT, 'docs', 'deploy', 'nginx-cluster.conf'), 'utf8');
  site = substitute(site, /listen 443 ssl;/g, `listen 127.0.0.1:${o.port} ssl;`, what);
  site = substitute(site, /listen \[::\]:443 ssl;/g, `listen [::1]:${o.port} ssl;`, what);
  site = substitute(site, /ssl_certificate\s+\S+;/g, `ssl_certificate ${DEV_CERT_FILE};`, what);
  site = substitute(site, /ssl_certificate_key\s+\S+;/g, `ssl_certificate_key ${DEV_KEY_FILE};`, what);
  site = substitute(site, /root\s+\/var\/www\/example\.com;/g, `root ${o.root};`, what);
  site = substitute(site, '10.0.0.11:8282', `127.0.0.1:${o.nodePorts[0]}`, what);
  site = substitute(site, '10.0.0.12:8282', `127.0.0.1:${o.nodePorts[1]}`, what);
  return site;
}

beforeAll(async () => {
  requireTool(NGINX, 'nginx');
  dir = tempDir('nginx-cluster');
  const root = join(dir, 'site');
  mkdirSync(root);
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>wssd cluster</title>');
  redis = await RedisServer.start();
  const nodePorts = [await freePort(), await freePort()];
  for (const nodePort of nodePorts) {
    const statsPort = await freePort();
    statsPorts.push(statsPort);
    nodes.push(await startWssd(['--plain', '--host', '127.0.0.1', '--port', String(nodePort), '--path', '/wss', '--trust-proxy', '127.0.0.1,::1', '--redis', redis.url, '--stats-port', String(statsPort), '--app', CHAT_APP]));
  }
  port = await freePort();
  writeFileSync(join(dir, 'site.conf'), renderCluster({ port, root, nodePorts }));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log info;\nevents { worker_connections 256; }\nhttp {\n  access_log ${dir}/access.log;\n  client_body_temp_path ${dir}/client_body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n  types { text/html html; }\n  default_type application/octet-stream;\n  include ${dir}/site.conf;\n}\n`,
  );
  const errorLog = join(dir, 'error.log');
  nginx = new Daemon('nginx', NGINX, ['-e', errorLog, '-p', `${dir}/`, '-c', join(dir, 'nginx.conf')], {}, [errorLog]);
  await nginx.waitListening(port);
  browser = await Chromium.launch({ trustCertificates: [DEV_CERT_FILE] });
}, HOOK_TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await nginx?.stop();
  for (const node of nodes) node.kill();
  await redis?.stop();
  removeDir(dir);
}, HOOK_TIMEOUT);

async function connections(statsPort: number): Promise<number> {
  const stats = (await (await fetch(`http://127.0.0.1:${statsPort}/stats`)).json()) as { connections: number };
  return stats.connections;
}

it(
  'chromium through docs/deploy/nginx-cluster.conf: two WebSockets land on the two nodes, and a message from one reaches the other through Redis',
  async () => {
    for (const statsPort of statsPorts) {
      const health = await fetch(`http://127.0.0.1:${statsPort}/healthz`);
      expect(health.status, 'every node reaches Redis').toBe(200);
    }
    const page = await (browser as Chromium).open(`https://localhost:${port}/`);
    const url = `wss://localhost:${port}/wss?room=fleet`;
    await page.evaluate(
      inPage(`
      window.a = await wsOpen(${JSON.stringify(url)});
      window.b = await wsOpen(${JSON.stringify(url)});
      return true;`),
    );
    // least_conn: one connection on each node.
    expect(await Promise.all(statsPorts.map(connections))).toEqual([1, 1]);
    const got = await page.evaluate<string>(
      inPage(`
      window.a.send('hello across the fleet');
      for (let i = 0; i < 10; i++) {
        const m = await wsNext(window.b);
        if (typeof m === 'string' && m.endsWith('hello across the fleet')) return m;
      }
      return 'not received';`),
    );
    // The chat names the sender by the address nginx reported (localhost may be ::1).
    expect(got).toMatch(/^\S+:[0-9]+: hello across the fleet$/);
    await page.close();
  },
  E2E_TIMEOUT,
);
