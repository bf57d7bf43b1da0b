// The agent's HTTPS listener with mutual TLS: it asks every client for a certificate
// (requestCert) but does not refuse the handshake (rejectUnauthorized: false); the caller check in
// the app answers 401/403 instead (see caller-check.ts for why).
// Serving certificate, key and client CA are read from files and re-read when they change, so a
// rotated Secret takes effect without a restart (polled: Secret volumes swap symlinks).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Express } from 'express';
import type { Logger } from 'pino';

export interface AgentTlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that signs the certificates of allowed callers. */
  clientCaFile: string;
}

interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** Reads the three files and checks they make a usable context (throws if not). */
export function readTlsMaterial(files: AgentTlsFiles): TlsMaterial {
  const material = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), ca: readFileSync(files.clientCaFile) };
  createSecureContext(material);
  return material;
}

function same(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && a.ca.equals(b.ca);
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
  let material = readTlsMaterial(options.tls);
  const server = createServer(
    { ...material, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    options.app,
  );
  // Bounds on slow or stuck clients, so a bad peer cannot hold a socket forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 30_000;
  server.on('tlsClientError', () => {
    // A failed handshake (port scan, wrong protocol): nothing to answer, not worth a line each.
  });

  const pollMs = options.reloadPollMs ?? 5_000;
  const timer =
    pollMs > 0
      ? setInterval(() => {
          try {
            const next = readTlsMaterial(options.tls);
            if (same(next, material)) return;
            material = next;
            server.setSecureContext({ ...material });
            logger.info({ certFile: options.tls.certFile, clientCaFile: options.tls.clientCaFile }, 'agent TLS material reloaded');
          } catch (error) {
            logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'agent TLS files unreadable; keeping the current ones');
          }
        }, pollMs)
      : undefined;
  timer?.unref();

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
      clearInterval(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      await closed;
      clearTimeout(force);
    },
  };
}
