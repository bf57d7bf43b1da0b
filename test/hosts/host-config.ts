// The files one test host's libvirtd runs on, written into its directory before it starts. Paths in
// here are as the daemon sees them inside its mount namespace (see enter-host.sh).
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HOST_CERT_ORGANIZATION, tlsDir } from './host-tls.js';

/** QEMU's incoming-migration ports on the destination address (libvirt's defaults). */
export const MIGRATION_PORTS = { min: 49152, max: 49215 } as const;
/** libvirtd's TLS port (libvirt's default), on the host's in-namespace address only. There is no plain-TCP listener. */
export const LIBVIRTD_TLS_PORT = 16514;

/** libvirtd's default server TLS paths under /etc/pki → the host's QEMU-named file. */
const LIBVIRTD_DEFAULT_TLS_PATHS: Readonly<Record<string, string>> = {
  'CA/cacert.pem': 'ca-cert.pem',
  'libvirt/servercert.pem': 'server-cert.pem',
  'libvirt/private/serverkey.pem': 'server-key.pem',
};

export interface HostConfigInput {
  dir: string;
  address: string;
  /** Every host of the run, for /etc/hosts. */
  peers: ReadonlyArray<{ name: string; address: string }>;
}

export function writeHostConfig(input: HostConfigInput): { hostUuid: string } {
  const { dir, address } = input;
  for (const sub of ['etc', 'run', 'log', 'var-upper', 'var-work', 'etc-upper', 'etc-work', 'dev']) mkdirSync(join(dir, sub), { recursive: true });
  // libvirtd's server files at libvirt's default paths (enter-host.sh says why), in the upper dir
  // of the host's private /etc overlay: links to the QEMU-named files, so a rotation is one place.
  for (const [path, target] of Object.entries(LIBVIRTD_DEFAULT_TLS_PATHS)) {
    mkdirSync(join(dir, 'etc-upper', 'pki', dirname(path)), { recursive: true });
    symlinkSync(join(tlsDir(dir), target), join(dir, 'etc-upper', 'pki', path));
  }
  // Distinct per host: two daemons with one host_uuid refuse to migrate ("migrate guest to the same host").
  const hostUuid = randomUUID();
  writeFileSync(
    join(dir, 'etc', 'libvirtd.conf'),
    [
      // Peers reach libvirtd over TLS only, and only with a certificate of the run's CA whose
      // organization is the harness's (x509 client verification; no SASL on top). No plain TCP.
      'listen_tls = 1',
      'listen_tcp = 0',
      `listen_addr = "${address}"`,
      `tls_port = "${LIBVIRTD_TLS_PORT}"`,
      'auth_tls = "none"',
      'tls_no_verify_certificate = 0',
      `tls_allowed_dn_list = ["CN=*,O=${HOST_CERT_ORGANIZATION}", "O=${HOST_CERT_ORGANIZATION},CN=*"]`,
      // ca_file, cert_file, key_file: libvirt's defaults under /etc/pki, links into tls/ (below).
      // The local socket is reachable only from the root namespace, through the run's directory.
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      `host_uuid = "${hostUuid}"`,
      // libvirtd exits when its log dir is missing; enter-host.sh creates it on the bind-mounted log dir.
      'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'etc', 'qemu.conf'),
    [
      'user = "root"',
      'group = "root"',
      'dynamic_ownership = 0',
      'remember_owner = 0',
      'security_driver = "none"',
      // No virtlogd (not installed, and one more daemon to reap): QEMU writes its log file itself.
      'stdio_handler = "file"',
      // No per-QEMU mount namespace or cgroups: the host's own namespace is isolation enough, and a
      // private /dev per QEMU would bring back the /dev/kvm enter-host.sh hid.
      'namespaces = [ ]',
      'cgroup_controllers = [ ]',
      `migration_address = "${address}"`,
      `migration_host = "${address}"`,
      `migration_port_min = ${MIGRATION_PORTS.min}`,
      `migration_port_max = ${MIGRATION_PORTS.max}`,
      // QEMU's migration stream over TLS when a migration asks for it (virsh migrate --tls): QEMU
      // reads these files at each migration and verifies the peer's certificate. Not forced, so
      // that kubevirt-config's disableTLS can still run a plain stream.
      `migrate_tls_x509_cert_dir = "${tlsDir(dir)}"`,
      'migrate_tls_x509_verify = 1',
      '',
    ].join('\n'),
  );
  // Debian's libvirtd looks up its compiled-in "libvirt-qemu" user even when qemu.conf says root.
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const group = readFileSync('/etc/group', 'utf8');
  const line = (text: string, entry: string) => (new RegExp(`^${entry.split(':')[0]}:`, 'm').test(text) ? '' : `${entry}\n`);
  writeFileSync(join(dir, 'passwd'), ensureNewline(passwd) + line(passwd, 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin'));
  writeFileSync(join(dir, 'group'), ensureNewline(group) + line(group, 'libvirt-qemu:x:64055:') + line(group, 'kvm:x:64056:'));
  writeFileSync(
    join(dir, 'hosts'),
    ['127.0.0.1 localhost', '::1 localhost', ...input.peers.map((peer) => `${peer.address} ${peer.name}`), ''].join('\n'),
  );
  return { hostUuid };
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') || text === '' ? text : `${text}\n`;
}
