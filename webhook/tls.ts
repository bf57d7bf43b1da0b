// The webhook's serving certificate, reloaded when its files change (common/tls-files.ts) and
// handed to every server attached, without a restart.
import type { Server } from 'node:https';
import { TlsFileWatcher, type TlsReloadLogger } from '../common/tls-files.js';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export class CertificateReloader {
  private readonly watcher: TlsFileWatcher;
  private readonly servers = new Set<Server>();

  constructor(files: CertificateFiles, logger: TlsReloadLogger, pollMs = 1000) {
    this.watcher = new TlsFileWatcher(files, logger, pollMs);
    this.watcher.onChange(({ cert, key }) => {
      for (const server of this.servers) server.setSecureContext({ cert, key });
    });
  }

  get keyPair(): { cert: Buffer; key: Buffer } {
    const { cert, key } = this.watcher.current;
    return { cert, key };
  }

  get reloads(): number {
    return this.watcher.reloads;
  }

  start(): void {
    this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }

  attach(server: Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** Reloads when the files hold a new, whole pair; a half-written or mismatched one is skipped. */
  check(): boolean {
    return this.watcher.check();
  }
}
