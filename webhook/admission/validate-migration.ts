// Validating admission of a new VirtualMachineInstanceMigration. KubeVirt's checks (schema,
// vmiName, the VMI exists, is Running and not final, LiveMigratable, no migration in flight) plus
// ours (feature gate, priority reserved to the system, label syntax of addedNodeSelector).
// Messages name the VMI and mirror KubeVirt's wording where it has one.
import { LIVE_MIGRATION_GATE } from '../../api/cluster-config.js';
import { compileSchema, formatIssues } from '../../api/validation.js';
import { FINAL_MIGRATION_PHASES, vmimSchema, type VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { FINAL_VMI_PHASES, type VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { configMapName, type ConfigInForce } from '../../api/config-in-force.js';
import { labelKeyProblem, labelValueProblem } from './label-syntax.js';
import { allow, deny, isPlainObject, qualifiedName, type Decision, type UserInfo } from './types.js';

export const LIVE_MIGRATABLE_CONDITION = 'LiveMigratable';

const validateVmim = compileSchema<VirtualMachineInstanceMigration>(vmimSchema);

export interface MigrationCreateInput {
  /** The namespace of the request (the VMIM's and so the VMI's). */
  namespace: string;
  userInfo: UserInfo;
  object: unknown;
  config: ConfigInForce;
  /** The VMI named by spec.vmiName, from the cache (or fetched once on a miss); undefined if it does not exist. */
  vmi: VirtualMachineInstance | undefined;
  /** Migrations in the namespace that name the same VMI. */
  migrationsOfVmi: readonly VirtualMachineInstanceMigration[];
  /** The username of the system's own service account, the only one allowed to set spec.priority. */
  systemServiceAccount: string;
}

/** spec.vmiName when it is a string, for naming the VMI even in messages about a broken object. */
export function vmiNameOf(object: unknown): string | undefined {
  if (!isPlainObject(object) || !isPlainObject(object.spec)) return undefined;
  const name = object.spec.vmiName;
  return typeof name === 'string' ? name : undefined;
}

export function featureGateMessage(vmi: string, config: ConfigInForce): string {
  const where = configMapName(config.location);
  return (
    `Cannot migrate VMI ${vmi}: the ${LIVE_MIGRATION_GATE} feature gate is not enabled. ` +
    `To enable it, add ${LIVE_MIGRATION_GATE} to the comma-separated list in data.feature-gates of ConfigMap ${where}.` +
    // The gate may be in the stored ConfigMap already, in a version that cannot be used.
    (config.problem ? ` (The ConfigMap as stored now is invalid and not in force: ${config.problem})` : '')
  );
}

/** Schema of the whole object, ajv over the same schema the CRD serves. */
export function checkSchema(object: unknown, vmi: string): Decision | undefined {
  if (validateVmim(object)) return undefined;
  return deny('SchemaInvalid', `Cannot migrate VMI ${vmi}: the migration is invalid: ${formatIssues(validateVmim.issues())}`, 422);
}

export function isFinalMigration(migration: VirtualMachineInstanceMigration): boolean {
  const phase = migration.status?.phase;
  return phase !== undefined && FINAL_MIGRATION_PHASES.includes(phase);
}

export function validateMigrationCreate(input: MigrationCreateInput): Decision {
  const { namespace, object, config } = input;
  const vmiName = vmiNameOf(object);
  const vmi = qualifiedName(namespace, vmiName);

  if (config.config === undefined) {
    // Fail closed: without one valid configuration we cannot know whether migration is allowed.
    return deny(
      'ConfigInvalid',
      `Cannot migrate VMI ${vmi}: ConfigMap ${configMapName(config.location)} is invalid and no earlier valid version is known: ${config.problem ?? 'unknown problem'}`,
    );
  }
  if (!config.config.liveMigrationEnabled) return deny('FeatureGateDisabled', featureGateMessage(vmi, config));

  const schemaProblem = checkSchema(object, vmi);
  if (schemaProblem) return schemaProblem;
  const migration = object as VirtualMachineInstanceMigration;

  if (migration.spec.priority !== undefined && input.userInfo.username !== input.systemServiceAccount) {
    return deny(
      'PriorityForbidden',
      `Cannot migrate VMI ${vmi}: spec.priority is reserved to the system (${input.systemServiceAccount}); ` +
        `user ${input.userInfo.username ?? '<unknown>'} may not set it. Remove spec.priority.`,
    );
  }

  const selectorProblems = Object.entries(migration.spec.addedNodeSelector ?? {}).flatMap(([key, value]) => {
    const keyProblem = labelKeyProblem(key);
    const valueProblem = labelValueProblem(value);
    return [
      ...(keyProblem ? [`key ${JSON.stringify(key)}: ${keyProblem}`] : []),
      ...(valueProblem ? [`value ${JSON.stringify(value)} of ${JSON.stringify(key)}: ${valueProblem}`] : []),
    ];
  });
  if (selectorProblems.length > 0) {
    return deny(
      'NodeSelectorInvalid',
      `Cannot migrate VMI ${vmi}: spec.addedNodeSelector is not valid label syntax: ${selectorProblems.join('; ')}`,
      422,
    );
  }

  const target = input.vmi;
  if (target === undefined) {
    return deny(
      'VMINotFound',
      `Cannot migrate VMI ${vmi}: virtualmachineinstances.kubevirt.io "${vmiName}" not found in namespace ${namespace}`,
      404,
    );
  }
  const phase = target.status?.phase;
  if (phase !== undefined && FINAL_VMI_PHASES.includes(phase)) {
    return deny('VMIFinal', `Cannot migrate VMI ${vmi}: the VMI has finished (phase ${phase}); only a running VMI can be migrated`);
  }
  if (phase !== 'Running') {
    return deny(
      'VMINotRunning',
      `Cannot migrate VMI ${vmi} that is not in phase Running, current phase is ${phase ?? '<none>'}`,
    );
  }

  const migratable = target.status?.conditions?.find((c) => c.type === LIVE_MIGRATABLE_CONDITION);
  if (migratable === undefined) {
    return deny(
      'VMINotEvaluated',
      `Cannot migrate VMI ${vmi}: the VMI has not been evaluated for live migration yet (no ${LIVE_MIGRATABLE_CONDITION} condition); try again shortly`,
    );
  }
  if (migratable.status !== 'True') {
    return deny(
      'VMINotMigratable',
      `Cannot migrate VMI ${vmi}, Reason: ${migratable.reason ?? '<none>'}, Message: ${migratable.message ?? '<none>'}`,
    );
  }

  const ownName = migration.metadata?.name;
  const inFlight = input.migrationsOfVmi.find(
    (m) => m.spec?.vmiName === vmiName && m.metadata.name !== ownName && !isFinalMigration(m),
  );
  if (inFlight) {
    return deny(
      'MigrationInFlight',
      `Cannot migrate VMI ${vmi}: in-flight migration detected. Active migration job (${inFlight.metadata.name}) ` +
        `is currently already in progress for VMI ${vmi}`,
      409,
    );
  }
  // A migration the VMI itself reports as running (its VMIM may already be gone from the cache).
  const state = target.status?.migrationState;
  if (state?.migrationUid && state.completed !== true && state.migrationUid !== migration.metadata?.uid) {
    return deny(
      'MigrationInFlight',
      `Cannot migrate VMI ${vmi}: in-flight migration detected. Active migration job (uid ${state.migrationUid}) ` +
        `is currently already in progress for VMI ${vmi}`,
      409,
    );
  }
  return allow();
}
