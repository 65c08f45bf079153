// Method 1 with apache: docs/deploy/apache.conf itself — its VirtualHost address,
// certificate paths, DocumentRoot and backend port substituted, nothing
// else — included from a self-contained main configuration (modules loaded
// by hand, every runtime file in a temp dir) and run as
// `apache2 -f CONF -DFOREGROUND`, in front of `wssd --plain` as the docs
// start it. The checks are the shared ones in proxy-suite.ts.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { scaled } from '../helpers/timeouts.js';
import { proxySuite } from './proxy-suite.js';
import { Daemon, DEV_CERT_FILE, DEV_KEY_FILE, requireTool, ROOT, substitute } from './support.js';

const APACHE = '/usr/sbin/apache2';
const MODULES_DIR = '/usr/lib/apache2/modules';

/** What docs/deploy/apache.conf needs, plus the MPM, TLS session cache, static files and access control. */
const MODULES = ['mpm_event', 'unixd', 'authz_core', 'log_config', 'mime', 'dir', 'socache_shmcb', 'ssl', 'headers', 'proxy', 'proxy_http', 'proxy_wstunnel'];

/** docs/deploy/apache.conf with this machine's addresses and paths; every substitution must apply. */
function renderSite(o: { port: number; root: string; wssdPort: number }): string {
  const what = 'docs/deploy/apache.conf';
  let site = readFileSync(join(ROOT, 'docs', 'deploy', 'apache.conf'), 'utf8');
  site = substitute(site, '<VirtualHost *:443>', `<VirtualHost 127.0.0.1:${o.port} [::1]:${o.port}>`, what);
  site = substitute(site, /SSLCertificateFile\s+\S+/g, `SSLCertificateFile ${DEV_CERT_FILE}`, what);
  site = substitute(site, /SSLCertificateKeyFile\s+\S+/g, `SSLCertificateKeyFile ${DEV_KEY_FILE}`, what);
  site = substitute(site, /DocumentRoot\s+\/var\/www\/example\.com/g, `DocumentRoot ${o.root}`, what);
  site = substitute(site, '127.0.0.1:8282', `127.0.0.1:${o.wssdPort}`, what);
  return site;
}

/** LoadModule lines for the modules this apache2 binary does not have compiled in (Debian builds unixd and log_config in). */
function loadModules(): string {
  const builtIn = spawnSync(APACHE, ['-l'], { encoding: 'utf8', timeout: scaled(10_000) }).stdout ?? '';
  return MODULES.filter((m) => !builtIn.includes(`mod_${m}.c`))
    .map((m) => `LoadModule ${m}_module ${MODULES_DIR}/mod_${m}.so`)
    .join('\n');
}

function mainConf(dir: string, port: number): string {
  // Apache refuses to serve as root: as root, its workers become www-data
  // (the temp dir is 0755 for them); otherwise they stay the current user.
  const asRoot = process.getuid?.() === 0;
  return `ServerRoot ${dir}
DefaultRuntimeDir ${dir}/run
PidFile ${dir}/run/apache2.pid
Mutex file:${dir}/run default
ErrorLog ${dir}/error.log
LogLevel warn
${loadModules()}
${asRoot ? 'User www-data\nGroup www-data' : ''}
ServerName localhost
Listen 127.0.0.1:${port}
Listen [::1]:${port}
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 5
MaxSpareThreads 50
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog ${dir}/access.log common
TypesConfig /etc/mime.types
DirectoryIndex index.html
SSLSessionCache shmcb:${dir}/run/ssl_scache(512000)
<Directory />
  Require all denied
</Directory>
<Directory ${dir}/www>
  Require all granted
</Directory>
Include ${dir}/site.conf
`;
}

proxySuite(
  'apache',
  () => requireTool(APACHE, 'apache2'),
  async ({ dir, root, wssdPort }) => {
    const port = await freePort();
    mkdirSync(join(dir, 'run'));
    chmodSync(join(dir, 'run'), 0o755);
    writeFileSync(join(dir, 'site.conf'), renderSite({ port, root, wssdPort }));
    const conf = join(dir, 'apache2.conf');
    writeFileSync(conf, mainConf(dir, port));
    const errorLog = join(dir, 'error.log');
    const daemon = new Daemon('apache2', APACHE, ['-d', dir, '-f', conf, '-DFOREGROUND'], {}, [errorLog]);
    await daemon.waitListening(port);
    return { daemon, port };
  },
);
