// Faults under a running migration, on simulated nodes, read back through the API server: the VMI
// goes away or stops mid-migration, and a crash-looping reconciler cannot stretch a timeout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { GROUP } from '../../api/crds.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { startReconcilerProcess, stopComponent } from '../../hack/system/local-system.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';
import { createMigration, createRunningVmi, eventually, getMigration, getVmi, patchVmiStatus, startTestSystem, type TestSystem } from '../setup/system.js';

const SHUTDOWN = 'VmiGone: Migration failed vmi shutdown during migration.';
let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('rec-faults', { nodes: 3, migrations: 'bandwidthPerMigration: 16Mi' });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

async function running(name: string): Promise<VirtualMachineInstanceMigration> {
  return eventually(`${name} Running`, async () => {
    const vmim = await getMigration(system, name);
    return vmim?.status?.phase === 'Running' ? vmim : undefined;
  }, 30_000, 100);
}

async function agentJobs(state: string): Promise<number> {
  const agent = system.state.processes.find((p) => p.name === 'agent');
  const text = await (await fetch(`http://127.0.0.1:${agent?.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('live_migration_agent_migrations{') && line.includes(`state="${state}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function warningsAbout(name: string): Promise<string[]> {
  const events = await system.kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: system.ns });
  return events.items.filter((e) => e.involvedObject.name === name && e.type === 'Warning').map((e) => e.message ?? '');
}

describe('the VMI goes away mid-migration', () => {
  it('deleting the VMI aborts the job on the source, fails the VMIM with KubeVirt\'s text, and the VMIM is deleted', async () => {
    await createRunningVmi(system, 'vm-del', { node: system.nodes[0] ?? '', memory: '1Gi' });
    await createMigration(system, 'del', 'vm-del');
    await running('del');
    const abortedBefore = await agentJobs('Aborted');
    await system.custom.deleteNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: system.ns, plural: 'virtualmachineinstances', name: 'vm-del' });
    // Gone, finalizer released: a VMIM of a VMI that no longer exists is not kept.
    await eventually('del gone', async () => ((await getMigration(system, 'del')) === undefined ? true : undefined), 20_000, 100);
    expect(await warningsAbout('del')).toContain(SHUTDOWN);
    expect(await agentJobs('Aborted')).toBe(abortedBefore + 1);
  });

  it('a VMI that stops (Succeeded) mid-migration fails the VMIM with the same text; the VMI records it first', async () => {
    await createRunningVmi(system, 'vm-stop', { node: system.nodes[1] ?? '', memory: '1Gi' });
    await createMigration(system, 'stop', 'vm-stop');
    await running('stop');
    await patchVmiStatus(system, 'vm-stop', { phase: 'Succeeded' });
    const failed = await eventually('stop Failed', async () => {
      const vmim = await getMigration(system, 'stop');
      return vmim?.status?.phase === 'Failed' ? vmim : undefined;
    }, 20_000, 100);
    await expectVmiAgrees(system, failed);
    expect(failed.status?.migrationState?.failureReason).toBe(SHUTDOWN);
    expect((await getVmi(system, 'vm-stop')).status?.nodeName).toBe(system.nodes[1]);
  });
});

describe('clocks survive restarts', () => {
  it('a reconciler killed every time shortly after it takes the lead still fails a stalled migration with ProgressTimeout', async () => {
    await createRunningVmi(system, 'vm-stall', { node: system.nodes[2] ?? '', memory: '256Mi', annotations: { 'simulation.live-migration.io/dirty-rate': '64Mi' } });
    await createMigration(system, 'stall', 'vm-stall', { migrationConfiguration: { progressTimeout: 3 } });
    await running('stall');
    const leases = system.kubeConfig.makeApiClient(CoordinationV1Api);
    const holder = async () => (await leases.readNamespacedLease({ name: 'live-migration-reconciler', namespace: system.ns })).spec?.holderIdentity ?? undefined;
    // Each leader gets 1.5 s, half the progress timeout: a clock that restarted with the process
    // would never reach 3 s without progress, so only a clock kept in the VMIM's status ends it.
    let kills = 0;
    for (let index = 10; index < 30; index++) {
      const phase = (await getMigration(system, 'stall'))?.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') break;
      const current = system.state.processes.find((p) => p.name.startsWith('reconciler'));
      if (!current) throw new Error('no reconciler process');
      await eventually('a leader', async () => ((await holder()) === current.name ? true : undefined), 30_000, 100);
      await sleep(1_500);
      const after = (await getMigration(system, 'stall'))?.status?.phase;
      if (after === 'Failed' || after === 'Succeeded') break;
      await stopComponent(current, 'SIGKILL');
      system.state.processes = system.state.processes.filter((p) => p !== current);
      kills++;
      await startReconcilerProcess(system.state, index);
    }
    const failed = await eventually('stall final', async () => {
      const vmim = await getMigration(system, 'stall');
      return vmim?.status?.phase === 'Failed' || vmim?.status?.phase === 'Succeeded' ? vmim : undefined;
    }, 30_000, 100);
    await expectVmiAgrees(system, failed);
    expect(kills).toBeGreaterThan(0);
    expect(failed.status?.migrationState?.failureReason).toMatch(/^ProgressTimeout: data remaining has not gone down for 3s/);
    expect((await getVmi(system, 'vm-stall')).status?.nodeName).toBe(system.nodes[2]);
  });
});
