import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createCertificateAuthority } from '../../hack/control-plane/pki.js';
import { issueCertificate } from './issue-certificate.js';

const dir = mkdtempSync(join(tmpdir(), 'issue-cert-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rsaCa(): { cert: string; key: string } {
  const key = join(dir, 'rsa-ca.key');
  const cert = join(dir, 'rsa-ca.crt');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/CN=rsa-ca/O=lm', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

describe.each([
  ['an EC CA', () => createCertificateAuthority(dir, 'ec-ca', 'ec-ca')],
  ['an RSA CA', rsaCa],
])('issueCertificate with %s', (_what, makeCa) => {
  it('issues a certificate openssl verifies for TLS server and client use, with exactly the names given', () => {
    const files = makeCa();
    const ca = { cert: new X509Certificate(readFileSync(files.cert)), key: createPrivateKey(readFileSync(files.key)) };
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = Date.now();
    const text = issueCertificate(
      {
        commonName: 'node-a.agent.live-migration.io',
        names: { dnsNames: ['node-a.agent.live-migration.io'], ipAddresses: ['10.0.0.5', 'fd00::5'] },
        spki: leaf.publicKey.export({ type: 'spki', format: 'der' }),
        publicKey: leaf.publicKey,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 3600_000),
      },
      ca,
    );
    const cert = new X509Certificate(text);
    expect(cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(leaf.privateKey)).toBe(true);
    expect(cert.subject).toBe('CN=node-a.agent.live-migration.io');
    expect(cert.issuer).toBe(ca.cert.subject);
    expect(cert.subjectAltName).toBe('DNS:node-a.agent.live-migration.io, IP Address:10.0.0.5, IP Address:FD00:0:0:0:0:0:0:5');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(Date.parse(cert.validTo)).toBe(Math.floor((now + 3600_000) / 1000) * 1000);
    writeFileSync(join(dir, 'leaf.pem'), text);
    for (const purpose of ['sslserver', 'sslclient']) {
      expect(execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', files.cert, join(dir, 'leaf.pem')], { encoding: 'utf8' }).trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
    }
  });

  it('never outlives its CA', () => {
    const files = makeCa();
    const ca = { cert: new X509Certificate(readFileSync(files.cert)), key: createPrivateKey(readFileSync(files.key)) };
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
    const cert = new X509Certificate(issueCertificate({ commonName: 'n', names: { dnsNames: [], ipAddresses: ['10.0.0.5'] }, spki, publicKey: leaf.publicKey, notBefore: new Date(), notAfter: new Date(Date.now() + 1000 * 86400_000) }, ca));
    expect(cert.validTo).toBe(ca.cert.validTo);
  });
});
