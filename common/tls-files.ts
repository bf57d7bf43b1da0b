// TLS material read from files and re-read when the files change, for every component's servers
// and clients. Kubernetes Secret volumes and cert-manager replace the files by swapping a `..data`
// symlink to a new directory, and a writer may be caught between the certificate and the key, so
// the contents of the paths are polled (inotify on a swapped symlink's old target sees nothing) and
// a pair is taken only once it makes a usable TLS context: a half-written pair keeps the old one.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA bundle: of the clients a server accepts, or of the servers a client trusts. */
  caFile?: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export interface TlsReloadLogger {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

/** Reads the files and checks that they make a usable context: the key matches the certificate (throws if not). */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const material: TlsMaterial = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  if (files.caFile !== undefined) material.ca = readFileSync(files.caFile);
  createSecureContext(material);
  return material;
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  const sameCa = a.ca === undefined || b.ca === undefined ? a.ca === b.ca : a.ca.equals(b.ca);
  return a.cert.equals(b.cert) && a.key.equals(b.key) && sameCa;
}

/** The current material of a set of files; listeners hear of each whole, new version. */
export class TlsFileWatcher {
  private material: TlsMaterial;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(material: TlsMaterial) => void> = [];
  reloads = 0;

  /** Throws when the files are not a usable pair now: a component must not start without one. */
  constructor(
    readonly files: TlsFiles,
    private readonly logger: TlsReloadLogger,
    private readonly pollMs = 1000,
  ) {
    this.material = readTlsMaterial(files);
  }

  get current(): TlsMaterial {
    return this.material;
  }

  onChange(listener: (material: TlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  /** Polls every pollMs (0 = never; check() may still be called). */
  start(): void {
    if (this.pollMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the files; true when a new, whole version was taken. */
  check(): boolean {
    let next: TlsMaterial;
    try {
      next = readTlsMaterial(this.files);
    } catch (error) {
      this.logger.warn({ certFile: this.files.certFile, err: error instanceof Error ? error.message : String(error) }, 'TLS files unreadable or not a pair; keeping the current ones');
      return false;
    }
    if (sameMaterial(next, this.material)) return false;
    this.material = next;
    this.reloads++;
    for (const listener of this.listeners) listener(next);
    this.logger.info({ certFile: this.files.certFile, caFile: this.files.caFile }, 'TLS material reloaded');
    return true;
  }
}
