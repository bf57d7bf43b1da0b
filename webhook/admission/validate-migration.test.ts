import { describe, expect, it } from '@jest/globals';
import { defaultClusterConfig, parseClusterConfig, type ClusterConfig } from '../../api/cluster-config.js';
import type { Condition } from '../../api/schemas/migration-state.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { validateMigrationCreate, type MigrationCreateInput } from './validate-migration.js';
import type { Decision } from './types.js';

const SYSTEM = 'system:serviceaccount:live-migration:live-migration-controller';
const location = { namespace: 'kubevirt', name: 'kubevirt-config' };

function enabled(): ClusterConfig {
  const result = parseClusterConfig({ 'feature-gates': 'LiveMigration' });
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

function runningVmi(conditions: Condition[] = [{ type: 'LiveMigratable', status: 'True' }]): VirtualMachineInstance {
  return { metadata: { name: 'vm1', namespace: 'ns' }, status: { phase: 'Running', nodeName: 'node-a', conditions } };
}

function vmim(spec: Record<string, unknown> = { vmiName: 'vm1' }, name = 'mig1'): unknown {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name, namespace: 'ns' }, spec };
}

function decide(overrides: Partial<MigrationCreateInput> = {}): Decision {
  return validateMigrationCreate({
    namespace: 'ns',
    userInfo: { username: 'alice' },
    object: vmim(),
    config: { location, config: enabled() },
    vmi: runningVmi(),
    migrationsOfVmi: [],
    systemServiceAccount: SYSTEM,
    ...overrides,
  });
}

function message(decision: Decision): string {
  if (decision.allowed) throw new Error(`expected a rejection, got ${decision.reason}`);
  return decision.message;
}

describe('validateMigrationCreate', () => {
  it('admits a migration of a running, live-migratable VMI', () => {
    expect(decide()).toEqual({ allowed: true, reason: 'Admitted' });
  });

  it('refuses when the LiveMigration gate is off and says how to enable it', () => {
    const decision = decide({ config: { location, config: defaultClusterConfig() } });
    expect(decision.reason).toBe('FeatureGateDisabled');
    expect(decision).toMatchObject({ code: 400 });
    expect(message(decision)).toBe(
      'LiveMigration feature gate is not enabled in kubevirt-config: cannot migrate VMI ns/vm1. To enable it, add LiveMigration ' +
        'to the comma-separated list in data.feature-gates of ConfigMap kubevirt/kubevirt-config.',
    );
  });

  it('says when the stored ConfigMap is invalid and an older one without the gate is in force', () => {
    const decision = decide({ config: { location, config: defaultClusterConfig(), problem: 'migrations: is not valid YAML' } });
    expect(message(decision)).toMatch(/^LiveMigration feature gate is not enabled in kubevirt-config: .*\(The ConfigMap as stored now is invalid and not in force: migrations: is not valid YAML\)$/);
  });

  it('fails closed when no valid configuration is known', () => {
    const decision = decide({ config: { location, config: undefined, problem: 'migrations.progressTimeout: must be at least 1 (got 0)' } });
    expect(decision.reason).toBe('ConfigInvalid');
    expect(message(decision)).toContain('progressTimeout');
  });

  it("refuses an object without spec.vmiName with KubeVirt's 422 cause on spec.vmiName", () => {
    const cause = { reason: 'FieldValueRequired', message: 'vmiName is missing', field: 'spec.vmiName' };
    for (const spec of [{}, { vmiName: '' }]) {
      expect(decide({ object: vmim(spec) })).toEqual({
        allowed: false,
        reason: 'SchemaInvalid',
        code: 422,
        message: "vmiName is missing: spec.vmiName must name the VMI to migrate, in the migration's namespace",
        causes: [cause],
      });
    }
    const alsoBad = decide({ object: vmim({ migrationConfiguration: { progressTimeout: 0 } }) });
    expect(alsoBad).toMatchObject({ causes: [cause, { field: 'spec.migrationConfiguration.progressTimeout' }] });
    expect(message(alsoBad)).toMatch(/^vmiName is missing: .*; also spec.migrationConfiguration.progressTimeout: must be at least 1 \(got 0\)$/);
  });

  it('refuses a per-migration value that fails the CRD schema', () => {
    const decision = decide({ object: vmim({ vmiName: 'vm1', migrationConfiguration: { progressTimeout: 0 } }) });
    expect(message(decision)).toBe(
      'Cannot migrate VMI ns/vm1: the migration is invalid: spec.migrationConfiguration.progressTimeout: must be at least 1 (got 0)',
    );
    expect(decision).toMatchObject({ code: 422, causes: [{ reason: 'FieldValueInvalid', field: 'spec.migrationConfiguration.progressTimeout', message: 'must be at least 1 (got 0)' }] });
  });

  it('reserves spec.priority to the system service account', () => {
    const object = vmim({ vmiName: 'vm1', priority: 'system-critical' });
    const refused = decide({ object });
    expect(refused).toMatchObject({
      code: 422,
      causes: [{ reason: 'FieldValueForbidden', field: 'spec.priority', message: 'Migration priority queue, only virt-controller is allowed to set priority field' }],
    });
    expect(message(refused)).toMatch(/^Migration priority queue, only virt-controller is allowed to set priority field: spec.priority of the migration of VMI ns\/vm1 is reserved to the system/);
    expect(decide({ object, userInfo: { username: SYSTEM } }).allowed).toBe(true);
  });

  it('refuses addedNodeSelector keys and values that are not label syntax', () => {
    const decision = decide({ object: vmim({ vmiName: 'vm1', addedNodeSelector: { 'bad key': 'x', zone: 'no/slash' } }) });
    expect(decision).toMatchObject({ reason: 'NodeSelectorInvalid', code: 422, causes: [{ field: 'spec.addedNodeSelector[bad key]' }, { field: 'spec.addedNodeSelector[zone]' }] });
    expect(message(decision)).toMatch(/^Cannot migrate VMI ns\/vm1: spec.addedNodeSelector is not valid label syntax: key "bad key".*value "no\/slash" of "zone"/);
    expect(decide({ object: vmim({ vmiName: 'vm1', addedNodeSelector: { 'topology.kubernetes.io/zone': 'eu-1a', empty: '' } }) }).allowed).toBe(true);
  });

  it('refuses a VMI that does not exist (400)', () => {
    expect(decide({ vmi: undefined })).toEqual({ allowed: false, reason: 'VMINotFound', code: 400, message: 'the VMI "ns/vm1" does not exist' });
  });

  it('refuses a finished VMI (400) and admits one that is not running yet: its migration waits', () => {
    const vmi = runningVmi();
    for (const phase of ['Succeeded', 'Failed'] as const) {
      const final = decide({ vmi: { ...vmi, status: { ...vmi.status, phase } } });
      expect(final).toMatchObject({ reason: 'VMIFinal', code: 400 });
      expect(message(final)).toBe(`Cannot migrate VMI in finalized state. VMI ns/vm1 has finished (phase ${phase}); only a VMI that has not finished can be migrated.`);
    }
    for (const phase of [undefined, 'Pending', 'Scheduling', 'Scheduled', 'Unknown'] as const) {
      expect(decide({ vmi: { metadata: vmi.metadata, status: { ...(phase ? { phase } : {}) } } })).toEqual({ allowed: true, reason: 'Admitted' });
    }
  });

  it("quotes the LiveMigratable condition's reason and message", () => {
    const vmi = runningVmi([
      {
        type: 'LiveMigratable',
        status: 'False',
        reason: 'DisksNotLiveMigratable',
        message: 'PVC disk0 is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)',
      },
    ]);
    expect(decide({ vmi })).toMatchObject({ code: 400, reason: 'VMINotMigratable' });
    expect(message(decide({ vmi }))).toBe(
      'Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: PVC disk0 is not shared, live migration ' +
        'requires that all PVCs must be shared (using ReadWriteMany access mode) (VMI ns/vm1)',
    );
  });

  it('admits a VMI not yet evaluated for live migration (no condition, or Unknown): its migration waits', () => {
    expect(decide({ vmi: runningVmi([]) }).allowed).toBe(true);
    expect(decide({ vmi: runningVmi([{ type: 'LiveMigratable', status: 'Unknown' }]) }).allowed).toBe(true);
  });

  it('names the migration already in flight for the VMI', () => {
    const other = (phase?: 'Running' | 'Succeeded'): VirtualMachineInstanceMigration => ({
      metadata: { name: 'older', namespace: 'ns', uid: 'uid-older' },
      spec: { vmiName: 'vm1' },
      ...(phase ? { status: { phase } } : {}),
    });
    const refused = decide({ migrationsOfVmi: [other('Running')] });
    expect(refused).toMatchObject({ code: 400, reason: 'MigrationInFlight' });
    expect(message(refused)).toBe(
      'in-flight migration detected. Active migration job (uid-older) is currently already in progress for VMI vm1. ' +
        'It is migration ns/older (phase Running) of VMI ns/vm1: wait until it ends, or delete it to cancel it.',
    );
    expect(message(decide({ migrationsOfVmi: [other()] }))).toContain('It is migration ns/older (phase not started yet)');
    expect(decide({ migrationsOfVmi: [other('Succeeded')] }).allowed).toBe(true);
  });

  it('treats a migration the VMI reports as unfinished as in flight', () => {
    const vmi = runningVmi();
    vmi.status = { ...vmi.status, migrationState: { migrationUid: 'u-1', completed: false } };
    expect(message(decide({ vmi }))).toBe(
      'in-flight migration detected. Active migration job (u-1) is currently already in progress for VMI vm1. The status.migrationState of VMI ns/vm1 shows it unfinished.',
    );
  });
});
