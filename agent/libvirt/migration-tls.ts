// The node's migration TLS material (--migration-tls-dir), checked before libvirt and QEMU use it,
// so a missing, expired or mismatched file is refused with its name instead of surfacing as a
// handshake error in the middle of a migration.
//
// One directory, the same path for the agent, libvirtd and QEMU on the node:
//   ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem
//     QEMU's names: qemu.conf's migrate_tls_x509_cert_dir points here (QEMU reads them at every
//     migration), and libvirtd.conf's ca_file / cert_file / key_file name the first three.
//   cacert.pem, clientcert.pem, clientkey.pem
//     libvirt's client names, as symlinks to the QEMU-named files: the source libvirtd dials its
//     peer at qemu+tls://…?pkipath=<dir>, and libvirt looks for these names there.
import { X509Certificate, createPrivateKey, createHash } from 'node:crypto';
import { isIP } from 'node:net';

export const MIGRATION_TLS_FILES = ['ca-cert.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem'] as const;
export type MigrationTlsFile = (typeof MIGRATION_TLS_FILES)[number];
/** libvirt's client name → the QEMU-named file it must hold the same bytes as. */
export const LIBVIRT_CLIENT_NAMES: Readonly<Record<string, MigrationTlsFile>> = {
  'cacert.pem': 'ca-cert.pem',
  'clientcert.pem': 'client-cert.pem',
  'clientkey.pem': 'client-key.pem',
};

/** File name → its contents; a missing file is absent. */
export type TlsDirContents = Readonly<Record<string, string | undefined>>;

/** Every file the agent reads, in a fixed order (for the fingerprint). */
export const ALL_TLS_NAMES: readonly string[] = [...MIGRATION_TLS_FILES, ...Object.keys(LIBVIRT_CLIENT_NAMES)];

/** Changes whenever any file changes: a rotation is noticed by comparing two of these. */
export function fingerprint(contents: TlsDirContents): string {
  const hash = createHash('sha256');
  for (const name of ALL_TLS_NAMES) hash.update(`${name}\0${contents[name] ?? '\u0001missing'}\0`);
  return hash.digest('hex');
}

function parseCert(contents: TlsDirContents, name: string, problems: string[]): X509Certificate | undefined {
  const text = contents[name];
  if (text === undefined) return undefined;
  try {
    return new X509Certificate(text);
  } catch (error) {
    problems.push(`${name}: not a PEM certificate (${(error as Error).message})`);
    return undefined;
  }
}

function checkValidity(name: string, cert: X509Certificate, nowMs: number, problems: string[]): void {
  if (Date.parse(cert.validFrom) > nowMs) problems.push(`${name}: not valid before ${cert.validFrom}`);
  if (Date.parse(cert.validTo) <= nowMs) problems.push(`${name}: expired at ${cert.validTo}`);
}

function checkLeaf(contents: TlsDirContents, certName: MigrationTlsFile, keyName: MigrationTlsFile, ca: X509Certificate | undefined, nowMs: number, problems: string[]): X509Certificate | undefined {
  const cert = parseCert(contents, certName, problems);
  if (!cert) return undefined;
  checkValidity(certName, cert, nowMs, problems);
  if (ca && !(cert.checkIssued(ca) && cert.verify(ca.publicKey))) problems.push(`${certName}: not signed by the CA in ca-cert.pem (${ca.subject.replace(/\n/g, ', ')})`);
  const keyText = contents[keyName];
  if (keyText !== undefined) {
    try {
      if (!cert.checkPrivateKey(createPrivateKey(keyText))) problems.push(`${keyName}: not the key of ${certName}`);
    } catch (error) {
      problems.push(`${keyName}: not a PEM private key (${(error as Error).message})`);
    }
  }
  return cert;
}

/**
 * What is wrong with the material for a node whose peers dial `address`; empty when it is usable.
 * The server certificate must name that address (libvirt and QEMU check the peer's name against it).
 */
export function checkMigrationTls(contents: TlsDirContents, address: string, nowMs: number): string[] {
  const problems: string[] = [];
  for (const name of MIGRATION_TLS_FILES) if (contents[name] === undefined) problems.push(`${name}: missing`);
  for (const [alias, target] of Object.entries(LIBVIRT_CLIENT_NAMES)) {
    if (contents[alias] === undefined) problems.push(`${alias}: missing (libvirt's client name; a symlink to ${target})`);
    else if (contents[target] !== undefined && contents[alias] !== contents[target]) problems.push(`${alias}: differs from ${target} (it should be a symlink to it)`);
  }
  const ca = parseCert(contents, 'ca-cert.pem', problems);
  if (ca) {
    checkValidity('ca-cert.pem', ca, nowMs, problems);
    if (!ca.ca) problems.push('ca-cert.pem: not a CA certificate (basicConstraints CA:TRUE)');
  }
  const server = checkLeaf(contents, 'server-cert.pem', 'server-key.pem', ca, nowMs, problems);
  checkLeaf(contents, 'client-cert.pem', 'client-key.pem', ca, nowMs, problems);
  if (server && address !== '') {
    const named = isIP(address) ? server.checkIP(address) : server.checkHost(address);
    if (!named) problems.push(`server-cert.pem: does not name ${address}, the address peers dial (subjectAltName ${server.subjectAltName ?? 'none'})`);
  }
  return problems;
}
