import { describe, expect, it } from '@jest/globals';
import { validateClusterConfig } from './validate-cluster-config.js';

const location = { namespace: 'kubevirt', name: 'kubevirt-config' };
const configMap = (data: unknown, name = 'kubevirt-config') => ({ metadata: { name, namespace: 'kubevirt' }, data });

describe('validateClusterConfig', () => {
  it('admits the seed configuration', () => {
    const data = { 'feature-gates': 'LiveMigration', migrations: 'bandwidthPerMigration: 64Mi\nprogressTimeout: 150\n' };
    expect(validateClusterConfig(location, 'kubevirt', configMap(data))).toEqual({ allowed: true, reason: 'Admitted' });
  });

  it('refuses a bad migrations block with the key and the reason', () => {
    const decision = validateClusterConfig(location, 'kubevirt', configMap({ migrations: 'parallelMigrationsPerCluster: "x"\ncompletionTimeoutPerGiB: -1' }));
    expect(decision).toMatchObject({ allowed: false, reason: 'ConfigInvalid', code: 422 });
    if (decision.allowed) return;
    expect(decision.message).toMatch(/^ConfigMap kubevirt\/kubevirt-config is invalid, the configuration in force is unchanged: /);
    expect(decision.message).toContain('data.migrations.parallelMigrationsPerCluster: must be a positive integer (got "x")');
    expect(decision.message).toContain('data.migrations.completionTimeoutPerGiB: must be at least 1 (got -1)');
  });

  it('admits a real-world KubeVirt block with warnings naming the keys without effect and the unknown ones', () => {
    const migrations = 'parallelMigrationsPerCluster: "4"\nnodeDrainTaintKey: kubevirt.io/drain\nunsafeMigrationOverride: "true"\nprogressTimeot: 150\n';
    expect(validateClusterConfig(location, 'kubevirt', configMap({ 'feature-gates': 'LiveMigration', migrations }))).toEqual({
      allowed: true,
      reason: 'Admitted',
      warnings: [
        'data.migrations.unsafeMigrationOverride: accepted, but has no effect here: there is no migration-safety check here to override',
        'data.migrations.progressTimeot: unknown key, ignored (did you mean progressTimeout?)',
      ],
    });
  });

  it('admits evictionStrategy (the default for VMIs that set none) and refuses an unknown one, naming the key', () => {
    expect(validateClusterConfig(location, 'kubevirt', configMap({ 'feature-gates': 'LiveMigration', evictionStrategy: 'LiveMigrate' }))).toEqual({ allowed: true, reason: 'Admitted' });
    const decision = validateClusterConfig(location, 'kubevirt', configMap({ evictionStrategy: 'Migrate' }));
    if (decision.allowed) throw new Error('expected a rejection');
    expect(decision.message).toContain('data.evictionStrategy: must be one of None, LiveMigrate, LiveMigrateIfPossible, External (got "Migrate")');
  });

  it('refuses a bad feature-gate list', () => {
    const decision = validateClusterConfig(location, 'kubevirt', configMap({ 'feature-gates': 'LiveMigration,,Snap shot' }));
    if (decision.allowed) throw new Error('expected a rejection');
    expect(decision.message).toContain('data.feature-gates: entry 2 is empty (a stray comma?)');
    expect(decision.message).toContain('"Snap shot" is not a feature gate name');
  });

  it('leaves other ConfigMaps alone', () => {
    expect(validateClusterConfig(location, 'kubevirt', configMap({ migrations: '[' }, 'other')).reason).toBe('NotApplicable');
  });
});
