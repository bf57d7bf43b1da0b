// Writes the migration TLS directory (--migration-tls-dir) as libvirt and QEMU read it: the files under
// QEMU's names, each replaced whole by rename (a reader never sees half a file), and libvirt's client
// names as symlinks to them. The agent's reload (libvirt/tls-reload.ts) notices the change and tells
// libvirtd; QEMU and libvirt's client side read the files at every migration anyway.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIBVIRT_CLIENT_NAMES, type MigrationTlsFile } from '../libvirt/migration-tls.js';

export interface MigrationTlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

export function writeMigrationTlsDir(dir: string, material: MigrationTlsMaterial): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // The CA first (it also verifies the old certificates until they are replaced), keys before their
  // certificates: a reader between two renames sees a mismatch, which the reload reports and retries.
  const files: Array<[MigrationTlsFile, string, number]> = [
    ['ca-cert.pem', material.ca, 0o644],
    ['server-key.pem', material.key, 0o600],
    ['server-cert.pem', material.cert, 0o644],
    ['client-key.pem', material.key, 0o600],
    ['client-cert.pem', material.cert, 0o644],
  ];
  for (const [name, text, mode] of files) {
    const temp = join(dir, `.${name}.new`);
    writeFileSync(temp, text, { mode });
    renameSync(temp, join(dir, name));
  }
  for (const [alias, target] of Object.entries(LIBVIRT_CLIENT_NAMES)) {
    const path = join(dir, alias);
    try {
      if (readlinkSync(path) === target) continue;
    } catch {
      // absent, or a plain file: replaced below
    }
    const temp = join(dir, `.${alias}.new`);
    rmSync(temp, { force: true });
    symlinkSync(target, temp);
    renameSync(temp, path);
  }
}
