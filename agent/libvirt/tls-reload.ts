// Keeps the node's libvirtd on the TLS files that are on disk, without restarting anything.
//
// What libvirt and QEMU read when (libvirt 9.0):
// - QEMU reads migrate_tls_x509_cert_dir when libvirt adds the tls-creds object for a migration,
//   on both sides: every migration reads the files afresh.
// - libvirtd as a client (the source dialling qemu+tls://…?pkipath=DIR) reads DIR at every
//   connection: every migration again.
// - libvirtd's TLS listener (the target side) reads ca_file / cert_file / key_file once, at start.
//   `virt-admin server-update-tls libvirtd` makes it read them again for new connections.
// So the agent compares the files' fingerprint with the last one libvirtd was told about: before
// each prepare (this node as target) and start (as source), and every pollMs in between; on a
// change it checks the material (migration-tls.ts) and runs server-update-tls. The first look
// after the agent starts always tells libvirtd, whose copy may be older than the agent.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_TLS_NAMES, checkMigrationTls, fingerprint, type TlsDirContents } from './migration-tls.js';
import type { DriverLog } from './libvirt-common.js';

export interface MigrationTlsOptions {
  nodeName: string;
  /** The node's TLS dir (same path for the agent, libvirtd and QEMU). */
  dir: string;
  /** libvirt's admin interface, e.g. libvirtd:///system. */
  adminUri: string;
  /** The address peers dial this node at; its server certificate must name it. */
  address: string;
  log: DriverLog;
  now: () => Date;
  /** How often to look for a rotation between migrations; 0 = only before each one. Default 30 s. */
  pollMs?: number;
}

function readDir(dir: string): TlsDirContents {
  const contents: Record<string, string | undefined> = {};
  for (const name of ALL_TLS_NAMES) {
    try {
      contents[name] = readFileSync(join(dir, name), 'utf8');
    } catch {
      contents[name] = undefined;
    }
  }
  return contents;
}

function virtAdmin(uri: string, args: readonly string[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'virt-admin',
      ['-q', '-c', uri, ...args],
      { env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error, _stdout, stderr) => (error ? reject(new Error(`virt-admin ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve()),
    );
  });
}

export class MigrationTls {
  /** What libvirtd was last told to load; undefined until the first successful reload. */
  private loaded: string | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MigrationTlsOptions) {
    const pollMs = options.pollMs ?? 30_000;
    if (pollMs > 0) {
      this.timer = setInterval(() => {
        this.ensureCurrent().catch((error: unknown) => {
          options.log.warn({ node: options.nodeName, dir: options.dir, err: (error as Error).message }, 'migration TLS material not reloaded');
        });
      }, pollMs);
      this.timer.unref();
    }
  }

  /** libvirtd serves what is on disk, and it is usable; else an error naming each bad file. Shared by concurrent callers. */
  ensureCurrent(): Promise<void> {
    this.running ??= this.reloadIfChanged().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async reloadIfChanged(): Promise<void> {
    const { nodeName, dir, adminUri, address, log, now } = this.options;
    const contents = readDir(dir);
    const current = fingerprint(contents);
    if (current === this.loaded) return;
    const problems = checkMigrationTls(contents, address, now().getTime());
    if (problems.length > 0) {
      // Retryable (a 500), not a refusal: mid-rotation the files may disagree for a moment.
      throw new Error(`the migration TLS material of node ${nodeName} in ${dir} is not usable: ${problems.join('; ')}`);
    }
    await virtAdmin(adminUri, ['server-update-tls', 'libvirtd']);
    log.info({ node: nodeName, dir, first: this.loaded === undefined }, 'libvirtd reloaded its TLS material');
    this.loaded = current;
  }
}
