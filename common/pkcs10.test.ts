import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { children, decodeOid, oid, parseDer, pem, pemBlocks, readDer, sequence, tlv } from './der.js';
import { buildCsr, canonicalIp, ipBytes, parseCsr } from './pkcs10.js';

const dir = mkdtempSync(join(tmpdir(), 'pkcs10-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('der', () => {
  it('round-trips OIDs, long lengths and nesting', () => {
    for (const dotted of ['2.5.29.17', '1.2.840.113549.1.9.14', '1.3.6.1.5.5.7.3.2', '2.999.3']) expect(decodeOid(parseDer(oid(dotted)))).toBe(dotted);
    const big = tlv(0x04, Buffer.alloc(70_000, 7));
    expect(parseDer(big).value.length).toBe(70_000);
    expect(children(parseDer(sequence(oid('2.5.4.3'), big))).map((c) => c.tag)).toEqual([0x06, 0x04]);
  });

  it('refuses truncated or trailing input, saying where', () => {
    expect(() => parseDer(Buffer.from([0x30, 0x05, 0x02, 0x01]))).toThrow('DER: value at byte 2 runs past the end (5 bytes, 2 left)');
    expect(() => parseDer(Buffer.from([0x05, 0x00, 0x00]))).toThrow('DER: 1 bytes after the end');
    expect(() => readDer(Buffer.from([0x30]))).toThrow('DER: truncated at byte 0');
  });

  it('reads back the PEM blocks it writes', () => {
    const der = sequence(oid('2.5.4.3'));
    expect(pemBlocks(`junk\n${pem('CERTIFICATE', der)}${pem('CERTIFICATE', der)}`, 'CERTIFICATE')).toEqual([der, der]);
  });
});

describe('ip addresses', () => {
  it.each([
    ['10.0.0.5', '0a000005'],
    ['fd00::5', 'fd000000000000000000000000000005'],
    ['::1', '00000000000000000000000000000001'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
  ])('%s', (ip, hex) => expect(ipBytes(ip).toString('hex')).toBe(hex));

  it('canonical text', () => expect(canonicalIp('FD00:0::0:5')).toBe('fd00::5'));
});

describe('PKCS#10', () => {
  it('reads back what it builds, signed by the key', () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = buildCsr(keys, { commonName: 'node-a.agent.live-migration.io' }, { dnsNames: ['node-a.agent.live-migration.io'], ipAddresses: ['10.0.0.5', 'fd00::5'] });
    const parsed = parseCsr(csr);
    expect(parsed).toMatchObject({
      subject: { commonName: 'node-a.agent.live-migration.io', organizations: [] },
      dnsNames: ['node-a.agent.live-migration.io'],
      ipAddresses: ['10.0.0.5', 'fd00::5'],
      otherNames: [],
      otherExtensions: [],
      signatureValid: true,
    });
    expect(parsed.publicKey.equals(keys.publicKey)).toBe(true);
    // openssl agrees it is a well-formed request with a valid signature.
    writeFileSync(join(dir, 'ours.csr'), csr);
    const text = execFileSync('openssl', ['req', '-in', join(dir, 'ours.csr'), '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(text).toContain('DNS:node-a.agent.live-migration.io, IP Address:10.0.0.5, IP Address:FD00:0:0:0:0:0:0:5');
  });

  it('reads a request openssl made, with every SAN kind listed', () => {
    const key = join(dir, 'rsa.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=x/O=system:masters', '-addext', 'subjectAltName=DNS:a.example,IP:192.0.2.1,email:e@example.com,URI:spiffe://x', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', join(dir, 'openssl.csr')], { stdio: 'ignore' });
    const parsed = parseCsr(readFileSync(join(dir, 'openssl.csr'), 'utf8'));
    expect(parsed).toMatchObject({
      subject: { commonName: 'x', organizations: ['system:masters'] },
      dnsNames: ['a.example'],
      ipAddresses: ['192.0.2.1'],
      otherNames: ['email e@example.com', 'URI spiffe://x'],
      otherExtensions: ['2.5.29.19'],
      signatureValid: true,
    });
    expect(parsed.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('notices a request whose contents were changed after signing', () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = pemBlocks(buildCsr(keys, { commonName: 'n' }, { dnsNames: [], ipAddresses: ['10.0.0.5'] }), 'CERTIFICATE REQUEST')[0] ?? Buffer.alloc(0);
    const at = der.indexOf(Buffer.from([10, 0, 0, 5]));
    der[at + 3] = 6;
    expect(parseCsr(der)).toMatchObject({ ipAddresses: ['10.0.0.6'], signatureValid: false });
  });

  it('refuses what is not a request, saying why', () => {
    expect(() => parseCsr('hello')).toThrow('not a PEM CERTIFICATE REQUEST');
    expect(() => parseCsr(pem('CERTIFICATE REQUEST', sequence(oid('2.5.4.3'))))).toThrow('certificationRequestInfo: expected tag 0x30, got 0x6');
  });
});
