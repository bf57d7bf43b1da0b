// Serving certificate and key read from files and reloaded when they change on disk, without a
// restart: cert-manager and Kubernetes secret volumes replace the files (often by swapping a
// symlink), so we poll both paths' contents rather than trusting inotify on the files themselves.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { createSecureContext } from 'node:tls';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface ReloadLogger {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

/** Reads the pair and checks that the key matches the certificate (throws if not). */
export function readKeyPair(files: CertificateFiles): KeyPair {
  const pair = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  createSecureContext(pair);
  return pair;
}

export class CertificateReloader {
  private current: KeyPair;
  private timer: NodeJS.Timeout | undefined;
  private readonly servers = new Set<Server>();
  reloads = 0;

  constructor(
    private readonly files: CertificateFiles,
    private readonly logger: ReloadLogger,
    private readonly pollMs = 1000,
  ) {
    this.current = readKeyPair(files);
  }

  get keyPair(): KeyPair {
    return this.current;
  }

  /** Starts watching; every attached server gets the new pair. */
  start(): void {
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  attach(server: Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** Reloads when either file changed; a half-written or mismatched pair is skipped until it is whole. */
  check(): boolean {
    let next: KeyPair;
    try {
      next = readKeyPair(this.files);
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'serving certificate unreadable; keeping the current one');
      return false;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key)) return false;
    this.current = next;
    for (const server of this.servers) server.setSecureContext({ cert: next.cert, key: next.key });
    this.reloads++;
    this.logger.info({ certFile: this.files.certFile }, 'serving certificate reloaded');
    return true;
  }
}
