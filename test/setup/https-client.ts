// Test helpers: a throwaway CA and serving certificate for 127.0.0.1, and a small HTTPS client
// that trusts it. Used by the webhook's tests and its benchmark.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';

export interface ServingCertificate {
  dir: string;
  caFile: string;
  ca: { cert: string; key: string };
  certFile: string;
  keyFile: string;
  caPem: string;
}

const madeDirs = new Set<string>();
// Callers remove their dir when done; this catches a run that ends before its afterAll does.
process.once('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

function newCertificateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'live-migration-webhook-'));
  madeDirs.add(dir);
  return dir;
}

export function createServingCertificate(name = 'webhook', dir = newCertificateDir()): ServingCertificate {
  const ca = createCertificateAuthority(dir, `${name}-ca`, `${name}-ca`);
  const [certFile, keyFile] = issueCertificate(dir, name, ca, {
    commonName: name,
    altNames: { dns: ['localhost'], ips: ['127.0.0.1'] },
    usage: 'server',
  });
  return { dir, caFile: ca.cert, ca, certFile, keyFile, caPem: readFileSync(ca.cert, 'utf8') };
}

export interface HttpResult {
  status: number;
  body: string;
  json: unknown;
  peerFingerprint?: string;
}

export function httpsRequest(
  url: string,
  options: { ca: string; method?: string; body?: string | Buffer; headers?: Record<string, string>; agent?: Agent; timeoutMs?: number },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', ca: options.ca, headers: options.headers, agent: options.agent ?? false, timeout: options.timeoutMs ?? 10_000 },
      (res) => {
        // The socket is detached by the time the body ends; read the peer certificate now.
        const socket = res.socket as { getPeerCertificate?: () => { fingerprint256?: string } } | null;
        const peerFingerprint = socket?.getPeerCertificate?.().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, json, peerFingerprint });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
