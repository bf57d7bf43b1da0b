import { describe, expect, it } from '@jest/globals';
import { parseClusterConfig, type ClusterConfig } from '../../api/cluster-config.js';
import { applyPatch } from './json-patch.js';
import { POLICY_ANNOTATION } from '../../api/migration-configuration.js';
import type { MigrationPolicy } from '../../api/schemas/migration-policy.js';
import { MIGRATION_FINALIZER, mutateMigrationCreate, mutateMigrationUpdate } from './mutate-migration.js';

function cluster(migrations = ''): ClusterConfig {
  const result = parseClusterConfig({ 'feature-gates': 'LiveMigration', migrations });
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

function create(object: unknown, config: ClusterConfig | undefined, privileged = true, policy?: MigrationPolicy) {
  return mutateMigrationCreate({ namespace: 'ns', object, cluster: config, privileged, policy });
}

function mutate(object: Record<string, unknown>, config = cluster(), privileged = true, policy?: MigrationPolicy): Record<string, unknown> {
  const decision = create(object, config, privileged, policy);
  if (!decision.allowed) throw new Error(decision.message);
  return applyPatch(object, decision.patch ?? []);
}

const base = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'm', namespace: 'ns' }, spec: { vmiName: 'vm1' } };

describe('mutateMigrationCreate', () => {
  it('adds the label, the finalizer and the whole effective configuration', () => {
    const result = mutate(base, cluster('bandwidthPerMigration: 128Mi\nprogressTimeout: 30'));
    expect(result.metadata).toEqual({
      name: 'm',
      namespace: 'ns',
      labels: { 'kubevirt.io/vmi-name': 'vm1' },
      finalizers: [MIGRATION_FINALIZER],
      annotations: { [POLICY_ANNOTATION]: '' },
    });
    expect((result.spec as Record<string, unknown>).migrationConfiguration).toEqual({
      bandwidthPerMigration: '128Mi',
      completionTimeoutPerGiB: 800,
      progressTimeout: 30,
      allowAutoConverge: false,
      allowPostCopy: false,
      unschedulableTimeout: 300,
      targetReadyTimeout: 300,
      maxDowntimeMs: 900,
    });
  });

  it('lets values a privileged user set win over the cluster and keeps their other fields', () => {
    const object = { ...base, spec: { vmiName: 'vm1', migrationConfiguration: { progressTimeout: 9, allowPostCopy: true } } };
    const stamped = (mutate(object, cluster('progressTimeout: 30')).spec as Record<string, Record<string, unknown>>).migrationConfiguration;
    expect(stamped).toMatchObject({ progressTimeout: 9, allowPostCopy: true, bandwidthPerMigration: '64Mi' });
  });

  it('appends to existing labels and finalizers instead of replacing the lists', () => {
    const object = { ...base, metadata: { name: 'm', labels: { team: 'a' }, finalizers: ['example.com/keep'] } };
    const decision = create(object, cluster());
    if (!decision.allowed) throw new Error(decision.message);
    expect(decision.patch).toContainEqual({ op: 'add', path: '/metadata/finalizers/-', value: MIGRATION_FINALIZER });
    expect(decision.patch).toContainEqual({ op: 'add', path: '/metadata/labels/kubevirt.io~1vmi-name', value: 'vm1' });
    expect(decision.patch?.some((op) => op.op !== 'add')).toBe(false);
  });

  it('is idempotent: a second pass changes nothing', () => {
    const once = mutate(base);
    const decision = create(once, cluster('progressTimeout: 1'));
    expect(decision).toEqual({ allowed: true, reason: 'Admitted' });
  });

  it('refuses an object that fails the schema, naming the VMI', () => {
    const decision = create({ ...base, spec: { vmiName: 'vm1', migrationConfiguration: 'fast' } }, cluster());
    expect(decision).toMatchObject({ allowed: false, reason: 'SchemaInvalid' });
  });

  it('refuses spec.migrationConfiguration from an ordinary user, pointing to MigrationPolicy', () => {
    const object = { ...base, spec: { vmiName: 'vm1', migrationConfiguration: { bandwidthPerMigration: 0 } } };
    const decision = create(object, cluster(), false);
    expect(decision).toMatchObject({ allowed: false, reason: 'MigrationConfigurationForbidden', code: 422 });
    expect(decision.allowed ? '' : decision.message).toMatch(/^Cannot migrate VMI ns\/vm1: spec.migrationConfiguration is reserved .*MigrationPolicy/);
    expect(create(base, cluster(), false)).toMatchObject({ allowed: true, reason: 'Mutated' });
  });

  it('stamps the keys of the policy that applies over the cluster, and names it', () => {
    const policy: MigrationPolicy = { metadata: { name: 'db' }, spec: { selectors: {}, bandwidthPerMigration: '1Gi', completionTimeoutPerGiB: 3 } };
    const result = mutate(base, cluster('progressTimeout: 30'), false, policy);
    expect((result.spec as Record<string, unknown>).migrationConfiguration).toMatchObject({ bandwidthPerMigration: '1Gi', completionTimeoutPerGiB: 3, progressTimeout: 30 });
    expect((result.metadata as { annotations: unknown }).annotations).toEqual({ [POLICY_ANNOTATION]: 'db' });
    const explicit = { ...base, spec: { vmiName: 'vm1', migrationConfiguration: { completionTimeoutPerGiB: 9 } } };
    expect((mutate(explicit, cluster(), true, policy).spec as Record<string, Record<string, unknown>>).migrationConfiguration).toMatchObject({ completionTimeoutPerGiB: 9, bandwidthPerMigration: '1Gi' });
  });

  it('overwrites a policy annotation the user set, and drops it when nothing is stamped', () => {
    const forged = { ...base, metadata: { name: 'm', annotations: { [POLICY_ANNOTATION]: 'fast', keep: 'x' } } };
    expect((mutate(forged).metadata as { annotations: unknown }).annotations).toEqual({ [POLICY_ANNOTATION]: '', keep: 'x' });
    const decision = create(forged, undefined);
    if (!decision.allowed) throw new Error(decision.message);
    expect((applyPatch(forged, decision.patch ?? []).metadata as { annotations: unknown }).annotations).toEqual({ keep: 'x' });
  });
});

describe('mutateMigrationUpdate', () => {
  const stamped = mutate(base);
  const update = (object: unknown) => {
    const decision = mutateMigrationUpdate(object, stamped);
    if (!decision.allowed) throw new Error(decision.message);
    return applyPatch(object, decision.patch ?? []);
  };

  it('puts back spec.migrationConfiguration a client dropped', () => {
    const dropped = { ...stamped, spec: { vmiName: 'vm1' } };
    expect(update(dropped)).toEqual(stamped);
  });

  it('changes nothing when the field is there (changed values are for validation to refuse)', () => {
    const changed = { ...stamped, spec: { vmiName: 'vm1', migrationConfiguration: { progressTimeout: 1 } } };
    expect(mutateMigrationUpdate(changed, stamped)).toEqual({ allowed: true, reason: 'Admitted' });
  });

  it('keeps the policy annotation as it was, whatever the update says', () => {
    const meta = stamped.metadata as Record<string, unknown>;
    expect(update({ ...stamped, metadata: { ...meta, annotations: { [POLICY_ANNOTATION]: 'forged' } } })).toEqual(stamped);
    expect(update({ ...stamped, metadata: { ...meta, annotations: {} } })).toEqual(stamped);
    const unstamped = { ...base, metadata: { name: 'm' } };
    const decision = mutateMigrationUpdate({ ...unstamped, metadata: { name: 'm', annotations: { [POLICY_ANNOTATION]: 'x' } } }, unstamped);
    expect(decision).toMatchObject({ allowed: true, patch: [{ op: 'remove', path: `/metadata/annotations/${POLICY_ANNOTATION.replace('/', '~1')}` }] });
  });
});
