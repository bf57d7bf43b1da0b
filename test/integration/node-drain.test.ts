// Node drain on simulated nodes (issue 13): the drain taint evacuates a node's VMIs by live
// migration under the limits, each once, never onto a draining or cordoned node; VMIs that cannot
// leave stay and are reported; removing the taint calls it off.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../api/generated-files.js';
import { readControlPlaneState } from '../setup/environment.js';
import { EVACUATION_ANNOTATION } from '../../api/names.js';
import { isEvacuation, isFinal, removeDrainTaint, setCordon, taintForDrain, vmiEvents } from '../setup/drain.js';
import { slotPeaks } from '../setup/slot-timeline.js';
import { createRunningVmi, eventually, getVmi, listMigrations, startTestSystem, waitEvaluated, type TestSystem } from '../setup/system.js';
import { recordMigrations } from '../setup/vmim-recorder.js';
import { recordVmis } from '../setup/vmi-recorder.js';

let system: TestSystem;
const node = (i: number) => system.nodes[i] ?? '';

beforeAll(async () => {
  system = await startTestSystem('drain', {
    nodes: 5,
    // Evacuations go through admission as in a cluster (the reconciler's account may set spec.priority).
    webhook: true,
    migrations: 'bandwidthPerMigration: 32Mi\nparallelMigrationsPerCluster: 5\nparallelOutboundMigrationsPerNode: 2\nparallelInboundMigrationsPerNode: 2',
    configData: { evictionStrategy: 'LiveMigrate' },
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

describe('draining a node with the drain taint', () => {
  it('moves every evictable VMI away once, under the outbound limit, never onto a cordoned node; the others stay, reported', async () => {
    const source = node(0);
    const cordoned = node(4);
    // Cordoned only: evacuation on cordon is off by default, so this VMI stays, unmarked.
    await createRunningVmi(system, 'vm-on-cordoned', { node: cordoned, memory: '48Mi' });
    await waitEvaluated(system, 'vm-on-cordoned');
    await setCordon(system, cordoned, true);
    const evictable = Array.from({ length: 12 }, (_, i) => `vm-${i}`);
    for (const name of evictable) await createRunningVmi(system, name, { node: source, memory: '48Mi' });
    await createRunningVmi(system, 'vm-none', { node: source, memory: '48Mi', evictionStrategy: 'None' });
    await createRunningVmi(system, 'vm-hostdisk', { node: source, volumes: [{ name: 'local', hostDisk: { path: '/var/disk.img', type: 'Disk' } }] });
    for (const name of [...evictable, 'vm-none', 'vm-hostdisk']) await waitEvaluated(system, name);
    const vmiMoves = await recordVmis(system);

    await taintForDrain(system, source);
    const evacuations = await eventually('every evictable VMI off the node and its evacuation final', async () => {
      const all = (await listMigrations(system)).filter((m) => isEvacuation(m, source));
      const off = await Promise.all(evictable.map(async (name) => (await getVmi(system, name)).status?.nodeName !== source));
      return off.every(Boolean) && all.length >= evictable.length && all.every(isFinal) ? all : undefined;
    }, 120_000, 500);

    // One evacuation per VMI, as KubeVirt makes them, all succeeded.
    expect(evacuations.map((m) => m.spec.vmiName).sort()).toEqual([...evictable].sort());
    for (const m of evacuations) {
      expect(m.metadata.name).toMatch(/^kubevirt-evacuation-/);
      expect(m.metadata.annotations?.[EVACUATION_ANNOTATION]).toBe(source);
      expect(m.spec.priority).toBe('system-critical');
      expect(m.status?.phase).toBe('Succeeded');
    }
    // Never more than 2 out of the node at once (from the reconciler's timestamps), and 2 reached.
    const peaks = slotPeaks(evacuations);
    expect(peaks.counted).toBe(evictable.length);
    expect(peaks.outbound).toBe(2);
    // Each moved exactly once, to a node that is neither the drained one nor the cordoned one.
    for (const name of evictable) {
      const path = vmiMoves.nodesOf(name);
      expect(path).toHaveLength(2);
      expect(path[0]).toBe(source);
      expect([source, cordoned]).not.toContain(path[1]);
    }
    vmiMoves.stop();
    // Marks are cleared once a VMI has left.
    await eventually('evacuationNodeName cleared on every moved VMI', async () => {
      const vmis = await Promise.all(evictable.map((name) => getVmi(system, name)));
      return vmis.every((v) => v.status?.evacuationNodeName === undefined) ? true : undefined;
    }, 20_000);

    // The two that cannot leave stay, with the reason on the VMI and in an event.
    for (const [name, reason] of [['vm-none', 'EvictionStrategyNone'], ['vm-hostdisk', 'NotLiveMigratable']] as const) {
      const vmi = await getVmi(system, name);
      expect(vmi.status?.nodeName).toBe(source);
      expect(vmi.status?.conditions?.find((c) => c.type === 'EvacuationBlocked')).toMatchObject({ status: 'True', reason });
      const events = await vmiEvents(system, name);
      expect(events.filter((e) => e.reason === 'EvacuationBlocked').map((e) => e.type)).toEqual(['Warning']);
    }
    const left = (await Promise.all([...evictable, 'vm-none', 'vm-hostdisk'].map((name) => getVmi(system, name)))).filter((v) => v.status?.nodeName === source);
    expect(left.map((v) => v.metadata.name).sort()).toEqual(['vm-hostdisk', 'vm-none']);

    // The cordoned node's VMI was left alone all along (its node event came before the drain began).
    expect((await listMigrations(system)).filter((m) => m.spec.vmiName === 'vm-on-cordoned')).toEqual([]);
    expect((await getVmi(system, 'vm-on-cordoned')).status?.evacuationNodeName).toBeUndefined();
    await system.custom.deleteNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: system.ns, plural: 'virtualmachineinstances', name: 'vm-on-cordoned' });

    // Called off: the reports go.
    await removeDrainTaint(system, source);
    await setCordon(system, cordoned, false);
    await eventually('reports removed once the taint is gone', async () => {
      const vmis = await Promise.all(['vm-none', 'vm-hostdisk'].map((name) => getVmi(system, name)));
      return vmis.every((v) => !v.status?.conditions?.some((c) => c.type === 'EvacuationBlocked')) ? true : undefined;
    }, 20_000);
  }, 180_000);
});

describe('calling a drain off', () => {
  it('removing the taint mid-drain cancels the queued evacuations, creates none for 10 s, and lets the running ones finish', async () => {
    // The node cordoned above: no VMI moved onto it.
    const source = node(4);
    const names = Array.from({ length: 8 }, (_, i) => `vm-c${i}`);
    // 160 MiB at 32 MiB/s: 5 s each, so most are still queued when the drain is called off.
    for (const name of names) await createRunningVmi(system, name, { node: source, memory: '160Mi' });
    for (const name of names) await waitEvaluated(system, name);
    const recorder = await recordMigrations(system);
    try {
      await taintForDrain(system, source);
      await eventually('two evacuations running and the rest queued', async () => {
        const mine = (await listMigrations(system)).filter((m) => isEvacuation(m, source));
        const running = mine.filter((m) => m.status?.phase === 'Running');
        const queued = mine.filter((m) => m.status?.phase === 'Scheduling');
        return running.length === 2 && queued.length === names.length - 2 ? true : undefined;
      }, 30_000, 100);
      await removeDrainTaint(system, source);
      // The reconciler has seen the drain called off once the marks are gone.
      await eventually('evacuationNodeName cleared on every VMI', async () => {
        const vmis = await Promise.all(names.map((name) => getVmi(system, name)));
        return vmis.every((v) => v.status?.evacuationNodeName === undefined) ? true : undefined;
      }, 20_000, 100);
      const offAt = Date.now();
      const created = new Set(recorder.firstSeen().map((s) => s.name));
      // Observe 10 s: no evacuation migration may appear in this window.
      await sleep(10_000);
      const newer = recorder.firstSeen().filter((s) => !created.has(s.name));
      expect(newer.map((s) => `${s.name} at +${s.atMs - offAt} ms`)).toEqual([]);

      const evacuations = recorder.firstSeen().filter((s) => isEvacuation(s.first, source)).map((s) => s.name);
      expect(evacuations).toHaveLength(names.length);
      // Every one ends: the ones that held a slot finish; the queued ones are cancelled and gone.
      const outcomes = await Promise.all(evacuations.map(async (name) => {
        const versions = recorder.versions(name);
        const started = versions.some((v) => v.status?.phaseTransitionTimestamps?.some((p) => p.phase === 'Scheduled'));
        if (started) {
          const final = await eventually(`${name} final`, async () => recorder.versions(name).find(isFinal), 30_000, 100);
          return { name, started, phase: final.status?.phase, abort: final.status?.migrationState?.abortStatus };
        }
        const last = await recorder.finalBeforeGone(name, 30_000);
        return { name, started, phase: last.status?.phase, abort: last.status?.migrationState?.abortStatus };
      }));
      const startedOnes = outcomes.filter((o) => o.started);
      expect(startedOnes.length).toBeGreaterThanOrEqual(2);
      expect(startedOnes.every((o) => o.phase === 'Succeeded')).toBe(true);
      const cancelled = outcomes.filter((o) => !o.started);
      expect(cancelled.length).toBeGreaterThanOrEqual(1);
      expect(cancelled.every((o) => o.phase === 'Failed' && o.abort === 'Succeeded')).toBe(true);
      // The VMIs whose evacuation was cancelled are still on the node.
      for (const { name } of cancelled) {
        const vmiName = recorder.versions(name)[0]?.spec.vmiName ?? '';
        expect((await getVmi(system, vmiName)).status?.nodeName).toBe(source);
      }
    } finally {
      recorder.stop();
    }
  }, 120_000);
});

/** The plugin as a script runs it (stdout not a terminal): its exit code and output. */
function plugin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, KUBECONFIG: readControlPlaneState().kubeconfig };
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'cli/bin/kubectl-migrate.js'), ...args], { env, timeout: 100_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('kubectl migrate drain', () => {
  it('cordons and taints the node, follows every evacuation, exits 0 once the node is empty, 1 naming the VMIs that cannot leave; --cancel undoes it', async () => {
    const emptied = node(3);
    const before = ['vm-p0', 'vm-p1', 'vm-p2'];
    for (const name of before) await createRunningVmi(system, name, { node: emptied, memory: '160Mi' });
    for (const name of before) await waitEvaluated(system, name);
    const ok = await plugin(['drain', emptied, '--wait']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`node/${emptied} cordoned and tainted kubevirt.io/drain=draining:NoSchedule`);
    expect(ok.stdout).toContain(`node/${emptied} drained: it holds no VMI`);
    // Progress was shown while they moved, and each is listed as evacuated at the end.
    expect(ok.stdout).toMatch(/Running\s+\[#*\.*\]\s+\d+%/);
    for (const vmi of before) expect(ok.stdout).toMatch(new RegExp(`${system.ns}/${vmi}\\s+\\S+\\s+evacuated`));
    const drained = await system.core.readNode({ name: emptied });
    expect(drained.spec?.unschedulable).toBe(true);
    expect(drained.spec?.taints).toContainEqual(expect.objectContaining({ key: 'kubevirt.io/drain', effect: 'NoSchedule' }));

    // A node with a VMI that may not leave: the plugin names it and exits 1.
    const stuck = node(2);
    await createRunningVmi(system, 'vm-stays', { node: stuck, memory: '48Mi', evictionStrategy: 'None' });
    await waitEvaluated(system, 'vm-stays');
    const refused = await plugin(['drain', stuck, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: 1 VMI cannot leave ${stuck}:`);
    expect(refused.stderr).toContain(`${system.ns}/vm-stays (VMI ${system.ns}/vm-stays has evictionStrategy None`);
    expect(refused.stdout).toMatch(new RegExp(`${system.ns}/vm-stays\\s+${stuck}\\s+cannot leave: EvictionStrategyNone`));

    for (const n of [emptied, stuck]) {
      const cancelled = await plugin(['drain', n, '--cancel']);
      expect(cancelled.code).toBe(0);
      const read = await system.core.readNode({ name: n });
      expect(read.spec?.unschedulable ?? false).toBe(false);
      expect(read.spec?.taints ?? []).not.toContainEqual(expect.objectContaining({ key: 'kubevirt.io/drain' }));
    }
    await eventually('the report gone once the drain is called off', async () => {
      const vmi = await getVmi(system, 'vm-stays');
      return vmi.status?.conditions?.some((c) => c.type === 'EvacuationBlocked') ? undefined : true;
    }, 20_000);
  }, 150_000);
});
