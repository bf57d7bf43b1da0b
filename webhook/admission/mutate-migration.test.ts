import { describe, expect, it } from '@jest/globals';
import { parseClusterConfig, type ClusterConfig } from '../../api/cluster-config.js';
import { applyPatch } from './json-patch.js';
import { MIGRATION_FINALIZER, mutateMigrationCreate } from './mutate-migration.js';

function cluster(migrations = ''): ClusterConfig {
  const result = parseClusterConfig({ 'feature-gates': 'LiveMigration', migrations });
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

function mutate(object: Record<string, unknown>, config = cluster()): Record<string, unknown> {
  const decision = mutateMigrationCreate('ns', object, config);
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

  it('lets values the user set win over the cluster and keeps their other fields', () => {
    const object = { ...base, spec: { vmiName: 'vm1', migrationConfiguration: { progressTimeout: 9, allowPostCopy: true } } };
    const stamped = (mutate(object, cluster('progressTimeout: 30')).spec as Record<string, Record<string, unknown>>).migrationConfiguration;
    expect(stamped).toMatchObject({ progressTimeout: 9, allowPostCopy: true, bandwidthPerMigration: '64Mi' });
  });

  it('appends to existing labels and finalizers instead of replacing the lists', () => {
    const object = { ...base, metadata: { name: 'm', labels: { team: 'a' }, finalizers: ['example.com/keep'] } };
    const decision = mutateMigrationCreate('ns', object, cluster());
    if (!decision.allowed) throw new Error(decision.message);
    expect(decision.patch).toContainEqual({ op: 'add', path: '/metadata/finalizers/-', value: MIGRATION_FINALIZER });
    expect(decision.patch).toContainEqual({ op: 'add', path: '/metadata/labels/kubevirt.io~1vmi-name', value: 'vm1' });
    expect(decision.patch?.some((op) => op.op !== 'add')).toBe(false);
  });

  it('is idempotent: a second pass changes nothing', () => {
    const once = mutate(base);
    const decision = mutateMigrationCreate('ns', once, cluster('progressTimeout: 1'));
    expect(decision).toEqual({ allowed: true, reason: 'Admitted' });
  });

  it('refuses an object that fails the schema, naming the VMI', () => {
    const decision = mutateMigrationCreate('ns', { ...base, spec: { vmiName: 'vm1', migrationConfiguration: 'fast' } }, cluster());
    expect(decision).toMatchObject({ allowed: false, reason: 'SchemaInvalid' });
  });
});
