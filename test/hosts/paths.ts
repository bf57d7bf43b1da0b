// Where the test hosts' inputs live (scripts beside this file, the guest image in the cache that
// hack/install-test-hosts.sh fills) and the names that make a run's leftovers recognizable.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ENTER_HOST_SCRIPT = join(HERE, 'enter-host.sh');
export const CLEANUP_SCRIPT = join(HERE, 'cleanup.sh');
export const GUEST_INIT = join(HERE, 'guest', 'init.sh');

/** Temp dirs of a run: `${tmpdir()}/live-migration-hosts-<runId>`; hack/check-no-leftovers.sh knows `live-migration-*`. */
export const TEMP_PREFIX = 'live-migration-hosts-';
/** Network namespaces of a run: `lmhosts-<runId>-<host>`. */
export const NETNS_PREFIX = 'lmhosts-';

export function cacheDir(): string {
  return process.env.LIVE_MIGRATION_CACHE ?? join(homedir(), '.cache', 'live-migration');
}

export interface GuestImage {
  kernel: string;
  initrd: string;
}

const INSTALL_HINT = 'run hack/install-test-hosts.sh (as root)';

/**
 * The guest kernel and initramfs, refusing a missing one or one built from another guest/init.sh
 * (same checksum as the install script: busybox binary followed by init.sh).
 */
export function guestImage(): GuestImage {
  const dir = join(cacheDir(), 'guest');
  const kernel = join(dir, 'vmlinux');
  const initrd = join(dir, 'initrd.img');
  if (!existsSync(kernel) || !existsSync(initrd)) throw new Error(`no test guest image in ${dir}: ${INSTALL_HINT}`);
  const expected = createHash('sha256').update(readFileSync('/bin/busybox')).update(readFileSync(GUEST_INIT)).digest('hex');
  const built = existsSync(join(dir, 'initrd.sha256')) ? readFileSync(join(dir, 'initrd.sha256'), 'utf8').trim() : '';
  if (built !== expected) throw new Error(`the guest initramfs in ${dir} is older than ${GUEST_INIT}: ${INSTALL_HINT}`);
  return { kernel, initrd };
}

/** Environment for the tools the harness runs: root's sbin dirs on PATH whatever the caller's PATH is. */
export function toolEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin` };
}

/** Fails early, with the fix, when this machine cannot run test hosts. */
export function assertHostPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('test hosts need root (network namespaces, mounts, libvirtd)');
  for (const binary of ['/usr/sbin/libvirtd', '/usr/bin/virsh', '/usr/bin/qemu-system-x86_64', '/usr/bin/unshare']) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: ${INSTALL_HINT}`);
  }
  if (!['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((path) => existsSync(path))) {
    throw new Error(`ip (iproute2) is missing: ${INSTALL_HINT}`);
  }
}
