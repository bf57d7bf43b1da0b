// The hosts' TLS material: one CA per run (or per rotation), one certificate per host named for it
// (CN = host name, SAN = its address and name), used both as libvirtd's / QEMU's server certificate
// and as their client certificate. Each host's `tls/` dir holds the files under QEMU's names (what
// qemu.conf's *_tls_x509_cert_dir and the agent's --migration-tls-dir read) plus libvirt's client
// names as symlinks to them (what a `?pkipath=` peer URI reads). Paths are the same inside the
// daemon's namespaces and outside, so the agent and the daemons read one set of files.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';

/** QEMU's names (libvirt's qemu.conf documents them for every *_tls_x509_cert_dir). */
export const TLS_FILES = ['ca-cert.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem'] as const;
/** libvirt's client names (`pkipath`), as symlinks to QEMU's. */
export const LIBVIRT_CLIENT_ALIASES: Readonly<Record<string, string>> = {
  'cacert.pem': 'ca-cert.pem',
  'clientcert.pem': 'client-cert.pem',
  'clientkey.pem': 'client-key.pem',
};
/** The organization of every host certificate; libvirtd's tls_allowed_dn_list admits only it. */
export const HOST_CERT_ORGANIZATION = 'live-migration-test-hosts';

export interface TlsHost {
  name: string;
  address: string;
  dir: string;
}

export function tlsDir(hostDir: string): string {
  return join(hostDir, 'tls');
}

/** Issues a new CA in `runDir` and writes each host's files; replaces existing ones by rename. */
export function writeHostTls(runDir: string, hosts: readonly TlsHost[]): void {
  const work = mkdtempSync(join(runDir, 'pki-'));
  try {
    const ca = createCertificateAuthority(work, 'ca', `${HOST_CERT_ORGANIZATION} CA`);
    for (const host of hosts) {
      const [cert, key] = issueCertificate(work, host.name, ca, {
        commonName: host.name,
        organization: HOST_CERT_ORGANIZATION,
        altNames: { dns: [host.name], ips: [host.address] },
        usage: 'both',
      });
      const contents: Record<(typeof TLS_FILES)[number], string> = {
        'ca-cert.pem': readFileSync(ca.cert, 'utf8'),
        'server-cert.pem': readFileSync(cert, 'utf8'),
        'server-key.pem': readFileSync(key, 'utf8'),
        'client-cert.pem': readFileSync(cert, 'utf8'),
        'client-key.pem': readFileSync(key, 'utf8'),
      };
      const dir = tlsDir(host.dir);
      mkdirSync(dir, { recursive: true });
      for (const name of TLS_FILES) {
        // Each file replaced whole (rename), never half-written: what a rotation on a node looks like.
        const temp = join(dir, `.${name}.new`);
        writeFileSync(temp, contents[name], { mode: name.endsWith('-key.pem') ? 0o600 : 0o644 });
        renameSync(temp, join(dir, name));
      }
      for (const [alias, target] of Object.entries(LIBVIRT_CLIENT_ALIASES)) {
        try {
          symlinkSync(target, join(dir, alias));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
