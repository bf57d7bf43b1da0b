// Certificates for the local control plane, made with the machine's openssl: a CA, the API
// server's serving certificate, an admin client certificate (system:masters) and the
// service-account signing key. EC keys keep a cold start fast.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function newKey(dir: string, name: string): string {
  const path = join(dir, name);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], dir);
  return path;
}

export interface CertificateRequest {
  commonName: string;
  organization?: string;
  /** DNS names and IPs for a serving certificate; empty for a client certificate. */
  altNames?: { dns?: string[]; ips?: string[] };
  usage: 'server' | 'client' | 'both';
}

/** Signs a new key's certificate with the CA; returns [certPath, keyPath]. */
export function issueCertificate(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  request: CertificateRequest,
): [string, string] {
  const key = newKey(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  const subject = `/CN=${request.commonName}${request.organization ? `/O=${request.organization}` : ''}`;
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  const usages = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[request.usage];
  const sans = [
    ...(request.altNames?.dns ?? []).map((d) => `DNS:${d}`),
    ...(request.altNames?.ips ?? []).map((ip) => `IP:${ip}`),
  ];
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usages}`,
      ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n'),
  );
  openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '365', '-sha256', '-extfile', ext, '-out', cert],
    dir,
  );
  return [cert, key];
}

export function createCertificateAuthority(dir: string, name: string, commonName: string): { cert: string; key: string } {
  const key = newKey(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  openssl(
    ['req', '-x509', '-new', '-key', key, '-subj', `/CN=${commonName}`, '-days', '365', '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert],
    dir,
  );
  return { cert, key };
}

export function createControlPlanePki(dir: string): Pki {
  const ca = createCertificateAuthority(dir, 'ca', 'live-migration-local-ca');
  const [servingCert, servingKey] = issueCertificate(dir, 'apiserver', ca, {
    commonName: 'kube-apiserver',
    altNames: { dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'], ips: ['127.0.0.1', '10.0.0.1'] },
    usage: 'server',
  });
  const [adminCert, adminKey] = issueCertificate(dir, 'admin', ca, {
    commonName: 'admin',
    organization: 'system:masters',
    usage: 'client',
  });
  const serviceAccountKey = newKey(dir, 'service-account.key');
  const serviceAccountPub = join(dir, 'service-account.pub');
  openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub], dir);
  return { caCert: ca.cert, caKey: ca.key, servingCert, servingKey, adminCert, adminKey, serviceAccountKey, serviceAccountPub };
}

export function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
