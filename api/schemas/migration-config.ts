// The JSON Schema of migration settings: the one source for the `migrations` block of
// kubevirt-config, the per-migration `spec.migrationConfiguration` of a VMIM (CRD), the
// VMI's `status.migrationState.migrationConfiguration`, and the chart's values.schema.json.
// The schemas are typed (integers are integers); the kubevirt-config parser alone also reads the
// quoted numbers and booleans KubeVirt v0.31–v0.47 required there (migrations-block.ts).
import { QUANTITY_MAX_LENGTH, QUANTITY_PATTERN } from '../quantity.js';
import { TAINT_KEY_MAX_LENGTH, TAINT_KEY_PATTERN } from '../taint-key.js';
import type { JsonSchema } from './json-schema.js';

const NON_NEGATIVE_QUANTITY_PATTERN = QUANTITY_PATTERN.replace('^[+-]?', '^\\+?');

const positiveInteger = (description: string): JsonSchema => ({
  type: 'integer',
  minimum: 1,
  description,
});

/** Keys that shape one migration; stamped on every VMIM so it runs under the config of its time. */
export const perMigrationProperties: Record<string, JsonSchema> = {
  bandwidthPerMigration: {
    // Kubernetes' int-or-string form: the anyOf must be exactly these two bare types; the bounds
    // sit beside it (JSON Schema applies minimum only to numbers and pattern only to strings).
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    minimum: 0,
    pattern: NON_NEGATIVE_QUANTITY_PATTERN,
    maxLength: QUANTITY_MAX_LENGTH,
    description:
      'Bandwidth cap per migration in bytes per second, as a Kubernetes quantity (64Mi = 64 MiB/s). 0 means unlimited.',
  },
  completionTimeoutPerGiB: positiveInteger(
    'Seconds allowed per GiB (2^30 bytes, rounded up) of data to copy: guest memory, plus local disks for BlockMigration. A migration running longer than this × size is aborted.',
  ),
  progressTimeout: positiveInteger(
    'Seconds a migration may go without the data remaining going down before it is aborted.',
  ),
  allowAutoConverge: {
    type: 'boolean',
    description: 'Let the hypervisor throttle the guest CPU so that a busy guest converges.',
  },
  allowPostCopy: {
    type: 'boolean',
    description: 'Switch to post-copy when pre-copy does not converge.',
  },
  unschedulableTimeout: positiveInteger(
    'Seconds a migration may wait for an eligible target node before it fails.',
  ),
  targetReadyTimeout: positiveInteger(
    'Seconds allowed for a target node agent to prepare and report ready (and for any agent to answer) before the migration fails.',
  ),
  maxDowntimeMs: {
    type: 'integer',
    minimum: 1,
    maximum: 2_000_000,
    description: 'Longest pause of the guest at switch-over, in milliseconds (libvirt\'s maximum downtime).',
  },
};

/** Keys that shape the cluster's queue; only in kubevirt-config. */
export const clusterOnlyProperties: Record<string, JsonSchema> = {
  parallelMigrationsPerCluster: positiveInteger('Migrations running at once in the whole cluster.'),
  parallelOutboundMigrationsPerNode: positiveInteger('Migrations running at once out of one source node.'),
  parallelInboundMigrationsPerNode: positiveInteger('Migrations running at once into one target node.'),
  finishedMigrationsPerVMI: positiveInteger(
    'Finished migrations kept per VMI as history; older ones are deleted.',
  ),
  nodeDrainTaintKey: {
    type: 'string',
    minLength: 1,
    maxLength: TAINT_KEY_MAX_LENGTH,
    pattern: TAINT_KEY_PATTERN,
    description: 'Taint key that marks a node to be drained of its VMIs (for node drain, not implemented yet).',
  },
  disableTLS: {
    type: 'boolean',
    description: 'Run the migration stream without TLS (cluster-wide; each such migration gets a Warning event MigrationNotEncrypted). libvirt\'s own connection between nodes stays TLS.',
  },
};

/**
 * KubeVirt's keys that do nothing here, each with why. Accepted (type-checked) so a kubevirt-config
 * written for KubeVirt applies; an admission warning says they have no effect. Keys we store but do
 * not act on yet (nodeDrainTaintKey) are listed too, since they have no effect today.
 */
const WHY_NO_EFFECT = {
  nodeDrainTaintKey: 'stored for node drain, which is not implemented yet',
  unsafeMigrationOverride: 'there is no migration-safety check here to override',
  allowWorkloadDisruption: 'a migration past its completion timeout is aborted; it is never paused',
  network: 'migrations use the node agents\' addresses; a dedicated migration network is not supported',
  matchSELinuxLevelOnMigration: 'there are no virt-launcher pods here whose SELinux level could be chosen',
  utilityVolumesTimeout: 'there are no utility volumes here',
} as const;
export const KEYS_WITHOUT_EFFECT: Readonly<Record<string, string>> = WHY_NO_EFFECT;

/** KubeVirt keys accepted with a type check and no effect (KEYS_WITHOUT_EFFECT says why). */
export const inertProperties: Record<string, JsonSchema> = {
  unsafeMigrationOverride: { type: 'boolean', description: `KubeVirt's; no effect here: ${WHY_NO_EFFECT.unsafeMigrationOverride}.` },
  allowWorkloadDisruption: { type: 'boolean', description: `KubeVirt's; no effect here: ${WHY_NO_EFFECT.allowWorkloadDisruption}.` },
  network: { type: 'string', maxLength: 253, description: `KubeVirt's; no effect here: ${WHY_NO_EFFECT.network}.` },
  matchSELinuxLevelOnMigration: { type: 'boolean', description: `KubeVirt's; no effect here: ${WHY_NO_EFFECT.matchSELinuxLevelOnMigration}.` },
  utilityVolumesTimeout: { type: 'integer', format: 'int64', description: `KubeVirt's; no effect here: ${WHY_NO_EFFECT.utilityVolumesTimeout}.` },
};

export const perMigrationConfigSchema: JsonSchema = {
  type: 'object',
  description:
    'Migration settings this migration runs under. Stamped at admission from kubevirt-config; keys set here by the user win over the cluster values.',
  properties: perMigrationProperties,
  additionalProperties: false,
};

export const clusterMigrationsSchema: JsonSchema = {
  type: 'object',
  description: 'The `migrations` block of kubevirt-config.',
  properties: { ...clusterOnlyProperties, ...perMigrationProperties, ...inertProperties },
  additionalProperties: false,
};

/** The seed's defaults (KubeVirt's user guide), plus ours for keys the seed does not have. */
export const MIGRATION_DEFAULTS = {
  parallelMigrationsPerCluster: 5,
  parallelOutboundMigrationsPerNode: 2,
  parallelInboundMigrationsPerNode: 2,
  finishedMigrationsPerVMI: 5,
  bandwidthPerMigration: '64Mi',
  completionTimeoutPerGiB: 800,
  progressTimeout: 150,
  allowAutoConverge: false,
  allowPostCopy: false,
  unschedulableTimeout: 300,
  targetReadyTimeout: 300,
  // KubeVirt's default (virt-config DefaultMigrationMaxDowntimeMs).
  maxDowntimeMs: 900,
  nodeDrainTaintKey: 'kubevirt.io/drain',
  disableTLS: false,
} as const;

/** Per-migration settings as stamped on a VMIM (API form: bandwidth stays a quantity). */
export interface MigrationConfiguration {
  bandwidthPerMigration: string | number;
  completionTimeoutPerGiB: number;
  progressTimeout: number;
  allowAutoConverge: boolean;
  allowPostCopy: boolean;
  unschedulableTimeout: number;
  targetReadyTimeout: number;
  maxDowntimeMs: number;
}

export const PER_MIGRATION_KEYS = Object.keys(perMigrationProperties) as Array<keyof MigrationConfiguration>;
