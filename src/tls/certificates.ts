// Certificates at the edge: load and check PEM pairs, pick one by SNI server
// name, and reload them without a restart (SIGHUP, or the files changing as
// certbot / acme.sh replace them). A pair that fails to load never replaces a
// working one: the server keeps serving the old certificate and says why.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import tls from 'node:tls';

export class CertificateError extends Error {}

/** Where a pair comes from: PEM contents, or files (which can then be reloaded). */
export interface PairSource {
  cert?: string | Buffer;
  key?: string | Buffer;
  certFile?: string;
  keyFile?: string;
}

export interface LoadedPair {
  cert: Buffer;
  key: Buffer;
  x509: X509Certificate;
  /** DNS names (and IP addresses) the certificate is for, lower-cased. */
  names: string[];
  context: tls.SecureContext;
  /** A digest of cert+key, to skip reloads that change nothing. */
  digest: string;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new CertificateError(`cannot read the TLS ${what} file ${file}${code ? ` (${code})` : ''}`);
  }
}

function namesOf(x509: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (x509.subjectAltName ?? '').split(',')) {
    const item = part.trim();
    if (item.startsWith('DNS:')) names.push(item.slice(4).toLowerCase());
    else if (item.startsWith('IP Address:')) names.push(item.slice(11).toLowerCase());
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
    if (cn) names.push(cn[1].toLowerCase());
  }
  return names;
}

/**
 * Secure-context options every pair shares: TLS 1.2+ (WeChat needs 1.2;
 * 1.0/1.1 are deprecated, RFC 8996), and one session-ID context for every
 * process and node. A resumed session must carry the context of the server
 * resuming it; node:tls's default is a hash of process.argv, which differs
 * between nodes started with different flags and would refuse their tickets.
 */
export const TLS_BASE: tls.SecureContextOptions = { minVersion: 'TLSv1.2', sessionIdContext: 'wssd' };

/** Loads and checks one pair; throws a CertificateError that says precisely what is wrong. */
export function loadPair(source: PairSource): LoadedPair {
  const certName = source.certFile ?? 'the certificate';
  const keyName = source.keyFile ?? 'the key';
  const cert = source.certFile !== undefined ? readPem(source.certFile, 'certificate') : toBuffer(source.cert);
  const key = source.keyFile !== undefined ? readPem(source.keyFile, 'key') : toBuffer(source.key);
  if (cert === undefined || key === undefined) throw new CertificateError('a TLS pair needs both a certificate and a key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new CertificateError(`${certName} is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new CertificateError(`${keyName} is not a PEM private key (or it is encrypted)`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new CertificateError(`the key ${keyName} does not match the certificate ${certName}`);
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ ...TLS_BASE, cert, key });
  } catch (error) {
    throw new CertificateError(`${certName}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const digest = createHash('sha256').update(cert).update(key).digest('hex');
  return { cert, key, x509, names: namesOf(x509), context, digest };
}

function toBuffer(v: string | Buffer | undefined): Buffer | undefined {
  return v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v);
}

/** Pairs in a directory: every NAME.crt / NAME.pem with a NAME.key beside it. */
export function pairsInDirectory(dir: string): PairSource[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (error) {
    throw new CertificateError(`cannot read the SNI directory ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const set = new Set(files);
  const out: PairSource[] = [];
  for (const f of files.sort()) {
    const ext = extname(f);
    if (ext !== '.crt' && ext !== '.pem') continue;
    const keyName = basename(f, ext) + '.key';
    if (set.has(keyName)) out.push({ certFile: join(dir, f), keyFile: join(dir, keyName) });
  }
  if (out.length === 0) throw new CertificateError(`no NAME.crt/NAME.pem + NAME.key pairs in the SNI directory ${dir}`);
  return out;
}

/** RFC 6125 §6.4.3: "*" matches exactly one left-most label. */
export function nameMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

export function describePair(pair: LoadedPair): string {
  const subject = pair.x509.subject.replace(/\n/g, ', ');
  return `certificate "${subject}" for ${pair.names.join(', ') || '?'} valid until ${new Date(pair.x509.validTo).toISOString().slice(0, 10)}`;
}

/**
 * The server's certificates: a default pair plus any number for SNI, all
 * replaced together on reload so a half-updated set is never served.
 */
export class CertificateStore {
  private readonly sources: PairSource[];
  private pairs: LoadedPair[];

  /** `sources[0]` is the default. Throws a CertificateError at startup for a bad pair. */
  constructor(sources: PairSource[]) {
    if (sources.length === 0) throw new CertificateError('TLS needs a certificate and a key');
    this.sources = sources;
    this.pairs = sources.map(loadPair);
  }

  get defaultPair(): LoadedPair {
    return this.pairs[0];
  }

  get all(): readonly LoadedPair[] {
    return this.pairs;
  }

  /** Files to watch for changes (only file-backed pairs can be reloaded). */
  get files(): string[] {
    return this.sources.flatMap((s) => [s.certFile, s.keyFile]).filter((f): f is string => f !== undefined);
  }

  /** The context for an SNI server name: an exact name first, then a wildcard, else the default. */
  contextFor(servername: string): tls.SecureContext {
    const host = servername.toLowerCase();
    for (const p of this.pairs) if (p.names.includes(host)) return p.context;
    for (const p of this.pairs) for (const n of p.names) if (nameMatches(n, host)) return p.context;
    return this.pairs[0].context;
  }

  /**
   * Loads every pair again. Returns 'unchanged', 'reloaded', or throws a
   * CertificateError (and keeps the current pairs) when any new pair is bad.
   */
  reload(): 'unchanged' | 'reloaded' {
    const next = this.sources.map(loadPair);
    const same = next.every((p, i) => p.digest === this.pairs[i].digest);
    if (same) return 'unchanged';
    this.pairs = next;
    return 'reloaded';
  }
}

/**
 * Calls `onChange` (debounced) when any of `files` changes. Directories are
 * watched rather than files, because certbot and acme.sh replace a file by
 * renaming a new one over it (or by moving a symlink), which a watch on the
 * old inode would never see.
 */
export function watchFiles(files: string[], onChange: () => void, debounceMs = 500): () => void {
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const dir = dirname(f);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)?.add(basename(f));
  }
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // Some platforms give no name; then any change in the directory counts.
        if (name === null || names.has(name.toString()) || name.toString().startsWith('..')) fire();
      });
      w.on('error', () => {});
      watchers.push(w);
    } catch {
      // A directory that cannot be watched: SIGHUP still reloads.
    }
  }
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
