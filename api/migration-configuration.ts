// The settings one migration runs under, in layers: the cluster's per-migration keys
// (kubevirt-config), then the keys of the MigrationPolicy that applies to the VMI, then keys a
// privileged identity set explicitly on the migration. The webhook stamps the result; the
// reconciler resolves it again for a migration admitted without the webhook.
import type { ClusterConfig } from './cluster-config.js';
import { PER_MIGRATION_KEYS, type MigrationConfiguration } from './schemas/migration-config.js';
import { POLICY_KEYS, type MigrationPolicy } from './schemas/migration-policy.js';

/**
 * Annotation on a VMIM, written only by the mutating webhook: the name of the MigrationPolicy whose
 * keys were stamped into spec.migrationConfiguration, or "" when none applied. Its presence says
 * the configuration was stamped (the reconciler then takes spec.migrationConfiguration as final).
 * A value a user sets is overwritten on create and restored on update.
 */
export const POLICY_ANNOTATION = 'live-migration.io/migration-policy';

/** The keys a policy sets, as a partial per-migration configuration. */
export function policyConfiguration(policy: MigrationPolicy | undefined): Partial<MigrationConfiguration> {
  const out: Record<string, unknown> = {};
  for (const key of POLICY_KEYS) {
    const value = policy?.spec?.[key];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out as Partial<MigrationConfiguration>;
}

/** The per-migration keys of the cluster configuration, then the policy's, then the explicit ones on top. */
export function effectiveMigrationConfiguration(
  cluster: ClusterConfig,
  explicit: Partial<MigrationConfiguration> | undefined,
  policy?: MigrationPolicy,
): MigrationConfiguration {
  const fromPolicy = policyConfiguration(policy);
  const effective: Record<string, unknown> = {};
  for (const key of PER_MIGRATION_KEYS) effective[key] = explicit?.[key] ?? fromPolicy[key] ?? cluster.migrations[key];
  return effective as unknown as MigrationConfiguration;
}

export interface ResolvedConfiguration {
  configuration: MigrationConfiguration;
  /** The policy whose keys took part, if one applied. */
  policyName?: string;
}

/**
 * What a migration runs under, as the reconciler sees it when the migration starts: a stamped
 * migration (annotation present) keeps its stamp; one admitted without the webhook gets the cluster
 * keys under the policy that applies now, and keys set on it explicitly on top (without the webhook
 * nothing checks who set them: RBAC on VMIM create is then the only gate).
 */
export function resolveForMigration(
  cluster: ClusterConfig,
  migration: { metadata: { annotations?: Record<string, string> }; spec: { migrationConfiguration?: Partial<MigrationConfiguration> } },
  policyNow: () => MigrationPolicy | undefined,
): ResolvedConfiguration {
  const stamped = migration.metadata.annotations?.[POLICY_ANNOTATION];
  if (stamped !== undefined) {
    const configuration = effectiveMigrationConfiguration(cluster, migration.spec.migrationConfiguration);
    return stamped === '' ? { configuration } : { configuration, policyName: stamped };
  }
  const policy = policyNow();
  const configuration = effectiveMigrationConfiguration(cluster, migration.spec.migrationConfiguration, policy);
  return policy?.metadata.name ? { configuration, policyName: policy.metadata.name } : { configuration };
}
