// The test-host harness itself: a real QEMU guest live-migrates between two libvirt "hosts" in their
// own namespaces, an aborted migration leaves it where it was, and nothing of a run outlives it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  defineGuest,
  domainState,
  findLeftovers,
  guestImage,
  heartbeats,
  listDomains,
  readConsole,
  startGuest,
  startTestHosts,
  virsh,
  VirshError,
  waitForConsole,
  waitForHeartbeat,
  type TestHost,
  type TestHosts,
} from '../hosts/index.js';

const log = (message: string) => process.stderr.write(`[test-hosts] ${message}\n`);

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** `virsh domjobinfo` as field → value; empty-ish when no job runs. */
async function jobInfo(host: TestHost, domain: string): Promise<Record<string, string>> {
  const out = await virsh(host, ['domjobinfo', domain]);
  return Object.fromEntries(out.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]));
}

describe('two test hosts', () => {
  let run: TestHosts;
  let a: TestHost;
  let b: TestHost;

  beforeAll(async () => {
    guestImage(); // fails first, with the fix, when hack/install-test-hosts.sh has not run
    run = await startTestHosts({ hosts: ['a', 'b'] });
    a = run.get('a');
    b = run.get('b');
    log(`hosts up in ${run.timings.totalMs} ms (network ${run.timings.networkMs}, libvirtd ${run.timings.daemonsMs}) under ${run.dir}`);
    // Both guests boot at once: each boot is ~5 s of TCG on one core.
    const t0 = Date.now();
    const mover = await defineGuest(a, { name: 'mover', memoryMiB: 192, fillMiB: 64, dirty: false });
    const stayer = await defineGuest(a, { name: 'stayer', memoryMiB: 128, fillMiB: 48, dirty: true });
    await Promise.all([startGuest(a, mover), startGuest(a, stayer)]);
    await Promise.all([waitForHeartbeat(a, 'mover', 0, 45_000), waitForHeartbeat(a, 'stayer', 0, 45_000)]);
    log(`guests booted and filled in ${Date.now() - t0} ms`);
  }, 90_000);

  afterAll(async () => {
    if (!run) return;
    const t0 = Date.now();
    await run.stop();
    log(`stopped in ${Date.now() - t0} ms`);
    // Nothing of this run survives: no namespace, daemon, QEMU, mount, veth or temp dir.
    expect(findLeftovers({ runId: run.runId, netnsInodes: run.netnsInodes })).toEqual([]);
  }, 60_000);

  it('gives each host its own name, UUID and in-namespace address', async () => {
    expect((await virsh(a, ['hostname'])).trim()).toBe('a');
    expect((await virsh(b, ['hostname'])).trim()).toBe('b');
    expect(a.hostUuid).not.toBe(b.hostUuid); // one shared UUID makes libvirt refuse: "migrate guest to the same host"
    expect(await virsh(a, ['capabilities'])).toContain(`<uuid>${a.hostUuid}</uuid>`);
    expect(await virsh(b, ['capabilities'])).toContain(`<uuid>${b.hostUuid}</uuid>`);
    expect(a.address).toMatch(/^10\./);
    expect(b.migrationUri).toBe(`qemu+tls://${b.address}/system?pkipath=${a.tlsDir}`);
    // Guests run under TCG whatever the machine has: /dev/kvm is hidden from the hosts.
    expect(await virsh(a, ['capabilities'])).not.toContain("<domain type='kvm'");
    const kvm = await virsh(a, ['domcapabilities', '--virttype', 'kvm']).then(
      () => 'KVM offered',
      (error: VirshError) => error.libvirtMessage,
    );
    expect(kvm).toMatch(/the accel 'kvm' is not supported/);
  }, 30_000);

  it('lets a peer in only over TLS with a certificate of the run\'s CA (no plain TCP, no foreign certificate)', async () => {
    /** `virsh hostname` against B, run inside A's network namespace: B's answer, or libvirt's refusal. */
    const fromA = (uri: string) =>
      new Promise<string>((resolve) => {
        execFile('ip', ['netns', 'exec', a.netns, 'virsh', '-q', '-c', uri, 'hostname'], { timeout: 20_000, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) =>
          resolve(error ? `refused: ${stderr.trim()}` : stdout.trim()),
        );
      });
    expect(await fromA(`qemu+tls://${b.address}/system?pkipath=${a.tlsDir}`)).toBe('b');
    expect(await fromA(`qemu+tcp://${b.address}/system`)).toMatch(/^refused: [\s\S]*Connection refused/);
    // A TLS client that does not check itself first (virsh would): B ends the connection of a
    // client whose certificate is of another CA, and of one that has none, at the handshake (the
    // run's own certificate was let in above).
    const handshake = (cert?: { cert: string; key: string }) =>
      new Promise<string>((resolve) => {
        const script = `const tls = require('tls'), fs = require('fs'); const e = process.env;
          const s = tls.connect({ host: e.H, port: 16514, ca: fs.readFileSync(e.CA), checkServerIdentity: () => undefined, ...(e.CERT ? { cert: fs.readFileSync(e.CERT), key: fs.readFileSync(e.KEY) } : {}) });
          s.on('error', (err) => { console.log('error ' + (err.code || '') + ' ' + err.message); process.exit(0); });
          s.on('close', () => { console.log('closed'); process.exit(0); });`;
        const env = { ...process.env, H: b.address, CA: join(a.tlsDir, 'ca-cert.pem'), ...(cert ? { CERT: cert.cert, KEY: cert.key } : {}) };
        execFile('ip', ['netns', 'exec', a.netns, process.execPath, '-e', script], { timeout: 15_000, encoding: 'utf8', env }, (error, stdout) => resolve(error ? `no answer: ${String(error)}` : stdout.trim()));
      });
    const foreign = mkdtempSync(join(run.dir, 'foreign-'));
    try {
      const ca = createCertificateAuthority(foreign, 'other-ca', 'someone else');
      const [cert, key] = issueCertificate(foreign, 'intruder', ca, { commonName: 'a', organization: 'live-migration-test-hosts', usage: 'client' });
      const withForeign = await handshake({ cert, key });
      const withNone = await handshake();
      log(`B to a foreign client certificate: ${withForeign}; to none: ${withNone}`);
      expect(withForeign).toMatch(/^(error .*alert|closed$)/i);
      expect(withNone).toMatch(/^(error .*alert|closed$)/i);
    } finally {
      rmSync(foreign, { recursive: true, force: true });
    }
  }, 60_000);

  it('live-migrates a running guest from A to B, and it keeps running there', async () => {
    const before = Math.max(...heartbeats(readConsole(a, 'mover')));
    const t0 = Date.now();
    await virsh(a, ['migrate', '--live', '--p2p', '--tls', '--persistent', '--undefinesource', 'mover', b.migrationUri], { timeoutMs: 60_000 });
    log(`migrated mover in ${Date.now() - t0} ms`);

    expect(await domainState(b, 'mover')).toBe('running');
    expect(await domainState(a, 'mover')).toBeUndefined(); // neither running nor defined on A
    expect(await virsh(b, ['dominfo', 'mover'])).toMatch(/Persistent:\s+yes/);

    // The same guest, not a new boot: its heartbeat sequence goes on on B's console.
    const onB = await waitForHeartbeat(b, 'mover', before, 10_000);
    await waitForHeartbeat(b, 'mover', onB + 1, 10_000);
    const bConsole = readConsole(b, 'mover');
    expect(bConsole).not.toContain('lm-booted');
    expect(Math.min(...heartbeats(bConsole))).toBeGreaterThan(before);
    // …and A's console stopped where B's took over.
    expect(Math.max(...heartbeats(readConsole(a, 'mover')))).toBeLessThan(Math.min(...heartbeats(bConsole)));
  }, 90_000);

  it('aborts a slow migration: the guest keeps running on A, nothing of it is left on B', async () => {
    await waitForConsole(a, 'stayer', /lm-dirtying mib=48/, 10_000);
    // 4 MiB/s for ~128 MiB of guest RAM, re-dirtied as it goes: 30 s at least, so the abort lands mid-copy.
    const migration = virsh(a, ['migrate', '--live', '--p2p', '--persistent', '--undefinesource', '--bandwidth', '4', 'stayer', b.migrationUri], {
      timeoutMs: 60_000,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const info = await until('migration job copying memory', 20_000, async () => {
      const job = await jobInfo(a, 'stayer');
      return job['Job type'] === 'Unbounded' && parseFloat(job['Data processed'] ?? '0') > 0 ? job : undefined;
    });
    log(`abort case: job at ${info['Data processed']} of ${info['Data total']}`);
    expect(await listDomains(b)).toContain('stayer'); // the incoming side exists mid-migration

    const t0 = Date.now();
    await virsh(a, ['domjobabort', 'stayer']);
    const tAbort = Date.now();
    await until('source job gone', 10_000, async () => ((await jobInfo(a, 'stayer'))['Job type'] === 'None' ? true : undefined));
    const tJobGone = Date.now();
    await until('incoming domain gone from B', 10_000, async () => ((await listDomains(b)).includes('stayer') ? undefined : true));
    const tTargetGone = Date.now();
    const error = await migration;
    log(
      `domjobabort returned in ${tAbort - t0} ms; source job gone after ${tJobGone - t0} ms, ` +
        `target domain after ${tTargetGone - t0} ms, virsh migrate exited after ${Date.now() - t0} ms`,
    );
    expect(error).toBeInstanceOf(VirshError);
    expect((error as VirshError).libvirtMessage).toMatch(/operation aborted: .*canceled by client/);

    expect(await domainState(a, 'stayer')).toBe('running');
    expect(await listDomains(b)).not.toContain('stayer');
    const last = Math.max(...heartbeats(readConsole(a, 'stayer')));
    await waitForHeartbeat(a, 'stayer', last, 10_000);
  }, 90_000);
});

describe('a run whose owner dies', () => {
  it('is reaped: daemon, QEMU, namespace and temp dir all go', async () => {
    // Stand-in for a jest process killed before its teardown.
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    const run = await startTestHosts({ hosts: ['c'], ownerPid: owner.pid! });
    try {
      const c = run.get('c');
      await startGuest(c, await defineGuest(c, { name: 'orphan', memoryMiB: 128 }));
      expect(await domainState(c, 'orphan')).toBe('running');
      expect(findLeftovers({ runId: run.runId, netnsInodes: run.netnsInodes }).length).toBeGreaterThan(0);

      owner.kill('SIGKILL');
      const t0 = Date.now();
      await until('reaper cleaned up', 20_000, async () => (findLeftovers({ runId: run.runId, netnsInodes: run.netnsInodes }).length === 0 ? true : undefined));
      log(`reaper cleaned up ${Date.now() - t0} ms after the owner died`);
    } finally {
      owner.kill('SIGKILL');
      await run.stop().catch(() => undefined);
    }
  }, 60_000);
});
