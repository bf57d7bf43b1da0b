import { describe, expect, it } from '@jest/globals';
import { defaultClusterConfig, parseClusterConfig } from './cluster-config.js';

// The seed's two ConfigMaps (KubeVirt user guide, "Live Migration").
const SEED_GATES_ONLY = { 'feature-gates': 'LiveMigration' };
const SEED_WITH_MIGRATIONS = {
  'feature-gates': 'LiveMigration',
  migrations: [
    'parallelMigrationsPerCluster: 5',
    'parallelOutboundMigrationsPerNode: 2',
    'bandwidthPerMigration: 64Mi',
    'completionTimeoutPerGiB: 800',
    'progressTimeout: 150',
  ].join('\n'),
};

function issuesOf(data: Record<string, string>): string {
  const result = parseClusterConfig(data);
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.message;
}

describe('parseClusterConfig', () => {
  it('reads the seed ConfigMap with feature gates only, with the seed defaults', () => {
    const result = parseClusterConfig(SEED_GATES_ONLY);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.liveMigrationEnabled).toBe(true);
    expect(result.config.migrations).toMatchObject({
      parallelMigrationsPerCluster: 5,
      parallelOutboundMigrationsPerNode: 2,
      parallelInboundMigrationsPerNode: 2,
      bandwidthPerMigration: '64Mi',
      completionTimeoutPerGiB: 800,
      progressTimeout: 150,
      finishedMigrationsPerVMI: 5,
    });
    expect(result.config.bandwidthBytesPerSecond).toBe(64 * 1024 * 1024);
  });

  it('reads the seed ConfigMap with a migrations block to the same values', () => {
    const withBlock = parseClusterConfig(SEED_WITH_MIGRATIONS);
    const gatesOnly = parseClusterConfig(SEED_GATES_ONLY);
    expect(withBlock).toEqual(gatesOnly);
  });

  it('applies values from the migrations block', () => {
    const result = parseClusterConfig({
      'feature-gates': 'DataVolumes, LiveMigration',
      migrations: 'parallelMigrationsPerCluster: 1\nbandwidthPerMigration: 500M\nprogressTimeout: 30\nparallelInboundMigrationsPerNode: 4',
    });
    expect(result.ok && result.config).toMatchObject({
      featureGates: ['DataVolumes', 'LiveMigration'],
      liveMigrationEnabled: true,
      bandwidthBytesPerSecond: 500_000_000,
      migrations: { parallelMigrationsPerCluster: 1, progressTimeout: 30, parallelInboundMigrationsPerNode: 4 },
    });
  });

  it('treats a missing ConfigMap as defaults with LiveMigration off', () => {
    const config = defaultClusterConfig();
    expect(config.liveMigrationEnabled).toBe(false);
    expect(config.featureGates).toEqual([]);
    expect(config.migrations.parallelMigrationsPerCluster).toBe(5);
  });

  it('takes bandwidth 0 as unlimited and a bare number as bytes', () => {
    expect(parseClusterConfig({ migrations: 'bandwidthPerMigration: 0' })).toMatchObject({ ok: true, config: { bandwidthBytesPerSecond: 0 } });
    expect(parseClusterConfig({ migrations: 'bandwidthPerMigration: 1048576' })).toMatchObject({ ok: true, config: { bandwidthBytesPerSecond: 1048576 } });
  });

  it('ignores keys of the ConfigMap that belong to other components', () => {
    expect(parseClusterConfig({ 'feature-gates': 'LiveMigration', 'selinuxLauncherType': 'spc_t' }).ok).toBe(true);
  });

  describe('bad input names the key and the reason', () => {
    it.each([
      ['unknown key', 'parallelMigrationPerCluster: 3', 'migrations.parallelMigrationPerCluster: is not a known key (known keys: parallelMigrationsPerCluster'],
      ['wrong type', 'progressTimeout: soon', 'migrations.progressTimeout: must be an integer (got "soon")'],
      ['string number', 'completionTimeoutPerGiB: "800"', 'migrations.completionTimeoutPerGiB: must be an integer (got "800")'],
      ['negative limit', 'parallelMigrationsPerCluster: -1', 'migrations.parallelMigrationsPerCluster: must be at least 1 (got -1)'],
      ['zero limit', 'parallelOutboundMigrationsPerNode: 0', 'migrations.parallelOutboundMigrationsPerNode: must be at least 1 (got 0)'],
      ['zero timeout', 'progressTimeout: 0', 'migrations.progressTimeout: must be at least 1 (got 0)'],
      ['fractional limit', 'parallelMigrationsPerCluster: 2.5', 'migrations.parallelMigrationsPerCluster: must be an integer (got 2.5)'],
      ['unparsable quantity', 'bandwidthPerMigration: 64MB', 'migrations.bandwidthPerMigration: must be a non-negative Kubernetes quantity such as 64Mi or 1Gi (got "64MB")'],
      ['negative quantity', 'bandwidthPerMigration: -64Mi', 'migrations.bandwidthPerMigration: must be a non-negative Kubernetes quantity'],
      ['fractional bytes', 'bandwidthPerMigration: 100m', 'migrations.bandwidthPerMigration: "100m" is not a whole number of bytes'],
      ['broken YAML', 'parallelMigrationsPerCluster: [1', 'migrations: is not valid YAML'],
      ['duplicate key', 'progressTimeout: 1\nprogressTimeout: 2', 'migrations: is not valid YAML: Map keys must be unique'],
      ['a list, not a mapping', '- 1\n- 2', 'migrations: must be a YAML mapping of keys to values'],
      ['a scalar', 'fast', 'migrations: must be a YAML mapping of keys to values'],
    ])('%s', (_kind, block, expected) => {
      expect(issuesOf({ 'feature-gates': 'LiveMigration', migrations: block })).toContain(expected);
    });

    it('reports every problem at once', () => {
      const message = issuesOf({ migrations: 'progressTimeout: -5\nparallelMigrationsPerCluster: x' });
      expect(message).toContain('migrations.progressTimeout: must be at least 1');
      expect(message).toContain('migrations.parallelMigrationsPerCluster: must be an integer');
    });

    it.each([
      ['LiveMigration,,DataVolumes', 'feature-gates: entry 2 is empty'],
      ['LiveMigration,Data Volumes', 'feature-gates: "Data Volumes" is not a feature gate name'],
      ['Live-Migration', 'feature-gates: "Live-Migration" is not a feature gate name'],
    ])('feature gates %j', (gates, expected) => {
      expect(issuesOf({ 'feature-gates': gates })).toContain(expected);
    });
  });
});
