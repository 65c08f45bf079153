// Method 1 with nginx: docs/deploy/nginx.conf itself — its listen ports, certificate
// paths, site root and upstream port substituted, nothing else — wrapped in a
// minimal main configuration and run as a foreground nginx, in front of
// `wssd --plain` as the docs start it. The shared checks are in
// proxy-suite.ts; the docs' http → https redirect server is checked here.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { RawClient } from '../helpers/raw-client.js';
import { E2E_TIMEOUT, proxySuite } from './proxy-suite.js';
import { Daemon, DEV_CERT_FILE, DEV_KEY_FILE, requireTool, ROOT, substitute } from './support.js';

const NGINX = '/usr/sbin/nginx';

/** docs/deploy/nginx.conf with this machine's ports and paths; every substitution must apply. */
function renderSite(o: { port: number; redirectPort: number; root: string; wssdPort: number }): string {
  const what = 'docs/deploy/nginx.conf';
  let site = readFileSync(join(ROOT, 'docs', 'deploy', 'nginx.conf'), 'utf8');
  site = substitute(site, /listen 443 ssl;/g, `listen 127.0.0.1:${o.port} ssl;`, what);
  site = substitute(site, /listen \[::\]:443 ssl;/g, `listen [::1]:${o.port} ssl;`, what);
  site = substitute(site, /listen 80;/g, `listen 127.0.0.1:${o.redirectPort};`, what);
  site = substitute(site, /listen \[::\]:80;/g, `listen [::1]:${o.redirectPort};`, what);
  site = substitute(site, /ssl_certificate\s+\S+;/g, `ssl_certificate ${DEV_CERT_FILE};`, what);
  site = substitute(site, /ssl_certificate_key\s+\S+;/g, `ssl_certificate_key ${DEV_KEY_FILE};`, what);
  site = substitute(site, /root\s+\/var\/www\/example\.com;/g, `root ${o.root};`, what);
  site = substitute(site, '127.0.0.1:8282', `127.0.0.1:${o.wssdPort}`, what);
  return site;
}

/** The smallest main configuration around the site: one foreground process, every file in `dir`. */
function mainConf(dir: string): string {
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/html html; }
  default_type application/octet-stream;
  include ${dir}/site.conf;
}
`;
}

let redirectPort = 0;

const suite = proxySuite(
  'nginx',
  () => requireTool(NGINX, 'nginx'),
  async ({ dir, root, wssdPort }) => {
    const port = await freePort();
    redirectPort = await freePort();
    writeFileSync(join(dir, 'site.conf'), renderSite({ port, redirectPort, root, wssdPort }));
    writeFileSync(join(dir, 'nginx.conf'), mainConf(dir));
    const errorLog = join(dir, 'error.log');
    // -e: the log for startup errors, before the configuration names one.
    const daemon = new Daemon('nginx', NGINX, ['-e', errorLog, '-p', `${dir}/`, '-c', join(dir, 'nginx.conf')], {}, [errorLog]);
    await daemon.waitListening(port);
    return { daemon, port };
  },
);

it(
  'nginx: the port-80 server of docs/deploy/nginx.conf redirects http:// to https:// (301)',
  async () => {
    suite.front(); // Fails with the start-up error if nginx is not running.
    const client = await RawClient.connect({ port: redirectPort, tls: false });
    try {
      client.write('GET /some/page?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const response = await client.readResponse(5000);
      expect(response.status).toBe(301);
      expect(response.headers['location']).toBe('https://localhost/some/page?x=1');
    } finally {
      client.destroy();
    }
  },
  E2E_TIMEOUT,
);
