// The files one test host's libvirtd runs on, written into its directory before it starts. Paths in
// here are as the daemon sees them inside its mount namespace (see enter-host.sh).
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** QEMU's incoming-migration ports on the destination address (libvirt's defaults). */
export const MIGRATION_PORTS = { min: 49152, max: 49215 } as const;
/** libvirtd's plain-TCP port, on the host's in-namespace address only. */
export const LIBVIRTD_TCP_PORT = 16509;

export interface HostConfigInput {
  dir: string;
  address: string;
  /** Every host of the run, for /etc/hosts. */
  peers: ReadonlyArray<{ name: string; address: string }>;
}

export function writeHostConfig(input: HostConfigInput): { hostUuid: string } {
  const { dir, address } = input;
  for (const sub of ['etc', 'run', 'log', 'var-upper', 'var-work', 'dev']) mkdirSync(join(dir, sub), { recursive: true });
  // Distinct per host: two daemons with one host_uuid refuse to migrate ("migrate guest to the same host").
  const hostUuid = randomUUID();
  writeFileSync(
    join(dir, 'etc', 'libvirtd.conf'),
    [
      // TCP without auth is fine here: it listens only on an address inside the run's own namespaces.
      'listen_tls = 0',
      'listen_tcp = 1',
      `listen_addr = "${address}"`,
      `tcp_port = "${LIBVIRTD_TCP_PORT}"`,
      'auth_tcp = "none"',
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
