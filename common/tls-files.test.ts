import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../hack/control-plane/pki.js';
import { watchClientTls } from '../agent/client.js';
import { TlsFileWatcher } from './tls-files.js';

const quiet = { info: () => undefined, warn: () => undefined };
let dir: string;
let caOne: { cert: string; key: string };
let caTwo: { cert: string; key: string };
let version = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tls-files-'));
  caOne = createCertificateAuthority(dir, 'ca-one', 'ca one');
  caTwo = createCertificateAuthority(dir, 'ca-two', 'ca two');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A Secret volume as the kubelet writes it: the files are symlinks through `..data`, which points
 * at a timestamped directory; an update writes a new directory and swaps `..data` in one rename.
 */
function secretVolume(name: string) {
  const root = join(dir, name);
  mkdirSync(root);
  const publish = (files: Record<string, string>) => {
    const next = `..${++version}`;
    mkdirSync(join(root, next));
    for (const [key, from] of Object.entries(files)) copyFileSync(from, join(root, next, key));
    symlinkSync(next, join(root, '..data_tmp'));
    renameSync(join(root, '..data_tmp'), join(root, '..data'));
  };
  const link = (keys: string[]) => keys.forEach((key) => symlinkSync(join('..data', key), join(root, key)));
  return { root, publish, link, path: (key: string) => join(root, key) };
}

function issue(name: string, ca: { cert: string; key: string }, usage: 'server' | 'client') {
  const [cert, key] = issueCertificate(dir, name, ca, { commonName: name, altNames: { ips: ['127.0.0.1'] }, usage });
  return { cert, key };
}

describe('TlsFileWatcher', () => {
  it('takes a new pair when the Secret volume swaps its ..data symlink', () => {
    const volume = secretVolume('swap');
    const first = issue('swap-1', caOne, 'server');
    volume.publish({ 'tls.crt': first.cert, 'tls.key': first.key });
    volume.link(['tls.crt', 'tls.key']);
    const watcher = new TlsFileWatcher({ certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, quiet, 0);
    const heard: string[] = [];
    watcher.onChange((m) => heard.push(m.cert.toString()));
    expect(watcher.check()).toBe(false);

    const second = issue('swap-2', caOne, 'server');
    volume.publish({ 'tls.crt': second.cert, 'tls.key': second.key });
    expect(watcher.check()).toBe(true);
    expect(watcher.current.cert.toString()).toBe(readFileSync(second.cert, 'utf8'));
    expect(heard).toEqual([readFileSync(second.cert, 'utf8')]);
    expect(watcher.reloads).toBe(1);
  });

  it('keeps the current pair while only the certificate has been written, and takes the pair once the key follows', () => {
    const first = issue('half-1', caOne, 'server');
    const certFile = join(dir, 'half.crt');
    const keyFile = join(dir, 'half.key');
    copyFileSync(first.cert, certFile);
    copyFileSync(first.key, keyFile);
    const watcher = new TlsFileWatcher({ certFile, keyFile }, quiet, 0);

    const second = issue('half-2', caOne, 'server');
    copyFileSync(second.cert, certFile); // the key is still the old one: not a pair
    expect(watcher.check()).toBe(false);
    expect(watcher.current.cert.toString()).toBe(readFileSync(first.cert, 'utf8'));
    writeFileSync(keyFile, readFileSync(second.key, 'utf8').slice(0, 40)); // a key cut short
    expect(watcher.check()).toBe(false);
    copyFileSync(second.key, keyFile);
    expect(watcher.check()).toBe(true);
    expect(watcher.current.key.toString()).toBe(readFileSync(second.key, 'utf8'));
  });

  it('refuses to start on files that are not a pair', () => {
    const a = issue('mismatch-a', caOne, 'server');
    const b = issue('mismatch-b', caOne, 'server');
    expect(() => new TlsFileWatcher({ certFile: a.cert, keyFile: b.key }, quiet, 0)).toThrow();
  });
});

describe('a client whose certificate is rotated in its Secret volume', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    // A server that accepts only clients of CA two, as an agent does its callers.
    const serving = issue('server', caOne, 'server');
    server = createServer(
      { cert: readFileSync(serving.cert), key: readFileSync(serving.key), ca: readFileSync(caTwo.cert), requestCert: true, rejectUnauthorized: true },
      (_req, res) => res.end('hello'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const call = (tls: { cert: Buffer | string; key: Buffer | string; ca: Buffer | string }) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', cert: tls.cert, key: tls.key, ca: tls.ca, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });

  it('is refused with the old certificate and let in with the new one, without a new client', async () => {
    const volume = secretVolume('client');
    const old = issue('client-old', caOne, 'client');
    volume.publish({ 'tls.crt': old.cert, 'tls.key': old.key, 'ca.crt': caOne.cert });
    volume.link(['tls.crt', 'tls.key', 'ca.crt']);
    const { tls, watcher } = watchClientTls({ certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key'), caFile: volume.path('ca.crt') }, quiet, 0);
    await expect(call(tls())).rejects.toThrow();

    const rotated = issue('client-new', caTwo, 'client');
    volume.publish({ 'tls.crt': rotated.cert, 'tls.key': rotated.key, 'ca.crt': caOne.cert });
    expect(watcher.check()).toBe(true);
    await expect(call(tls())).resolves.toBe('hello');
  });
});
