// kubevirt-config as a KubeVirt cluster has it: numbers and booleans quoted (KubeVirt v0.31–v0.47
// required it), keys of KubeVirt's we do not act on, a key nobody knows. Stored before the webhook
// starts, then applied again with `kubectl apply`, through the real API server and webhook.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { kubectl, kubectlWithWarnings } from '../setup/environment.js';
import { createMigration, createRunningVmi, eventually, getMigration, startTestSystem, waitEvaluated, type TestSystem } from '../setup/system.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';

// KubeVirt's user guide form, quoted, plus the keys a later KubeVirt added.
const STORED = [
  'parallelMigrationsPerCluster: "1"',
  'parallelOutboundMigrationsPerNode: "2"',
  'bandwidthPerMigration: "64Mi"',
  'completionTimeoutPerGiB: "800"',
  'progressTimeout: "77"',
  'maxDowntimeMs: "300"',
  'nodeDrainTaintKey: kubevirt.io/drain',
  'unsafeMigrationOverride: "false"',
  'allowAutoConverge: "false"',
  'allowPostCopy: "false"',
].join('\n');

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('kv-config', { nodes: 2, webhook: true, migrations: STORED });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

function configMapManifest(migrations: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubevirt-config', namespace: system.ns, labels: { 'kubevirt.io': '' } },
    data: { 'feature-gates': 'LiveMigration', migrations },
  });
}

function dryRunMigration(vmiName: string): VirtualMachineInstanceMigration | undefined {
  const manifest = JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'probe' }, spec: { vmiName } });
  const result = kubectl(['create', '--dry-run=server', '-o', 'json', '-n', system.ns, '-f', '-'], manifest);
  return result.code === 0 ? (JSON.parse(result.stdout) as VirtualMachineInstanceMigration) : undefined;
}

function transition(vmim: VirtualMachineInstanceMigration | undefined, phase: string): number {
  const at = vmim?.status?.phaseTransitionTimestamps?.find((t) => t.phase === phase)?.phaseTransitionTimestamp;
  if (!at) throw new Error(`${vmim?.metadata.name} never reached ${phase}`);
  return Date.parse(at);
}

describe('a kubevirt-config written for KubeVirt', () => {
  it('is in force once stored: migrations are stamped with its quoted values and run one at a time', async () => {
    const [source] = system.nodes;
    for (const name of ['vm-a', 'vm-b']) {
      await createRunningVmi(system, name, { node: source ?? '', memory: '256Mi' });
      await waitEvaluated(system, name);
    }
    await createMigration(system, 'mig-a', 'vm-a');
    await createMigration(system, 'mig-b', 'vm-b');
    const stamped = (await getMigration(system, 'mig-a'))?.spec.migrationConfiguration;
    expect(stamped).toMatchObject({ progressTimeout: 77, maxDowntimeMs: 300, completionTimeoutPerGiB: 800, bandwidthPerMigration: '64Mi', allowPostCopy: false });

    const [a, b] = await eventually('both migrations to succeed', async () => {
      const both = await Promise.all([getMigration(system, 'mig-a'), getMigration(system, 'mig-b')]);
      return both.every((m) => m?.status?.phase === 'Succeeded') ? both : undefined;
    });
    // parallelMigrationsPerCluster "1": the second took its slot only once the first had finished
    // (4 s each at 64Mi/s; with the default of 5 both would have been scheduled at once).
    const [first, second] = transition(a, 'Scheduled') <= transition(b, 'Scheduled') ? [a, b] : [b, a];
    expect(transition(second, 'Scheduled')).toBeGreaterThanOrEqual(transition(first, 'Succeeded'));
  }, 90_000);

  it('applies with kubectl with a warning per key without effect and per unknown key, and is in force', async () => {
    const migrations = `${STORED.replace('progressTimeout: "77"', 'progressTimeout: "88"')}\ndisableTLS: true\nnetwork: migration-net\nmatchSELinuxLevelOnMigration: "true"\nallowWorkloadDisruption: false\nutilityVolumesTimeout: "150"\nparallelMigrationPerCluster: 3\n`;
    const applied = kubectlWithWarnings(['apply', '-f', '-'], configMapManifest(migrations));
    expect(applied.code).toBe(0);
    for (const warning of [
      'data.migrations.nodeDrainTaintKey: accepted, but has no effect here: stored for node drain, which is not implemented yet',
      'data.migrations.unsafeMigrationOverride: accepted, but has no effect here',
      'data.migrations.network: accepted, but has no effect here',
      'data.migrations.matchSELinuxLevelOnMigration: accepted, but has no effect here',
      'data.migrations.allowWorkloadDisruption: accepted, but has no effect here',
      'data.migrations.utilityVolumesTimeout: accepted, but has no effect here',
      'data.migrations.parallelMigrationPerCluster: unknown key, ignored (did you mean parallelMigrationsPerCluster?)',
    ]) {
      expect(applied.stderr).toContain(`Warning: ${warning}`);
    }
    // Honoured (the migration stream runs without TLS), so not among the keys without effect.
    expect(applied.stderr).not.toContain('disableTLS');
    await createRunningVmi(system, 'vm-c', { node: system.nodes[0] ?? '' });
    await waitEvaluated(system, 'vm-c');
    const stamped = await eventually('the new progressTimeout to be stamped', async () => {
      const probe = dryRunMigration('vm-c')?.spec.migrationConfiguration;
      return probe?.progressTimeout === 88 ? probe : undefined;
    }, 15_000, 50);
    expect(stamped).toMatchObject({ maxDowntimeMs: 300, bandwidthPerMigration: '64Mi' });
  }, 60_000);

  it('disableTLS in force: a migration now runs unencrypted and says so with a Warning event on its VMIM; earlier ones did not', async () => {
    await createMigration(system, 'plain', 'vm-c');
    await eventually('plain to succeed', async () => ((await getMigration(system, 'plain'))?.status?.phase === 'Succeeded' ? true : undefined));
    const events = (await system.kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: system.ns })).items;
    const notEncrypted = events.filter((e) => e.reason === 'MigrationNotEncrypted');
    expect(notEncrypted.map((e) => [e.involvedObject.kind, e.involvedObject.name, e.type])).toEqual([['VirtualMachineInstanceMigration', 'plain', 'Warning']]);
    expect(notEncrypted[0]?.message).toContain('kubevirt-config migrations.disableTLS is true');
  }, 60_000);

  it('refuses a bad value of a known key, naming it, and keeps the configuration in force', () => {
    const refused = kubectl(['apply', '-f', '-'], configMapManifest(`${STORED}\nparallelMigrationsPerCluster: "x"`.replace('parallelMigrationsPerCluster: "1"\n', '')));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`ConfigMap ${system.ns}/kubevirt-config is invalid, the configuration in force is unchanged: data.migrations.parallelMigrationsPerCluster: must be a positive integer (got "x")`);
    expect(dryRunMigration('vm-c')?.spec.migrationConfiguration?.progressTimeout).toBe(88);
  });
});
