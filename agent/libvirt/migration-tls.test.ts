import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';
import { checkMigrationTls, fingerprint, type TlsDirContents } from './migration-tls.js';

let dir: string;
let good: Record<string, string>;
let otherCa: Record<string, string>;
const NOW = Date.now();

function material(work: string, name: string, address: string): Record<string, string> {
  const ca = createCertificateAuthority(work, `${name}-ca`, `${name} CA`);
  const [cert, key] = issueCertificate(work, name, ca, { commonName: name, altNames: { ips: [address] }, usage: 'both' });
  const read = (path: string) => readFileSync(path, 'utf8');
  const files = {
    'ca-cert.pem': read(ca.cert),
    'server-cert.pem': read(cert),
    'server-key.pem': read(key),
    'client-cert.pem': read(cert),
    'client-key.pem': read(key),
  };
  return { ...files, 'cacert.pem': files['ca-cert.pem'], 'clientcert.pem': files['client-cert.pem'], 'clientkey.pem': files['client-key.pem'] };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'migration-tls-test-'));
  good = material(dir, 'node-a', '10.0.0.1');
  otherCa = material(dir, 'node-b', '10.0.0.2');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkMigrationTls', () => {
  it('accepts a node certificate of its CA that names the address peers dial', () => {
    expect(checkMigrationTls(good, '10.0.0.1', NOW)).toEqual([]);
  });

  it('names each missing file, libvirt client aliases included', () => {
    const { 'server-key.pem': _key, 'clientcert.pem': _alias, ...rest } = good;
    expect(checkMigrationTls(rest, '10.0.0.1', NOW)).toEqual(['server-key.pem: missing', 'clientcert.pem: missing (libvirt\'s client name; a symlink to client-cert.pem)']);
  });

  it('refuses a server certificate that does not name the address peers dial', () => {
    expect(checkMigrationTls(good, '10.0.0.9', NOW)).toEqual([expect.stringMatching(/^server-cert.pem: does not name 10.0.0.9, the address peers dial \(subjectAltName IP Address:10.0.0.1\)$/)]);
  });

  it('refuses certificates of another CA, and a key that is not the certificate\'s', () => {
    const mixed: TlsDirContents = { ...good, 'server-cert.pem': otherCa['server-cert.pem'], 'client-key.pem': otherCa['client-key.pem'], 'clientkey.pem': otherCa['client-key.pem'] };
    const problems = checkMigrationTls(mixed, '10.0.0.2', NOW);
    expect(problems).toContain('server-key.pem: not the key of server-cert.pem');
    expect(problems).toContain('client-key.pem: not the key of client-cert.pem');
    expect(problems.some((p) => p.startsWith('server-cert.pem: not signed by the CA in ca-cert.pem'))).toBe(true);
  });

  it('refuses expired material and an alias that is not a copy of its file', () => {
    const later = NOW + 400 * 86_400_000; // the test certificates last 365 days
    expect(checkMigrationTls(good, '10.0.0.1', later)).toEqual([
      expect.stringMatching(/^ca-cert.pem: expired at /),
      expect.stringMatching(/^server-cert.pem: expired at /),
      expect.stringMatching(/^client-cert.pem: expired at /),
    ]);
    expect(checkMigrationTls({ ...good, 'cacert.pem': otherCa['ca-cert.pem'] }, '10.0.0.1', NOW)).toEqual(['cacert.pem: differs from ca-cert.pem (it should be a symlink to it)']);
  });

  it('fingerprints every file: any change is a rotation', () => {
    expect(fingerprint(good)).toBe(fingerprint({ ...good }));
    expect(fingerprint({ ...good, 'server-cert.pem': otherCa['server-cert.pem'] })).not.toBe(fingerprint(good));
    const { 'client-key.pem': _gone, ...without } = good;
    expect(fingerprint(without)).not.toBe(fingerprint(good));
  });
});
