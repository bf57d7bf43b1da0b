// The libvirt driver under the faults of issue 9, on two real libvirt hosts (test/hosts), driven
// directly (no API server involved): concurrent calls for one migration UID make one libvirt job,
// and an agent whose state dir is gone (pod replaced, emptyDir wiped) finds a running migration
// in libvirt, answers its status, aborts it, and never calls it Completed while the guest is on
// its source.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MigrationJobStatus, StartMigrationRequest } from '../../agent/contract.js';
import { domainName, LibvirtDriver } from '../../agent/libvirt/libvirt-driver.js';
import { defineGuest, domainState, findLeftovers, guestImage, heartbeats, listDomains, readConsole, startGuest, startTestHosts, virsh, waitForHeartbeat, type TestHost, type TestHosts } from '../hosts/index.js';

const log = (message: string) => process.stderr.write(`[agent-libvirt-faults] ${message}\n`);
const MIB = 2 ** 20;
const vmi = { namespace: 'agtest', name: 'mover' };
const DOMAIN = domainName(vmi);

let hosts: TestHosts | undefined;
let a: TestHost;
let b: TestHost;
let stateRoot: string;
const drivers: LibvirtDriver[] = [];

function driverFor(host: TestHost, stateDir = join(stateRoot, host.name)): LibvirtDriver {
  const driver = new LibvirtDriver({ nodeName: `node-${host.name}`, uri: host.uri, migrationAddress: host.address, migrationTlsDir: host.tlsDir, adminUri: host.adminUri, stateDir });
  drivers.push(driver);
  return driver;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** PIDs of `virsh ... migrate ... <domain>` processes on this machine. */
function migrateProcesses(): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[1] === 'virsh' && words.includes('migrate') && words.includes(DOMAIN))
    .map((words) => Number(words[0]));
}

function startRequest(uid: string, to: TestHost, bandwidthBytesPerSecond: number): StartMigrationRequest {
  return {
    migrationUid: uid,
    vmi,
    destination: { nodeName: `node-${to.name}`, address: to.address, ports: { '16514': 0 } },
    bandwidthBytesPerSecond,
    allowAutoConverge: false,
    allowPostCopy: false,
    memoryBytes: 320 * MIB,
  };
}

/** The guest runs on `host`, is on no other host, and is alive (its heartbeat goes on). */
async function expectGuestOnlyOn(host: TestHost, other: TestHost): Promise<void> {
  expect(await domainState(host, DOMAIN)).toBe('running');
  await until(`${DOMAIN} gone from ${other.name}`, 15_000, async () => ((await listDomains(other)).includes(DOMAIN) ? undefined : true));
  const last = Math.max(0, ...heartbeats(readConsole(host, DOMAIN)));
  await waitForHeartbeat(host, DOMAIN, last, 15_000);
}

beforeAll(async () => {
  guestImage();
  hosts = await startTestHosts({ hosts: ['a', 'b'] });
  a = hosts.get('a');
  b = hosts.get('b');
  stateRoot = mkdtempSync(join(tmpdir(), 'live-migration-agent-faults-'));
  const guest = await defineGuest(a, { name: DOMAIN, memoryMiB: 320, fillMiB: 192 });
  await startGuest(a, guest);
  await waitForHeartbeat(a, DOMAIN, 0, 90_000);
}, 150_000);

afterAll(async () => {
  for (const driver of drivers) driver.close();
  if (hosts) {
    await hosts.stop();
    expect(findLeftovers({ runId: hosts.runId, netnsInodes: hosts.netnsInodes })).toEqual([]);
  }
  if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
}, 60_000);

describe('libvirt driver faults', () => {
  it('concurrent prepares and starts of one UID: one answer, one virsh migrate, one job that completes', async () => {
    const uid = '0a9f0000-0000-4000-8000-000000000001';
    const target = driverFor(b);
    const source = driverFor(a);
    const prepare = { migrationUid: uid, vmi, sourceNode: 'node-a', memoryBytes: 320 * MIB };
    const readies = await Promise.all([target.prepareTarget(prepare), target.prepareTarget(prepare)]);
    expect(readies[1]).toEqual(readies[0]);
    expect(target.recordCounts.incoming).toBe(1);

    const request = startRequest(uid, b, 32 * MIB);
    await Promise.all([source.startMigration(request), source.startMigration(request), source.startMigration(request)]);
    expect(migrateProcesses()).toHaveLength(1);
    expect(source.recordCounts.outgoing).toBe(1);
    // Every state seen on the way, until the end: never Failed (a second job would have failed).
    const seen = new Set<string>();
    const done = await until('migration ended', 90_000, async () => {
      const status = await source.migrationStatus(uid);
      if (status) seen.add(status.state);
      return status && ['Completed', 'Failed', 'Aborted'].includes(status.state) ? status : undefined;
    });
    log(`concurrent start: states ${[...seen].join(' → ')}; failure ${done.failure ?? 'none'}`);
    expect(done.state).toBe('Completed');
    expect(await target.confirmArrival(uid)).toEqual({ domainDetected: true });
    await expectGuestOnlyOn(b, a);
    // A target agent whose state is gone still recognises the arrival, by the UID on the domain.
    const fresh = driverFor(b, mkdtempSync(join(stateRoot, 'fresh-b-')));
    expect(await fresh.confirmArrival(uid)).toEqual({ domainDetected: true });
    expect(await fresh.confirmArrival('0a9f0000-0000-4000-8000-0000000000ff')).toEqual({ domainDetected: false });
  }, 150_000);

  it('a replaced agent with a wiped state dir finds the running migration in libvirt, answers its status, aborts it; the guest stays on its source', async () => {
    const uid = '0a9f0000-0000-4000-8000-000000000002';
    const stateDir = mkdtempSync(join(stateRoot, 'source-b-'));
    await driverFor(a).prepareTarget({ migrationUid: uid, vmi, sourceNode: 'node-b', memoryBytes: 320 * MIB });
    const first = driverFor(b, stateDir);
    // 2 MiB/s: ~100 s of copying, far longer than this test needs it to run.
    await first.startMigration(startRequest(uid, a, 2 * MIB));
    await until('copy under way', 30_000, async () => ((await first.migrationStatus(uid))?.progress?.dataProcessedBytes ?? 0) > 0 || undefined);

    // The pod is replaced: the old agent and its virsh are gone, and so is its state dir.
    first.close();
    for (const pid of migrateProcesses()) process.kill(pid, 'SIGKILL');
    await until('old virsh gone', 10_000, async () => (migrateProcesses().length === 0 ? true : undefined));
    rmSync(stateDir, { recursive: true, force: true });
    expect(await virsh(b, ['domjobinfo', DOMAIN])).toMatch(/Operation:\s+Outgoing migration/);

    const second = driverFor(b, stateDir);
    expect(readdirSync(stateDir)).toEqual([]);
    // A resend of the start changes nothing: no second job.
    await second.startMigration(startRequest(uid, a, 2 * MIB));
    expect(migrateProcesses()).toEqual([]);
    const status = await until('progress from the new agent', 30_000, async () => {
      const s: MigrationJobStatus | undefined = await second.migrationStatus(uid);
      return s?.progress ? s : undefined;
    });
    log(`after replacement: ${status.state}, ${status.progress?.dataProcessedBytes} bytes processed`);
    expect(status.state).toBe('Running');
    expect(await domainState(b, DOMAIN)).toBe('running');

    expect(await second.abortMigration(uid)).toEqual({ result: 'aborted' });
    const after = await second.migrationStatus(uid);
    expect(after?.state).toBe('Aborted');
    expect(await second.abortMigration(uid)).toEqual({ result: 'aborted' });
    await expectGuestOnlyOn(b, a);
    expect(await virsh(b, ['domjobinfo', DOMAIN])).toMatch(/^Job type:\s+None/);

    // A third agent, state wiped again, after the job ended: the guest is here, so not Completed.
    const third = driverFor(b, mkdtempSync(join(stateRoot, 'third-b-')));
    const late = await third.migrationStatus(uid);
    expect(late?.state).not.toBe('Completed');
    expect(['Failed', 'Aborted']).toContain(late?.state);
    expect(await third.abortMigration(uid)).toEqual({ result: 'aborted' });
    expect(await third.migrationStatus('0a9f0000-0000-4000-8000-0000000000ee')).toBeUndefined();
  }, 180_000);
});
