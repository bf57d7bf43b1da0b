// The settings one migration runs under: the cluster's per-migration keys, with the values the
// user set on the migration on top. The webhook stamps it; the reconciler resolves it again for a
// migration admitted without the webhook.
import type { ClusterConfig } from './cluster-config.js';
import { PER_MIGRATION_KEYS, type MigrationConfiguration } from './schemas/migration-config.js';

/** The per-migration keys of the cluster configuration, with the user's own values on top. */
export function effectiveMigrationConfiguration(
  cluster: ClusterConfig,
  userSet: Partial<MigrationConfiguration> | undefined,
): MigrationConfiguration {
  const effective: Record<string, unknown> = {};
  for (const key of PER_MIGRATION_KEYS) effective[key] = userSet?.[key] ?? cluster.migrations[key];
  return effective as unknown as MigrationConfiguration;
}
