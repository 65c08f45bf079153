// Throwaway leaf certificates for the certificate tests (reload, SNI), signed
// by the development CA in certs/ with the `openssl` CLI, so that test
// clients keep verifying the chain (they trust certs/dev-ca.pem) instead of
// switching verification off. Each leaf gets its own key, a random serial and
// an Organization that names it, so a test can tell which one a server showed.
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { CERTS_DIR, DEV_CA } from './raw-client.js';
import { describeMs, scaled } from './timeouts.js';

export interface Leaf {
  /** PEM: the leaf, then the CA (a full chain, as certbot's fullchain.pem). */
  cert: Buffer;
  key: Buffer;
  /** Upper-case hex, as tls.TLSSocket#getPeerCertificate() reports it. */
  serial: string;
  /** The Organization (O=) of the subject. */
  org: string;
}

export interface LeafSpec {
  /** subjectAltName DNS names, e.g. ['localhost'] or ['*.b.test']. */
  dnsNames: readonly string[];
  /** Put into the subject as O=…, to recognise the certificate. */
  org: string;
  /** Also 127.0.0.1 and ::1 as IP SANs. Default false. */
  loopbackIps?: boolean;
}

/** Makes a key and a CA-signed leaf in `dir` (files are named after `org`); returns their contents. */
export function makeLeaf(dir: string, spec: LeafSpec): Leaf {
  const base = join(dir, `leaf-${spec.org}-${randomBytes(4).toString('hex')}`);
  const sans = spec.dnsNames.map((n) => `DNS:${n}`);
  if (spec.loopbackIps === true) sans.push('IP:127.0.0.1', 'IP:::1');
  writeFileSync(
    `${base}.ext`,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${sans.join(',')}`,
      '',
    ].join('\n'),
  );
  // EC P-256: generated in milliseconds, unlike RSA.
  execFileSync(
    'openssl',
    [
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', `/O=${spec.org}/CN=${spec.dnsNames[0] ?? 'leaf'}`,
      '-keyout', `${base}.key`, '-out', `${base}.csr`,
    ],
    { stdio: 'pipe' },
  );
  // A random positive serial of 16 hex digits (no leading zero to pad), so two leaves never share one.
  const serial = '0x4' + randomBytes(8).toString('hex').slice(1);
  execFileSync(
    'openssl',
    [
      'x509', '-req', '-in', `${base}.csr`,
      '-CA', `${CERTS_DIR}dev-ca.pem`, '-CAkey', `${CERTS_DIR}dev-ca-key.pem`, '-set_serial', serial,
      '-days', '2', '-sha256', '-extfile', `${base}.ext`, '-out', `${base}.crt`,
    ],
    { stdio: 'pipe' },
  );
  const leaf = readFileSync(`${base}.crt`);
  const key = readFileSync(`${base}.key`);
  rmSync(`${base}.csr`);
  rmSync(`${base}.ext`);
  return { cert: Buffer.concat([leaf, DEV_CA]), key, serial: new X509Certificate(leaf).serialNumber.toUpperCase(), org: spec.org };
}

/**
 * Replaces `file` the way certbot and acme.sh do: the new contents go to a
 * temporary file in the same directory, which is then renamed over the old
 * one (atomic: a reader sees the old file or the new one, never half).
 */
export function replaceFile(file: string, contents: Buffer | string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

export interface PeerCertificate {
  serial: string;
  org: string;
  /** Whether the certificate is valid for the requested server name (chain verification is always on). */
  nameMatches: boolean;
}

/**
 * Opens a TLS connection to 127.0.0.1:`port` with SNI `servername`, reads the
 * certificate the server presented, and closes. The chain is verified against
 * the dev CA; the name check is reported rather than enforced, so a test can
 * see which certificate an unknown name gets.
 */
export function peerCertificate(port: number, servername: string, timeoutMs = 3000): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    let nameMatches = true;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername,
      ca: DEV_CA,
      checkServerIdentity: (host, cert) => {
        nameMatches = tls.checkServerIdentity(host, cert) === undefined;
        return undefined;
      },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS connect to port ${port} (SNI ${servername}) timed out after ${describeMs(timeoutMs)}`));
    }, scaled(timeoutMs));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = socket.getPeerCertificate();
      socket.destroy();
      const org: string | string[] | undefined = cert.subject.O;
      resolve({ serial: cert.serialNumber.toUpperCase(), org: Array.isArray(org) ? org.join(', ') : (org ?? ''), nameMatches });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}
