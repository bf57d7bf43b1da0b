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
      ['wrong type', 'progressTimeout: soon', 'migrations.progressTimeout: must be a positive integer (got "soon")'],
      ['quoted non-number', 'parallelMigrationsPerCluster: "x"', 'migrations.parallelMigrationsPerCluster: must be a positive integer (got "x")'],
      ['quoted fraction', 'completionTimeoutPerGiB: "1.5"', 'migrations.completionTimeoutPerGiB: must be a positive integer (got "1.5")'],
      ['quoted zero', 'progressTimeout: "0"', 'migrations.progressTimeout: must be at least 1 (got 0)'],
      ['quoted non-boolean', 'allowPostCopy: "maybe"', 'migrations.allowPostCopy: must be true or false (got "maybe")'],
      ['KubeVirt key, wrong type', 'unsafeMigrationOverride: "sure"', 'migrations.unsafeMigrationOverride: must be true or false (got "sure")'],
      ['KubeVirt key, wrong type', 'network: [a]', 'migrations.network: must be a string (got ["a"])'],
      ['maxDowntimeMs beyond KubeVirt\'s bound', 'maxDowntimeMs: 2000001', 'migrations.maxDowntimeMs: must be at most 2000000 (got 2000001)'],
      ['maxDowntimeMs zero', 'maxDowntimeMs: "0"', 'migrations.maxDowntimeMs: must be at least 1 (got 0)'],
      ['taint key with spaces', 'nodeDrainTaintKey: "kubevirt.io/dr ain"', 'migrations.nodeDrainTaintKey: is not a taint key: "dr ain" must be 1-63 letters'],
      ['taint key prefix', 'nodeDrainTaintKey: "KubeVirt.IO/drain"', 'migrations.nodeDrainTaintKey: is not a taint key: prefix "KubeVirt.IO" must be a DNS subdomain'],
      ['huge exponent, quoted', 'bandwidthPerMigration: "1e300000000"', 'migrations.bandwidthPerMigration: must be a non-negative Kubernetes quantity such as 64Mi or 1Gi (got "1e300000000")'],
      ['huge exponent, a YAML float', 'bandwidthPerMigration: 1e300000000', 'migrations.bandwidthPerMigration: must be a non-negative Kubernetes quantity such as 64Mi or 1Gi (got Infinity)'],
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
      expect(message).toContain('migrations.parallelMigrationsPerCluster: must be a positive integer (got "x")');
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

// kubevirt-config as KubeVirt wrote it. v0.31–v0.47 read the block with Go `,string` tags, so numbers
// and booleans had to be quoted; these are the forms of KubeVirt's user guide and its own tests.
const USER_GUIDE_QUOTED = [
  'parallelMigrationsPerCluster: "5"',
  'parallelOutboundMigrationsPerNode: "2"',
  'bandwidthPerMigration: "64Mi"',
  'completionTimeoutPerGiB: "800"',
  'progressTimeout: "150"',
].join('\n');
// pkg/virt-config config_test.go (v0.43): JSON, quoted numbers and booleans.
const KUBEVIRT_TEST_JSON =
  '{"parallelOutboundMigrationsPerNode" : "10", "parallelMigrationsPerCluster": "20", "bandwidthPerMigration": "110Mi", "progressTimeout" : "5", "completionTimeoutPerGiB": "5", "unsafeMigrationOverride": "true", "allowAutoConverge": "true"}';
// Every key KubeVirt ever had under `migrations` (v0.16 … v1.9), in the types of its newest API.
const EVERY_KUBEVIRT_KEY = [
  'nodeDrainTaintKey: example.com/drain',
  'parallelOutboundMigrationsPerNode: 3',
  'parallelMigrationsPerCluster: 4',
  'allowAutoConverge: true',
  'bandwidthPerMigration: 0',
  'completionTimeoutPerGiB: 150',
  'maxDowntimeMs: 300',
  'progressTimeout: 77',
  'utilityVolumesTimeout: 150',
  'unsafeMigrationOverride: false',
  'allowPostCopy: false',
  'allowWorkloadDisruption: false',
  'disableTLS: true',
  'network: migration-net',
  'matchSELinuxLevelOnMigration: true',
].join('\n');

function accepted(migrations: string) {
  const result = parseClusterConfig({ 'feature-gates': 'LiveMigration', migrations });
  if (!result.ok) throw new Error(`expected the config to be accepted: ${result.message}`);
  return result;
}

describe('kubevirt-config as KubeVirt wrote it', () => {
  it("reads the user guide's quoted block to the same values as the unquoted one", () => {
    expect(accepted(USER_GUIDE_QUOTED)).toEqual(parseClusterConfig(SEED_WITH_MIGRATIONS));
  });

  it("reads KubeVirt's own JSON form with quoted numbers and booleans", () => {
    const { config, warnings } = accepted(KUBEVIRT_TEST_JSON);
    expect(config.migrations).toMatchObject({
      parallelOutboundMigrationsPerNode: 10,
      parallelMigrationsPerCluster: 20,
      bandwidthPerMigration: '110Mi',
      progressTimeout: 5,
      completionTimeoutPerGiB: 5,
      allowAutoConverge: true,
    });
    expect(config.bandwidthBytesPerSecond).toBe(110 * 2 ** 20);
    expect(warnings).toEqual([{ path: 'migrations.unsafeMigrationOverride', reason: 'accepted, but has no effect here: there is no migration-safety check here to override' }]);
  });

  it('accepts every key KubeVirt ever had; those we implement are honoured, the others warned about', () => {
    const { config, warnings } = accepted(EVERY_KUBEVIRT_KEY);
    expect(config.migrations).toMatchObject({
      nodeDrainTaintKey: 'example.com/drain',
      parallelOutboundMigrationsPerNode: 3,
      parallelMigrationsPerCluster: 4,
      allowAutoConverge: true,
      bandwidthPerMigration: 0,
      completionTimeoutPerGiB: 150,
      maxDowntimeMs: 300,
      progressTimeout: 77,
      allowPostCopy: false,
      disableTLS: true,
    });
    // Keys without effect are not carried in the typed configuration.
    expect(config.migrations).not.toHaveProperty('network');
    expect(warnings.map((w) => w.path)).toEqual([
      'migrations.nodeDrainTaintKey',
      'migrations.utilityVolumesTimeout',
      'migrations.unsafeMigrationOverride',
      'migrations.allowWorkloadDisruption',
      'migrations.network',
      'migrations.matchSELinuxLevelOnMigration',
    ]);
    expect(warnings.find((w) => w.path === 'migrations.nodeDrainTaintKey')?.reason).toContain('node drain, which is not implemented yet');
    // disableTLS is honoured (the migration stream runs without TLS), so no "no effect" warning.
    expect(warnings.find((w) => w.path === 'migrations.disableTLS')).toBeUndefined();
  });

  it('reads the YAML 1.1 and quoted booleans KubeVirt read', () => {
    const { config } = accepted('allowAutoConverge: "true"\nallowPostCopy: yes\ndisableTLS: "off"');
    expect(config.migrations).toMatchObject({ allowAutoConverge: true, allowPostCopy: true, disableTLS: false });
  });

  it('has KubeVirt defaults for maxDowntimeMs and nodeDrainTaintKey, and warns about nothing by default', () => {
    const result = parseClusterConfig({ 'feature-gates': 'LiveMigration' });
    expect(result).toMatchObject({ ok: true, warnings: [], config: { migrations: { maxDowntimeMs: 900, nodeDrainTaintKey: 'kubevirt.io/drain', disableTLS: false } } });
  });

  it('warns about a key nobody knows instead of refusing it, with the key it resembles', () => {
    const { config, warnings } = accepted('parallelMigrationPerCluster: 3\nprogressTimeout: "40"\nsomethingNew: {a: 1}');
    expect(config.migrations.parallelMigrationsPerCluster).toBe(5);
    expect(config.migrations.progressTimeout).toBe(40);
    expect(warnings).toEqual([
      { path: 'migrations.parallelMigrationPerCluster', reason: 'unknown key, ignored (did you mean parallelMigrationsPerCluster?)' },
      { path: 'migrations.somethingNew', reason: 'unknown key, ignored' },
    ]);
  });
});
