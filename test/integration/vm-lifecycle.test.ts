// The VM lifecycle on the simulation driver, through the real API server: a VMI applied without a
// node is placed by the reconciler, booted by that node's agent and reported Running and Ready;
// it is kept off a node being drained and off taints it does not tolerate; deleting it stops the
// VM before the VMI goes; an agent killed with SIGKILL adopts its VMs
// without starting any twice; a node whose agent is gone gets nothing; after a migration the
// target's agent owns the VMI.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { consolePluginEnv, runPlugin } from '../setup/console-plugin.js';
import { startAgentComponent, stopComponent } from '../../hack/system/local-system.js';
import { issueAgentCertificate } from '../../hack/system/component-pki.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { putTaint, removeDrainTaint, removeTaint, taintForDrain } from '../setup/drain.js';
import { createMigration, eventually, getMigration, getVmi, startTestSystem, type TestSystem } from '../setup/system.js';

let system: TestSystem;
const GROUP = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' };

beforeAll(async () => {
  system = await startTestSystem('vm-life', { nodes: 3, nodeLabels: (i) => ({ rack: `r${i + 1}` }) });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

async function applyVmi(name: string, memory: string, spec: Record<string, unknown> = {}): Promise<void> {
  await system.custom.createNamespacedCustomObject({
    ...GROUP,
    namespace: system.ns,
    body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: { domain: { resources: { requests: { memory } }, devices: {} }, ...spec } },
  });
}

async function deleteVmi(name: string): Promise<void> {
  await system.custom.deleteNamespacedCustomObject({ ...GROUP, namespace: system.ns, name });
}

async function vmiOrGone(name: string): Promise<VirtualMachineInstance | undefined> {
  try {
    return await getVmi(system, name);
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

const running = (name: string) =>
  eventually(`${name} Running`, async () => {
    const vmi = await getVmi(system, name);
    return vmi.status?.phase === 'Running' ? vmi : undefined;
  }, 30_000, 100);

const unschedulable = (name: string) =>
  eventually(`${name} Unschedulable`, async () => {
    const vmi = await getVmi(system, name);
    const condition = vmi.status?.conditions?.find((c) => c.type === 'PodScheduled');
    return vmi.status?.phase === 'Scheduling' && condition?.status === 'False' ? { vmi, condition } : undefined;
  }, 30_000, 100);

/** The agent process's VM actions, by node and action, from its /metrics. */
async function vmActions(): Promise<Record<string, number>> {
  const agent = system.state.processes.find((p) => p.name === 'agent');
  const text = await (await fetch(`http://127.0.0.1:${agent?.port ?? 0}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^live_migration_agent_vm_actions_total\{node="([^"]+)",action="([^"]+)"\} (\d+)/.exec(line);
    if (match) counts[`${match[2]}@${match[1]}`] = Number(match[3]);
  }
  return counts;
}

const node = (i: number) => system.nodes[i] ?? '';

async function vmisWith(condition: string): Promise<VirtualMachineInstance[]> {
  const list = (await system.custom.listNamespacedCustomObject({ ...GROUP, namespace: system.ns })) as { items: VirtualMachineInstance[] };
  return list.items.filter((v) => v.status?.conditions?.some((c) => c.type === condition && c.status === 'True'));
}

describe('placement and boot', () => {
  it('places a VMI applied without a node, boots it there, reports Running and Ready with its phases stamped in order', async () => {
    await applyVmi('vm-a', '1Gi');
    const vmi = await running('vm-a');
    expect(system.nodes).toContain(vmi.status?.nodeName);
    expect(vmi.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const stamps = (vmi.status?.phaseTransitionTimestamps as Array<{ phase: string; phaseTransitionTimestamp: string }>) ?? [];
    expect(stamps.map((s) => s.phase)).toEqual(['Pending', 'Scheduling', 'Scheduled', 'Running']);
    const times = stamps.map((s) => Date.parse(s.phaseTransitionTimestamp));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(vmi.metadata.finalizers).toContain('live-migration.io/vm-shutdown');
    expect((await vmActions())[`start@${vmi.status?.nodeName}`]).toBe(1);
  });

  it('puts the next VMIs on the least loaded nodes, and honours spec.nodeSelector and required node affinity', async () => {
    const first = (await getVmi(system, 'vm-a')).status?.nodeName;
    await applyVmi('vm-b', '1Gi');
    const b = (await running('vm-b')).status?.nodeName;
    await applyVmi('vm-c', '1Gi');
    const c = (await running('vm-c')).status?.nodeName;
    expect(new Set([first, b, c]).size).toBe(3);

    await applyVmi('vm-sel', '64Mi', { nodeSelector: { rack: 'r2' } });
    expect((await running('vm-sel')).status?.nodeName).toBe(node(1));
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'rack', operator: 'In', values: ['r3'] }] }] } } };
    await applyVmi('vm-aff', '64Mi', { affinity });
    expect((await running('vm-aff')).status?.nodeName).toBe(node(2));
  });

  it('never places a VMI where its memory does not fit, and says why', async () => {
    // Each simulated node offers 16Gi; about 1Gi is taken on each: one 12Gi guest fits per node.
    for (const name of ['big-1', 'big-2', 'big-3']) await applyVmi(name, '12Gi');
    const placed = await Promise.all(['big-1', 'big-2', 'big-3'].map(async (n) => (await running(n)).status?.nodeName));
    expect(new Set(placed).size).toBe(3);
    await applyVmi('big-4', '12Gi');
    const { vmi, condition } = await unschedulable('big-4');
    expect(vmi.status?.nodeName).toBeUndefined();
    expect(condition).toMatchObject({ reason: 'Unschedulable', message: '0/3 nodes are available: 3 nodes insufficient memory (needs 12Gi).' });
    expect(vmi.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');

    // Room appears when a big guest goes: the waiting VMI takes it.
    const freed = placed[0];
    await deleteVmi('big-1');
    expect((await running('big-4')).status?.nodeName).toBe(freed);
    expect((await getVmi(system, 'big-4')).status?.conditions?.some((c) => c.type === 'PodScheduled')).toBe(false);
  });

  it('keeps new VMIs off a node being drained (tolerated or not) and off taints they do not tolerate', async () => {
    await putTaint(system, node(1), { key: 'dedicated', value: 'db', effect: 'NoSchedule' });
    await taintForDrain(system, node(0));
    try {
      // The reconciler has seen both taints (one node watch, in order) once it reports the drain on
      // the first node's VMIs (evictionStrategy None: they stay, EvacuationBlocked).
      await eventually('the drain reported', async () => ((await vmisWith('EvacuationBlocked')).length > 0 ? true : undefined), 20_000, 100);
      await applyVmi('vm-r1', '64Mi', { nodeSelector: { rack: 'r1' }, tolerations: [{ operator: 'Exists' }] });
      expect((await unschedulable('vm-r1')).condition.message).toBe('0/3 nodes are available: 2 nodes lacks label rack=r1, 1 node being drained.');
      await applyVmi('vm-r2', '64Mi', { nodeSelector: { rack: 'r2' } });
      expect((await unschedulable('vm-r2')).condition.message).toBe('0/3 nodes are available: 2 nodes lacks label rack=r2, 1 node being drained, 1 node had untolerated taint {dedicated: db}.');
      await applyVmi('vm-db', '64Mi', { nodeSelector: { rack: 'r2' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] });
      expect((await running('vm-db')).status?.nodeName).toBe(node(1));
    } finally {
      await removeDrainTaint(system, node(0));
      await removeTaint(system, node(1), 'dedicated');
    }
    // The taints gone, the waiting VMIs are placed.
    expect((await running('vm-r1')).status?.nodeName).toBe(node(0));
    expect((await running('vm-r2')).status?.nodeName).toBe(node(1));
    // The drain's reports on the first node's VMIs (evictionStrategy None) are gone too before we go on.
    await eventually('no EvacuationBlocked left', async () => ((await vmisWith('EvacuationBlocked')).length === 0 ? true : undefined), 20_000, 100);
  });

  it('names the missing label when no node carries it', async () => {
    await applyVmi('vm-nowhere', '64Mi', { nodeSelector: { rack: 'r9' } });
    const { condition } = await unschedulable('vm-nowhere');
    expect(condition.message).toBe('0/3 nodes are available: 3 nodes lacks label rack=r9.');
  });
});

describe('delete', () => {
  it('stops the VM on its node before the VMI goes', async () => {
    const nodeName = (await getVmi(system, 'vm-c')).status?.nodeName ?? '';
    const before = (await vmActions())[`shutdown@${nodeName}`] ?? 0;
    await deleteVmi('vm-c');
    await eventually('vm-c gone', async () => ((await vmiOrGone('vm-c')) === undefined ? true : undefined), 30_000, 100);
    expect((await vmActions())[`shutdown@${nodeName}`]).toBe(before + 1);
  });
});

describe('migration', () => {
  it("hands the VMI to the target's agent: the source drops its copy, the target stops it on delete", async () => {
    const source = (await getVmi(system, 'vm-b')).status?.nodeName ?? '';
    await createMigration(system, 'mig-b', 'vm-b');
    await eventually('mig-b Succeeded', async () => ((await getMigration(system, 'mig-b'))?.status?.phase === 'Succeeded' ? true : undefined), 60_000);
    const target = (await getVmi(system, 'vm-b')).status?.nodeName ?? '';
    expect(target).not.toBe(source);
    await eventually('the source to release its copy', async () => ((await vmActions())[`release@${source}`] ? true : undefined), 10_000, 100);
    expect((await vmActions())[`adopt@${target}`]).toBeGreaterThanOrEqual(1);
    await deleteVmi('vm-b');
    await eventually('vm-b gone', async () => ((await vmiOrGone('vm-b')) === undefined ? true : undefined), 30_000, 100);
    expect((await vmActions())[`shutdown@${target}`]).toBeGreaterThanOrEqual(1);
  });
});

describe('console', () => {
  it('kubectl migrate console shows the guest console from its current node, through the agent', async () => {
    const { pki } = system.state;
    const env = consolePluginEnv(system);
    const run = (extra: Record<string, string>) => runPlugin({ ...env, ...extra }, ['console', 'vm-a', '-n', system.ns]);
    await eventually('a heartbeat on the console', async () => {
      const shown = await run({}); // the reconciler's certificate: an allowed caller
      expect(shown.code).toBe(0);
      return /^lm-heartbeat \d+ /m.test(shown.stdout) ? shown : undefined;
    }, 10_000, 500);
    // Without a certificate the agents allow, nothing is shown.
    const [agentCert, agentKey] = issueAgentCertificate(pki, system.nodes[0] ?? '');
    const refused = await run({ LIVE_MIGRATION_AGENT_CERT: agentCert, LIVE_MIGRATION_AGENT_KEY: agentKey, LIVE_MIGRATION_AGENT_CA: pki.caCert });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HTTP 401: .*Unauthenticated/);
  });
});

describe('agent faults', () => {
  it('an agent killed with SIGKILL adopts its running VMs on restart: no second start, no status write', async () => {
    const names = ['vm-a', 'vm-sel', 'vm-aff'];
    const before = await Promise.all(names.map((n) => getVmi(system, n)));
    const agent = system.state.processes.find((p) => p.name === 'agent');
    if (!agent) throw new Error('no agent');
    await stopComponent(agent, 'SIGKILL');
    await startAgentComponent(system.state, 0);
    const adopted = await eventually('the VMs adopted', async () => {
      const actions = await vmActions();
      const adoptions = Object.entries(actions).filter(([k]) => k.startsWith('adopt@')).reduce((sum, [, v]) => sum + v, 0);
      return adoptions >= names.length ? actions : undefined;
    }, 30_000, 100);
    expect(Object.keys(adopted).filter((k) => k.startsWith('start@'))).toEqual([]);
    const after = await Promise.all(names.map((n) => getVmi(system, n)));
    expect(after.map((v) => v.metadata.resourceVersion)).toEqual(before.map((v) => v.metadata.resourceVersion));
    // The new process owns them: a delete completes through it.
    await deleteVmi('vm-aff');
    await eventually('vm-aff gone', async () => ((await vmiOrGone('vm-aff')) === undefined ? true : undefined), 30_000, 100);
  });

  it('places nothing on nodes whose agent is gone, and places it once an agent is back', async () => {
    const agent = system.state.processes.find((p) => p.name === 'agent');
    if (!agent) throw new Error('no agent');
    await stopComponent(agent, 'SIGTERM'); // deletes the Leases
    await applyVmi('vm-late', '64Mi');
    const { condition } = await unschedulable('vm-late');
    expect(condition.message).toBe('0/3 nodes are available: 3 nodes no live agent.');
    await startAgentComponent(system.state, 0);
    expect(system.nodes).toContain((await running('vm-late')).status?.nodeName);
  });
});
