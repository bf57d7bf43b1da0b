import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';
import { checkMigrationTls } from '../libvirt/migration-tls.js';
import { renewAtMs, renewalReason, splitIssued, wantedNames } from './certificate-plan.js';
import { writeMigrationTlsDir } from './tls-dir-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'cert-plan-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = createCertificateAuthority(dir, 'ca', 'test-ca');
const otherCa = createCertificateAuthority(dir, 'other-ca', 'other-ca');
const [certFile, keyFile] = issueCertificate(dir, 'node-a', ca, { commonName: 'node-a.agent.live-migration.io', altNames: { dns: ['node-a.agent.live-migration.io'], ips: ['10.0.0.5', 'fd00::5'] }, usage: 'both' });
const certPem = readFileSync(certFile, 'utf8');
const cert = new X509Certificate(certPem);
const node = { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'ExternalIP', address: 'FD00:0::5' }, { type: 'Hostname', address: 'node-a' }, { type: 'InternalDNS', address: 'a.local' }] } };

describe('wantedNames', () => {
  it("names the Node's InternalIP/ExternalIP addresses and the agent name", () => {
    expect(wantedNames('node-a', node)).toEqual({ commonName: 'node-a.agent.live-migration.io', dnsNames: ['node-a.agent.live-migration.io'], ipAddresses: ['10.0.0.5', 'fd00::5'] });
  });
});

describe('renewalReason', () => {
  const wanted = wantedNames('node-a', node);
  const renewAt = renewAtMs(cert, Date.parse(cert.validFrom));
  it('keeps a certificate naming what the Node has, before 2/3 of its life', () => {
    expect(renewalReason(cert, renewAt, wanted, renewAt - 1)).toBeUndefined();
  });
  it('renews at 2/3 of its life', () => {
    const life = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    expect(renewAt).toBe(Date.parse(cert.validFrom) + (life * 2) / 3);
    expect(renewalReason(cert, renewAt, wanted, renewAt)).toBe(`2/3 of its lifetime passed (valid to ${cert.validTo})`);
  });
  it("renews when the Node's addresses changed", () => {
    expect(renewalReason(cert, renewAt, wantedNames('node-a', { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.9' }] } }), 0)).toBe(
      "the Node's addresses (10.0.0.9) differ from the certificate's (10.0.0.5, fd00::5)",
    );
  });
  it('asks for a first one', () => expect(renewalReason(undefined, 0, wanted, 0)).toBe('no certificate yet'));
});

describe('splitIssued', () => {
  const caPem = readFileSync(ca.cert, 'utf8');
  it("takes the node's certificate and the CA after it", () => {
    expect(splitIssued(certPem + caPem)).toEqual({ cert: certPem, ca: caPem });
  });
  it('refuses a lone certificate or one the CA did not sign', () => {
    expect(() => splitIssued(certPem)).toThrow("status.certificate holds 1 certificate(s); the signer writes the node's and its CA's");
    expect(() => splitIssued(certPem + readFileSync(otherCa.cert, 'utf8'))).toThrow('the certificate is not signed by the CA after it');
  });
});

describe('writeMigrationTlsDir', () => {
  it('writes what the migration TLS check accepts, keys private, libvirt names as symlinks, replacing plain files', () => {
    const tls = join(dir, 'tls');
    writeMigrationTlsDir(tls, { ca: 'x', cert: 'x', key: 'x' });
    writeFileSync(join(tls, 'cacert.pem'), 'a plain file from an earlier set-up');
    writeMigrationTlsDir(tls, { ca: readFileSync(ca.cert, 'utf8'), cert: certPem, key: readFileSync(keyFile, 'utf8') });
    const names = ['ca-cert.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem', 'cacert.pem', 'clientcert.pem', 'clientkey.pem'];
    const contents = Object.fromEntries(names.map((n) => [n, readFileSync(join(tls, n), 'utf8')]));
    expect(checkMigrationTls(contents, '10.0.0.5', Date.now())).toEqual([]);
    expect(readlinkSync(join(tls, 'cacert.pem'))).toBe('ca-cert.pem');
    expect(statSync(join(tls, 'server-key.pem')).mode & 0o777).toBe(0o600);
  });
});
