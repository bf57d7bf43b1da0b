// The agent's HTTPS listener with mutual TLS: it asks every client for a certificate
// (requestCert) but does not refuse the handshake (rejectUnauthorized: false); the caller check in
// the app answers 401/403 instead (see caller-check.ts for why).
// Serving certificate, key and client CA are read from files and re-read when they change, so a
// rotated Secret takes effect without a restart (polled: Secret volumes swap symlinks).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { TlsFileWatcher } from '../../common/tls-files.js';

export interface AgentTlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that signs the certificates of allowed callers. */
  clientCaFile: string;
}

export interface AgentServerOptions {
  app: Express;
  tls: AgentTlsFiles;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  logger: Logger;
  /** How often the TLS files are checked for changes; 0 = never. */
  reloadPollMs?: number;
}

export interface RunningAgentServer {
  server: Server;
  port: number;
  /** Stops accepting; in-flight calls get up to graceMs, then every connection is closed. */
  close(graceMs?: number): Promise<void>;
}

export async function startAgentServer(options: AgentServerOptions): Promise<RunningAgentServer> {
  const { logger } = options;
  const tlsFiles = { certFile: options.tls.certFile, keyFile: options.tls.keyFile, caFile: options.tls.clientCaFile };
  const watcher = new TlsFileWatcher(tlsFiles, logger, options.reloadPollMs ?? 5_000);
  const server = createServer(
    { ...watcher.current, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    options.app,
  );
  // Bounds on slow or stuck clients, so a bad peer cannot hold a socket forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 30_000;
  server.on('tlsClientError', () => {
    // A failed handshake (port scan, wrong protocol): nothing to answer, not worth a line each.
  });

  // Serving certificate and client CA, reloaded on change without a restart.
  watcher.onChange((next) => server.setSecureContext({ ...next }));
  watcher.start();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: async (graceMs = 5_000) => {
      watcher.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      await closed;
      clearTimeout(force);
    },
  };
}
