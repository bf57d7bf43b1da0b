// Turns the kubevirt-config ConfigMap into a typed, validated cluster configuration.
// Never throws: every problem comes back as an issue naming the key and the reason, every key
// accepted without effect (or unknown) as a warning.
import { parseQuantity, QuantityError } from './quantity.js';
import { formatIssues, type SchemaIssue } from './validation.js';
import { MIGRATION_DEFAULTS, type MigrationConfiguration } from './schemas/migration-config.js';
import { MIGRATIONS_KEY, parseMigrationsBlock } from './migrations-block.js';

export interface ClusterConfigLocation {
  namespace: string;
  name: string;
}

export const DEFAULT_CONFIG_LOCATION: ClusterConfigLocation = { namespace: 'kubevirt', name: 'kubevirt-config' };

export const LIVE_MIGRATION_GATE = 'LiveMigration';
const FEATURE_GATES_KEY = 'feature-gates';
const FEATURE_GATE_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/** The `migrations` block with every default filled in. */
export interface ClusterMigrations extends MigrationConfiguration {
  parallelMigrationsPerCluster: number;
  parallelOutboundMigrationsPerNode: number;
  parallelInboundMigrationsPerNode: number;
  finishedMigrationsPerVMI: number;
  /** The taint that marks a node to be drained; kept for node drain, which is not built yet. */
  nodeDrainTaintKey: string;
  /** KubeVirt's switch: true runs QEMU's migration stream without TLS (read when a migration starts; a Warning event each time). */
  disableTLS: boolean;
}

export interface ClusterConfig {
  featureGates: string[];
  liveMigrationEnabled: boolean;
  migrations: ClusterMigrations;
  /** bandwidthPerMigration in bytes per second; 0 means unlimited. */
  bandwidthBytesPerSecond: number;
}

export type ClusterConfigResult =
  /** warnings: keys accepted without effect, and unknown keys (boundWarnings formats them). */
  | { ok: true; config: ClusterConfig; warnings: SchemaIssue[] }
  | { ok: false; issues: SchemaIssue[]; message: string };

/** The configuration in force when the ConfigMap does not exist: defaults, no feature gates. */
export function defaultClusterConfig(): ClusterConfig {
  const result = parseClusterConfig({});
  if (!result.ok) throw new Error(`built-in defaults are invalid: ${result.message}`);
  return result.config;
}

export function parseFeatureGates(raw: string | undefined): { gates: string[]; issues: SchemaIssue[] } {
  const issues: SchemaIssue[] = [];
  if (raw === undefined || raw.trim() === '') return { gates: [], issues };
  const gates: string[] = [];
  raw.split(',').forEach((entry, index) => {
    const gate = entry.trim();
    if (gate === '') {
      issues.push({ path: FEATURE_GATES_KEY, reason: `entry ${index + 1} is empty (a stray comma?)` });
    } else if (!FEATURE_GATE_NAME.test(gate)) {
      issues.push({ path: FEATURE_GATES_KEY, reason: `"${gate}" is not a feature gate name (letters and digits, starting with a letter)` });
    } else if (!gates.includes(gate)) {
      gates.push(gate);
    }
  });
  return { gates, issues };
}

/**
 * Parses a ConfigMap's `data`. Keys other than feature-gates and migrations belong to others and
 * are ignored; inside `migrations`, see migrations-block.ts for what is accepted.
 */
export function parseClusterConfig(data: Record<string, string> | undefined): ClusterConfigResult {
  const featureGates = parseFeatureGates(data?.[FEATURE_GATES_KEY]);
  const migrationsBlock = parseMigrationsBlock(data?.[MIGRATIONS_KEY]);
  const issues = [...featureGates.issues, ...migrationsBlock.issues];
  const migrations: ClusterMigrations = { ...MIGRATION_DEFAULTS, ...(migrationsBlock.values as Partial<ClusterMigrations>) };

  let bandwidthBytesPerSecond = 0;
  try {
    bandwidthBytesPerSecond = parseQuantity(migrations.bandwidthPerMigration);
  } catch (error) {
    if (!(error instanceof QuantityError)) throw error;
    issues.push({ path: `${MIGRATIONS_KEY}.bandwidthPerMigration`, reason: error.message });
  }

  if (issues.length > 0) return { ok: false, issues, message: formatIssues(issues) };
  return {
    ok: true,
    warnings: migrationsBlock.warnings,
    config: {
      featureGates: featureGates.gates,
      liveMigrationEnabled: featureGates.gates.includes(LIVE_MIGRATION_GATE),
      migrations,
      bandwidthBytesPerSecond,
    },
  };
}
