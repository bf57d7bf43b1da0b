// The migration stream on the wire, on two real libvirt hosts (test/hosts), the libvirt driver
// driven directly: a guest whose memory is filled with a known word migrates while tcpdump captures
// the veth between the hosts. With TLS (the default) the word never appears in the capture; with
// kubevirt-config's disableTLS it does, thousands of times. Then both hosts' certificates are
// replaced by ones of a new CA while everything runs: the next migration uses them (the old ones
// would no longer be trusted by either side), with no restart of the agent or libvirtd.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MigrationJobStatus, StartMigrationRequest } from '../../agent/contract.js';
import { domainName, LibvirtDriver } from '../../agent/libvirt/libvirt-driver.js';
import { defineGuest, domainState, findLeftovers, guestImage, startCapture, startGuest, startTestHosts, waitForConsole, type CaptureResult, type TestHost, type TestHosts } from '../hosts/index.js';

const log = (message: string) => process.stderr.write(`[libvirt-tls] ${message}\n`);
const MIB = 2 ** 20;
const vmi = { namespace: 'tlstest', name: 'pattern' };
const DOMAIN = domainName(vmi);
const FILL_MIB = 96;
// Unique to this run: nothing but this guest's memory can carry it.
const PATTERN = `LMPATTERN-${randomBytes(8).toString('hex')}`;

let hosts: TestHosts | undefined;
let a: TestHost;
let b: TestHost;
let stateRoot: string;
const drivers = new Map<string, LibvirtDriver>();
let sequence = 0;

function driverOf(host: TestHost): LibvirtDriver {
  let driver = drivers.get(host.name);
  if (!driver) {
    // One driver per host for the whole file: a rotation must reach them without a new one.
    driver = new LibvirtDriver({ nodeName: `node-${host.name}`, uri: host.uri, adminUri: host.adminUri, migrationAddress: host.address, migrationTlsDir: host.tlsDir, stateDir: join(stateRoot, host.name), tlsPollMs: 0 });
    drivers.set(host.name, driver);
  }
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

/** Migrates the guest from → to through the drivers while capturing on the source's veth end. */
async function migrateCaptured(from: TestHost, to: TestHost, disableTLS: boolean): Promise<{ status: MigrationJobStatus; capture: CaptureResult }> {
  sequence += 1;
  const uid = `7d5f0000-0000-4000-8000-${String(sequence).padStart(12, '0')}`;
  const ready = await driverOf(to).prepareTarget({ migrationUid: uid, vmi, sourceNode: `node-${from.name}`, memoryBytes: 192 * MIB });
  const capture = await startCapture(from, [PATTERN]);
  let result: CaptureResult | undefined;
  try {
    const request: StartMigrationRequest = {
      migrationUid: uid,
      vmi,
      destination: { nodeName: `node-${to.name}`, address: ready.targetNodeAddress, ports: ready.targetDirectMigrationNodePorts },
      // A cap keeps the capture complete (no kernel drops) on a loaded machine.
      bandwidthBytesPerSecond: 32 * MIB,
      allowAutoConverge: false,
      allowPostCopy: false,
      memoryBytes: 192 * MIB,
      ...(disableTLS ? { disableTLS: true } : {}),
    };
    await driverOf(from).startMigration(request);
    const status = await until(`migration ${uid} ended`, 90_000, async () => {
      const s = await driverOf(from).migrationStatus(uid);
      return s && ['Completed', 'Failed', 'Aborted'].includes(s.state) ? s : undefined;
    });
    result = await capture.stop();
    log(`${from.name} → ${to.name} ${disableTLS ? 'plain' : 'TLS'}: ${status.state} ${status.failure ?? ''}; captured ${(result.bytes / MIB).toFixed(1)} MiB in ${result.packets} packets (${result.droppedByKernel} dropped), pattern ${result.counts[PATTERN]} times`);
    return { status, capture: result };
  } finally {
    if (!result) await capture.stop();
  }
}

beforeAll(async () => {
  guestImage();
  hosts = await startTestHosts({ hosts: ['a', 'b'] });
  a = hosts.get('a');
  b = hosts.get('b');
  stateRoot = mkdtempSync(join(tmpdir(), 'live-migration-agent-tls-'));
  await startGuest(a, await defineGuest(a, { name: DOMAIN, memoryMiB: 192, fillMiB: FILL_MIB, pattern: PATTERN }));
  await waitForConsole(a, DOMAIN, /lm-filled mib=96/, 90_000);
  await waitForConsole(a, DOMAIN, /lm-heartbeat 1 /, 30_000);
  // Both drivers up and their libvirtd told about the first certificates (a prepare waits for that),
  // so that whichever test runs, a rotation comes after what the daemons loaded.
  for (const host of [a, b]) {
    const warmUp = `7d5f0000-0000-4000-8000-0000000${host.name === 'a' ? 'aaaaa' : 'bbbbb'}`;
    await driverOf(host).prepareTarget({ migrationUid: warmUp, vmi: { namespace: 'tlstest', name: 'warm-up' }, sourceNode: 'none', memoryBytes: MIB });
    await driverOf(host).releaseTarget(warmUp);
  }
}, 150_000);

afterAll(async () => {
  for (const driver of drivers.values()) driver.close();
  if (hosts) {
    await hosts.stop();
    expect(findLeftovers({ runId: hosts.runId, netnsInodes: hosts.netnsInodes })).toEqual([]);
  }
  if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
}, 60_000);

describe('the migration stream on the wire', () => {
  it('with TLS (the default), the guest memory pattern never appears in the capture', async () => {
    const { status, capture } = await migrateCaptured(a, b, false);
    expect(status.state).toBe('Completed');
    expect(await domainState(b, DOMAIN)).toBe('running');
    // The guest's memory did cross this interface (more bytes than its filled part)...
    expect(capture.bytes).toBeGreaterThan(FILL_MIB * MIB);
    expect(capture.droppedByKernel).toBe(0);
    // ...and not one copy of the word it is filled with.
    expect(capture.counts[PATTERN]).toBe(0);
  }, 120_000);

  it('with disableTLS, the pattern crosses in clear (the capture does see guest memory)', async () => {
    const { status, capture } = await migrateCaptured(b, a, true);
    expect(status.state).toBe('Completed');
    expect(await domainState(a, DOMAIN)).toBe('running');
    // 96 MiB of the word: far more than a stray copy of the kernel command line.
    expect(capture.counts[PATTERN]).toBeGreaterThan(100_000);
  }, 120_000);

  it('certificates rotated on disk (a new CA on both hosts) are used by the next migration, nothing restarted', async () => {
    const libvirtdBefore = [a.pid, b.pid];
    hosts!.rotateTls();
    const { status, capture } = await migrateCaptured(a, b, false);
    expect(status.failure).toBeUndefined();
    expect(status.state).toBe('Completed');
    expect(capture.counts[PATTERN]).toBe(0);
    expect(await domainState(b, DOMAIN)).toBe('running');
    // The same daemons (and the same drivers) as before the rotation.
    for (const pid of libvirtdBefore) expect(() => process.kill(pid, 0)).not.toThrow();
    expect([a.pid, b.pid]).toEqual(libvirtdBefore);
  }, 120_000);
});
