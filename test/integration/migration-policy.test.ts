// MigrationPolicy and the reserved spec.migrationConfiguration, as users meet them on a running
// system (webhook, reconciler, simulated nodes): an ordinary user cannot tune a migration, an
// admin's MigrationPolicy can — stamped at admission and in force while it runs, its name on the
// VMIM and the VMI; the most specific policy wins; a client that drops the field on Get → Update
// (KubeVirt's Go types) is not refused and leaves the stamp in place.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { POLICY_ANNOTATION } from '../../api/migration-configuration.js';
import { POLICY_GROUP, POLICY_PLURAL, POLICY_VERSION, type MigrationPolicySpec } from '../../api/schemas/migration-policy.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { createOrdinaryUser, type OrdinaryUser } from '../setup/ordinary-user.js';
import { createRunningVmi, eventually, getMigration, getVmi, startTestSystem, waitEvaluated, type TestSystem } from '../setup/system.js';

let system: TestSystem;
let user: OrdinaryUser;
let suffix: string;
const policies: string[] = [];
const vmimPath = () => ({ group: 'kubevirt.io', version: 'v1', namespace: system.ns, plural: 'virtualmachineinstancemigrations' });

beforeAll(async () => {
  system = await startTestSystem('policy', { nodes: 2, webhook: true, migrations: 'bandwidthPerMigration: 64Mi\ncompletionTimeoutPerGiB: 800' });
  suffix = system.ns.split('-').pop() ?? system.ns;
  user = await createOrdinaryUser(system.kubeConfig, system.ns);
}, 180_000);

afterAll(async () => {
  for (const name of policies) await system?.custom.deleteClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURAL, name }).catch(() => undefined);
  await system?.stop();
});

/** Labels and policy names unique to this run: the control plane (and its policies) is shared by every test file. */
const key = (name: string) => `${name}-${suffix}`;

async function createPolicy(name: string, spec: MigrationPolicySpec): Promise<string> {
  const full = key(name);
  await system.custom.createClusterCustomObject({
    group: POLICY_GROUP,
    version: POLICY_VERSION,
    plural: POLICY_PLURAL,
    body: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: 'MigrationPolicy', metadata: { name: full }, spec },
  });
  policies.push(full);
  return full;
}

function migrationBody(name: string, vmiName: string, spec: Record<string, unknown> = {}) {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName, ...spec } };
}

/** The ordinary user's create as a server-side dry run: what the webhooks make of it, nothing stored. */
async function dryRunAsUser(vmiName: string): Promise<VirtualMachineInstanceMigration> {
  return (await user.custom.createNamespacedCustomObject({ ...vmimPath(), body: migrationBody(`probe-${Date.now()}`, vmiName), dryRun: 'All' })) as VirtualMachineInstanceMigration;
}

async function refusal(attempt: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await attempt;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = typeof error.body === 'string' ? (JSON.parse(error.body) as { message?: string }) : {};
    return { code: error.code, message: body.message ?? '' };
  }
  throw new Error('the request was admitted');
}

describe('spec.migrationConfiguration is reserved', () => {
  it('refuses an ordinary user who sets bandwidth or timeouts, pointing to MigrationPolicy; nothing is stored', async () => {
    await createRunningVmi(system, 'vm-plain', { node: system.nodes[0] ?? '' });
    await waitEvaluated(system, 'vm-plain');
    for (const migrationConfiguration of [{ bandwidthPerMigration: 0 }, { completionTimeoutPerGiB: 100000, progressTimeout: 100000 }]) {
      const refused = await refusal(user.custom.createNamespacedCustomObject({ ...vmimPath(), body: migrationBody('tuned', 'vm-plain', { migrationConfiguration }) }));
      expect(refused.code).toBe(422);
      expect(refused.message).toContain('Cannot migrate VMI');
      expect(refused.message).toContain('spec.migrationConfiguration is reserved to cluster admins and the system itself');
      expect(refused.message).toContain('MigrationPolicy (migrations.kubevirt.io/v1alpha1)');
    }
    expect(await getMigration(system, 'tuned')).toBeUndefined();
    // The same user's migration without the field is admitted, under the cluster's settings.
    const admitted = await dryRunAsUser('vm-plain');
    expect(admitted.spec.migrationConfiguration).toMatchObject({ bandwidthPerMigration: '64Mi', completionTimeoutPerGiB: 800 });
    expect(admitted.metadata.annotations?.[POLICY_ANNOTATION]).toBe('');
  });
});

describe('a MigrationPolicy selecting the VMI', () => {
  it("changes the ordinary user's migration: stamped, in force (a 2 s completion budget ends it), named on the VMIM and the VMI", async () => {
    const policy = await createPolicy('short', {
      selectors: { virtualMachineInstanceSelector: { [key('budget')]: 'short' } },
      completionTimeoutPerGiB: 2,
      bandwidthPerMigration: '1Mi',
    });
    await createRunningVmi(system, 'vm-short', { node: system.nodes[0] ?? '', labels: { [key('budget')]: 'short' } });
    await waitEvaluated(system, 'vm-short');
    // The webhook's policy cache follows a watch: wait until a dry run shows the policy stamped.
    await eventually('the webhook to see the policy', async () => ((await dryRunAsUser('vm-short')).metadata.annotations?.[POLICY_ANNOTATION] === policy ? true : undefined), 30_000, 100);

    await user.custom.createNamespacedCustomObject({ ...vmimPath(), body: migrationBody('mig-short', 'vm-short') });
    const created = await getMigration(system, 'mig-short');
    expect(created?.spec.migrationConfiguration).toMatchObject({ completionTimeoutPerGiB: 2, bandwidthPerMigration: '1Mi', progressTimeout: 150 });
    expect(created?.metadata.annotations?.[POLICY_ANNOTATION]).toBe(policy);

    // 64Mi at 1Mi/s would take a minute; the policy's budget is 2 s × 1 GiB.
    const failed = await eventually('mig-short to end', async () => {
      const vmim = await getMigration(system, 'mig-short');
      return vmim?.status?.phase === 'Failed' || vmim?.status?.phase === 'Succeeded' ? vmim : undefined;
    }, 60_000, 100);
    expect(failed.status?.phase).toBe('Failed');
    expect(failed.status?.migrationState?.failureReason).toBe('CompletionTimeout: not completed within 2s (2s per GiB × 1 GiB)');
    expect(failed.status?.migrationState).toMatchObject({ migrationPolicyName: policy, migrationConfiguration: { completionTimeoutPerGiB: 2, bandwidthPerMigration: '1Mi' } });
    const vmi = await getVmi(system, 'vm-short');
    expect(vmi.status?.migrationState).toMatchObject({ migrationUid: failed.metadata.uid, migrationPolicyName: policy, failed: true });
  });
});

describe('precedence on the running system', () => {
  it('the policy naming more matching labels wins; at equal totals VMI labels beat namespace labels', async () => {
    const ns = (await system.core.readNamespace({ name: system.ns })).metadata?.labels ?? {};
    await system.core.replaceNamespace({ name: system.ns, body: { metadata: { name: system.ns, labels: { ...ns, [key('team')]: 'db' } } } });
    const vmiOnly = await createPolicy('b-vmi', { selectors: { virtualMachineInstanceSelector: { [key('app')]: 'pg' } }, completionTimeoutPerGiB: 11 });
    const nsOnly = await createPolicy('a-ns', { selectors: { namespaceSelector: { [key('team')]: 'db' } }, completionTimeoutPerGiB: 22 });
    const both = await createPolicy('c-both', {
      selectors: { virtualMachineInstanceSelector: { [key('app')]: 'pg' }, namespaceSelector: { [key('team')]: 'db' } },
      completionTimeoutPerGiB: 33,
    });
    await createRunningVmi(system, 'vm-pg', { node: system.nodes[0] ?? '', labels: { [key('app')]: 'pg' } });
    await createRunningVmi(system, 'vm-other', { node: system.nodes[0] ?? '', labels: { [key('app')]: 'web' } });
    await waitEvaluated(system, 'vm-pg');
    await waitEvaluated(system, 'vm-other');

    const stampOf = async (vmi: string) => {
      const probe = await dryRunAsUser(vmi);
      return { policy: probe.metadata.annotations?.[POLICY_ANNOTATION], completionTimeoutPerGiB: probe.spec.migrationConfiguration?.completionTimeoutPerGiB };
    };
    // Two labels (VMI + namespace) beat one.
    expect(await eventually('the most specific policy for vm-pg', async () => ((await stampOf('vm-pg')).policy === both ? stampOf('vm-pg') : undefined), 30_000, 100)).toEqual({ policy: both, completionTimeoutPerGiB: 33 });
    await system.custom.deleteClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURAL, name: both });
    // One VMI label beats one namespace label, though a-ns sorts first by name.
    expect(await eventually('the VMI-label policy for vm-pg', async () => ((await stampOf('vm-pg')).policy !== both ? stampOf('vm-pg') : undefined), 30_000, 100)).toEqual({ policy: vmiOnly, completionTimeoutPerGiB: 11 });
    // A VMI without the app label gets the namespace policy only.
    expect(await stampOf('vm-other')).toEqual({ policy: nsOnly, completionTimeoutPerGiB: 22 });
  });
});

describe('Get → Update by a client that does not know spec.migrationConfiguration', () => {
  it('succeeds and leaves the stamp and the policy annotation in place; another spec change is still refused', async () => {
    const before = await eventually('mig-short released', async () => {
      const vmim = await getMigration(system, 'mig-short');
      return vmim && (vmim.metadata.finalizers ?? []).length === 0 ? vmim : undefined;
    }, 30_000, 100);
    // What a Go client with KubeVirt's types sends back: the object without the field it does not know.
    const read = (await user.custom.getNamespacedCustomObject({ ...vmimPath(), name: 'mig-short' })) as VirtualMachineInstanceMigration;
    const { migrationConfiguration: _dropped, ...spec } = read.spec;
    const written = (await user.custom.replaceNamespacedCustomObject({
      ...vmimPath(),
      name: 'mig-short',
      body: { ...read, metadata: { ...read.metadata, labels: { ...read.metadata.labels, seen: 'yes' } }, spec },
    })) as VirtualMachineInstanceMigration;
    expect(written.metadata.labels?.seen).toBe('yes');
    const after = await getMigration(system, 'mig-short');
    expect(after?.spec).toEqual(before.spec);
    expect(after?.metadata.annotations?.[POLICY_ANNOTATION]).toBe(before.metadata.annotations?.[POLICY_ANNOTATION]);

    // A forged annotation is put back; a changed spec is refused as before.
    const forged = (await user.custom.replaceNamespacedCustomObject({
      ...vmimPath(),
      name: 'mig-short',
      body: { ...after, metadata: { ...after?.metadata, annotations: { [POLICY_ANNOTATION]: 'forged' } } },
    })) as VirtualMachineInstanceMigration;
    expect(forged.metadata.annotations?.[POLICY_ANNOTATION]).toBe(before.metadata.annotations?.[POLICY_ANNOTATION]);
    const changed = await refusal(user.custom.replaceNamespacedCustomObject({ ...vmimPath(), name: 'mig-short', body: { ...forged, spec: { ...forged.spec, addedNodeSelector: { zone: 'b' } } } }));
    expect(changed.message).toMatch(/object's spec is restricted/);
  });
});
