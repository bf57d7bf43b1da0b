// MigrationTls against a stand-in virt-admin (a script on PATH that records its arguments): it
// tells libvirtd once at first, again only after the files changed, and never for bad material.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';
import { silentLog } from './libvirt-common.js';
import { MigrationTls } from './tls-reload.js';

let work: string;
let tlsDir: string;
let calls: string;
const savedPath = process.env.PATH;

function issue(into: string, tag: string, address: string): void {
  const ca = createCertificateAuthority(work, `${tag}-ca`, `${tag} CA`);
  const [cert, key] = issueCertificate(work, tag, ca, { commonName: 'node-a', altNames: { ips: [address] }, usage: 'both' });
  for (const [name, from] of [['ca-cert.pem', ca.cert], ['server-cert.pem', cert], ['server-key.pem', key], ['client-cert.pem', cert], ['client-key.pem', key]] as const) {
    copyFileSync(from, join(into, `.${name}`));
    renameSync(join(into, `.${name}`), join(into, name));
  }
  for (const [alias, target] of [['cacert.pem', 'ca-cert.pem'], ['clientcert.pem', 'client-cert.pem'], ['clientkey.pem', 'client-key.pem']] as const) {
    if (!existsSync(join(into, alias))) symlinkSync(target, join(into, alias));
  }
}

const reloads = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : []);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tls-reload-test-'));
  tlsDir = join(work, 'tls');
  mkdirSync(tlsDir);
  calls = join(work, 'calls');
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'virt-admin'), `#!/bin/sh\necho "$*" >> ${calls}\n`);
  chmodSync(join(bin, 'virt-admin'), 0o755);
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
  issue(tlsDir, 'first', '10.0.0.1');
});

afterAll(() => {
  process.env.PATH = savedPath;
  rmSync(work, { recursive: true, force: true });
});

describe('MigrationTls', () => {
  it('reloads libvirtd once at first, again only after a rotation, and refuses bad material without telling libvirtd', async () => {
    const tls = new MigrationTls({ nodeName: 'node-a', dir: tlsDir, adminUri: 'libvirtd:///system?socket=/x', address: '10.0.0.1', log: silentLog, now: () => new Date(), pollMs: 0 });
    await Promise.all([tls.ensureCurrent(), tls.ensureCurrent()]);
    await tls.ensureCurrent();
    expect(reloads()).toEqual(['-q -c libvirtd:///system?socket=/x server-update-tls libvirtd']);

    issue(tlsDir, 'second', '10.0.0.1'); // a rotation: a new CA and certificate, files replaced in place
    await tls.ensureCurrent();
    expect(reloads()).toHaveLength(2);

    // A certificate that does not name the address peers dial: refused, libvirtd keeps what it has.
    issue(tlsDir, 'third', '10.0.0.9');
    await expect(tls.ensureCurrent()).rejects.toThrow(/^the migration TLS material of node node-a in .* is not usable: server-cert.pem: does not name 10.0.0.1/);
    expect(reloads()).toHaveLength(2);
    tls.close();
  });
});
