// libvirtd probes QEMU's capabilities on a cold start (~4.5 s of CPU under TCG) and keeps the result
// under /var/cache/libvirt/qemu/capabilities, which for a test host is a fresh overlay every run.
// Seeding that dir from the previous run's result makes a start ~0.2 s. libvirt validates each file
// (QEMU and libvirtd binaries, kernel, KVM presence) and probes again when one is stale, so a wrong
// seed costs time, never correctness; refreshing afterwards keeps the seed current.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './paths.js';

const IN_UPPER = join('var-upper', 'cache', 'libvirt', 'qemu', 'capabilities');

function sharedDir(): string {
  return join(cacheDir(), 'libvirt-capabilities');
}

function xmlFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.xml')) : [];
}

/** Before the daemon starts (the overlay is not mounted yet, so writing its upper dir is allowed). */
export function seedCapabilities(hostDir: string): void {
  const from = sharedDir();
  const files = xmlFiles(from);
  if (files.length === 0) return;
  const to = join(hostDir, IN_UPPER);
  mkdirSync(to, { recursive: true });
  for (const name of files) copyFileSync(join(from, name), join(to, name));
}

/** After the daemon answered: keep what it used (only reading the mounted upper dir). */
export function saveCapabilities(hostDir: string): void {
  const from = join(hostDir, IN_UPPER);
  const files = xmlFiles(from);
  if (files.length === 0) return;
  const to = sharedDir();
  mkdirSync(to, { recursive: true });
  for (const name of files) {
    const text = readFileSync(join(from, name));
    const target = join(to, name);
    if (existsSync(target) && readFileSync(target).equals(text)) continue;
    // Through a rename, so a parallel run never seeds from a half-written file.
    const temp = `${target}.${process.pid}.tmp`;
    copyFileSync(join(from, name), temp);
    renameSync(temp, target);
  }
  for (const name of xmlFiles(to)) if (!files.includes(name)) rmSync(join(to, name), { force: true });
}
