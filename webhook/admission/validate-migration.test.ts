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
    expect(message(decision)).toBe(
      'Cannot migrate VMI ns/vm1: the LiveMigration feature gate is not enabled. To enable it, add LiveMigration ' +
        'to the comma-separated list in data.feature-gates of ConfigMap kubevirt/kubevirt-config.',
    );
  });

  it('says when the stored ConfigMap is invalid and an older one without the gate is in force', () => {
    const decision = decide({ config: { location, config: defaultClusterConfig(), problem: 'migrations: is not valid YAML' } });
    expect(message(decision)).toMatch(/feature gate is not enabled\..*\(The ConfigMap as stored now is invalid and not in force: migrations: is not valid YAML\)$/);
  });

  it('fails closed when no valid configuration is known', () => {
    const decision = decide({ config: { location, config: undefined, problem: 'migrations.progressTimeout: must be at least 1 (got 0)' } });
    expect(decision.reason).toBe('ConfigInvalid');
    expect(message(decision)).toContain('progressTimeout');
  });

  it('refuses an object without spec.vmiName, naming the field', () => {
    const decision = decide({ object: vmim({}) });
    expect(decision.reason).toBe('SchemaInvalid');
    expect(message(decision)).toBe('Cannot migrate VMI ns/<no spec.vmiName>: the migration is invalid: spec.vmiName: is required');
  });

  it('refuses a per-migration value that fails the CRD schema', () => {
    const decision = decide({ object: vmim({ vmiName: 'vm1', migrationConfiguration: { progressTimeout: 0 } }) });
    expect(message(decision)).toBe(
      'Cannot migrate VMI ns/vm1: the migration is invalid: spec.migrationConfiguration.progressTimeout: must be at least 1 (got 0)',
    );
  });

  it('reserves spec.priority to the system service account', () => {
    const object = vmim({ vmiName: 'vm1', priority: 'system-critical' });
    expect(message(decide({ object }))).toContain('spec.priority is reserved to the system');
    expect(decide({ object, userInfo: { username: SYSTEM } }).allowed).toBe(true);
  });

  it('refuses addedNodeSelector keys and values that are not label syntax', () => {
    const decision = decide({ object: vmim({ vmiName: 'vm1', addedNodeSelector: { 'bad key': 'x', zone: 'no/slash' } }) });
    expect(decision.reason).toBe('NodeSelectorInvalid');
    expect(message(decision)).toMatch(/^Cannot migrate VMI ns\/vm1: spec.addedNodeSelector is not valid label syntax: key "bad key".*value "no\/slash" of "zone"/);
    expect(decide({ object: vmim({ vmiName: 'vm1', addedNodeSelector: { 'topology.kubernetes.io/zone': 'eu-1a', empty: '' } }) }).allowed).toBe(true);
  });

  it('refuses a VMI that does not exist', () => {
    expect(message(decide({ vmi: undefined }))).toBe(
      'Cannot migrate VMI ns/vm1: virtualmachineinstances.kubevirt.io "vm1" not found in namespace ns',
    );
  });

  it('refuses a finished VMI and one that is not running', () => {
    const vmi = runningVmi();
    expect(decide({ vmi: { ...vmi, status: { ...vmi.status, phase: 'Succeeded' } } }).reason).toBe('VMIFinal');
    const pending = decide({ vmi: { ...vmi, status: { ...vmi.status, phase: 'Scheduling' } } });
    expect(message(pending)).toBe('Cannot migrate VMI ns/vm1 that is not in phase Running, current phase is Scheduling');
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
    expect(message(decide({ vmi }))).toBe(
      'Cannot migrate VMI ns/vm1, Reason: DisksNotLiveMigratable, Message: PVC disk0 is not shared, live migration ' +
        'requires that all PVCs must be shared (using ReadWriteMany access mode)',
    );
  });

  it('says the VMI has not been evaluated when the condition is absent', () => {
    const decision = decide({ vmi: runningVmi([]) });
    expect(decision.reason).toBe('VMINotEvaluated');
    expect(message(decision)).toContain('has not been evaluated for live migration yet');
  });

  it('names the migration already in flight for the VMI', () => {
    const other = (phase?: 'Running' | 'Succeeded'): VirtualMachineInstanceMigration => ({
      metadata: { name: 'older', namespace: 'ns' },
      spec: { vmiName: 'vm1' },
      ...(phase ? { status: { phase } } : {}),
    });
    expect(message(decide({ migrationsOfVmi: [other('Running')] }))).toBe(
      'Cannot migrate VMI ns/vm1: in-flight migration detected. Active migration job (older) is currently already in progress for VMI ns/vm1',
    );
    expect(decide({ migrationsOfVmi: [other()] }).reason).toBe('MigrationInFlight');
    expect(decide({ migrationsOfVmi: [other('Succeeded')] }).allowed).toBe(true);
  });

  it('treats a migration the VMI reports as unfinished as in flight', () => {
    const vmi = runningVmi();
    vmi.status = { ...vmi.status, migrationState: { migrationUid: 'u-1', completed: false } };
    expect(message(decide({ vmi }))).toContain('Active migration job (uid u-1)');
  });
});
