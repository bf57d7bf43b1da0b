// Validating admission of a new VirtualMachineInstanceMigration, as KubeVirt's migration create
// admitter: schema and vmiName, priority reserved to the system, the VMI exists and has not
// finished, it is not LiveMigratable=False, no other migration of it in flight; plus ours (feature
// gate, label syntax of addedNodeSelector). A VMI that is not running yet, or not yet evaluated for
// live migration, is admitted: its migration waits in the reconciler (reconciler/README.md).
// Codes as KubeVirt's: 400 for a refusal, 422 with causes for the object's fields. Each message is
// KubeVirt's text where it has one, then our detail naming the VMI.
import { LIVE_MIGRATION_GATE } from '../../api/cluster-config.js';
import { compileSchema, formatIssues } from '../../api/validation.js';
import { FINAL_MIGRATION_PHASES, vmimSchema, type VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { FINAL_VMI_PHASES, type VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { configMapName, type ConfigInForce } from '../../api/config-in-force.js';
import { labelKeyProblem, labelValueProblem } from './label-syntax.js';
import { allow, deny, invalid, isPlainObject, qualifiedName, type Decision, type StatusCause, type UserInfo } from './types.js';

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
    // KubeVirt's text (before v0.56, when the gate still existed), then how to enable it here.
    `${LIVE_MIGRATION_GATE} feature gate is not enabled in kubevirt-config: cannot migrate VMI ${vmi}. ` +
    `To enable it, add ${LIVE_MIGRATION_GATE} to the comma-separated list in data.feature-gates of ConfigMap ${where}.` +
    // The gate may be in the stored ConfigMap already, in a version that cannot be used.
    (config.problem ? ` (The ConfigMap as stored now is invalid and not in force: ${config.problem})` : '')
  );
}

/** KubeVirt's words for a migration that names no VMI. */
export const VMI_NAME_MISSING = 'vmiName is missing';

function vmiNameMissing(object: unknown): boolean {
  if (!isPlainObject(object) || !isPlainObject(object.spec)) return true;
  return object.spec.vmiName === undefined || object.spec.vmiName === '';
}

/**
 * Schema of the whole object, ajv over the same schema the CRD serves: 422 with one cause per
 * field. No vmiName at all is KubeVirt's own cause, "vmiName is missing" on spec.vmiName.
 */
export function checkSchema(object: unknown, vmi: string): Decision | undefined {
  if (validateVmim(object)) return undefined;
  const issues = validateVmim.issues();
  const missing = vmiNameMissing(object);
  const rest = missing ? issues.filter((i) => i.path !== 'spec' && i.path !== 'spec.vmiName') : issues;
  const causes: StatusCause[] = [
    ...(missing ? [{ reason: 'FieldValueRequired', message: VMI_NAME_MISSING, field: 'spec.vmiName' }] : []),
    ...rest.map((i) => ({ reason: i.reason === 'is required' ? 'FieldValueRequired' : 'FieldValueInvalid', message: i.reason, field: i.path })),
  ];
  const message = missing
    ? `${VMI_NAME_MISSING}: spec.vmiName must name the VMI to migrate, in the migration's namespace` + (rest.length > 0 ? `; also ${formatIssues(rest)}` : '')
    : `Cannot migrate VMI ${vmi}: the migration is invalid: ${formatIssues(issues)}`;
  return invalid('SchemaInvalid', message, causes);
}

export function isFinalMigration(migration: VirtualMachineInstanceMigration): boolean {
  const phase = migration.status?.phase;
  return phase !== undefined && FINAL_MIGRATION_PHASES.includes(phase);
}

/** KubeVirt's text for spec.priority set by anyone but its controller. */
export const PRIORITY_FORBIDDEN = 'Migration priority queue, only virt-controller is allowed to set priority field';

function selectorProblems(selector: Record<string, string>): StatusCause[] {
  return Object.entries(selector).flatMap(([key, value]) => {
    const keyProblem = labelKeyProblem(key);
    const valueProblem = labelValueProblem(value);
    const field = `spec.addedNodeSelector[${key}]`;
    return [
      ...(keyProblem ? [{ reason: 'FieldValueInvalid', field, message: `key ${JSON.stringify(key)}: ${keyProblem}` }] : []),
      ...(valueProblem ? [{ reason: 'FieldValueInvalid', field, message: `value ${JSON.stringify(value)} of ${JSON.stringify(key)}: ${valueProblem}` }] : []),
    ];
  });
}

/** What KubeVirt checks of the VMI itself; a VMI not running yet or not yet evaluated passes. */
function checkVmi(target: VirtualMachineInstance, vmi: string): Decision | undefined {
  const phase = target.status?.phase;
  if (phase !== undefined && FINAL_VMI_PHASES.includes(phase)) {
    return deny('VMIFinal', `Cannot migrate VMI in finalized state. VMI ${vmi} has finished (phase ${phase}); only a VMI that has not finished can be migrated.`);
  }
  const migratable = target.status?.conditions?.find((c) => c.type === LIVE_MIGRATABLE_CONDITION);
  if (migratable?.status === 'False') {
    return deny('VMINotMigratable', `Cannot migrate VMI, Reason: ${migratable.reason ?? ''}, Message: ${migratable.message ?? ''} (VMI ${vmi})`);
  }
  return undefined;
}

function inFlightMessage(uid: string, vmiName: string, detail: string): string {
  return `in-flight migration detected. Active migration job (${uid}) is currently already in progress for VMI ${vmiName}. ${detail}`;
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
    return invalid(
      'PriorityForbidden',
      `${PRIORITY_FORBIDDEN}: spec.priority of the migration of VMI ${vmi} is reserved to the system (${input.systemServiceAccount}); ` +
        `user ${input.userInfo.username ?? '<unknown>'} may not set it. Remove spec.priority.`,
      [{ reason: 'FieldValueForbidden', message: PRIORITY_FORBIDDEN, field: 'spec.priority' }],
    );
  }

  const selector = selectorProblems(migration.spec.addedNodeSelector ?? {});
  if (selector.length > 0) {
    return invalid(
      'NodeSelectorInvalid',
      `Cannot migrate VMI ${vmi}: spec.addedNodeSelector is not valid label syntax: ${selector.map((c) => c.message).join('; ')}`,
      selector,
    );
  }

  const target = input.vmi;
  if (target === undefined) return deny('VMINotFound', `the VMI "${namespace}/${vmiName ?? ''}" does not exist`);
  const vmiProblem = checkVmi(target, vmi);
  if (vmiProblem) return vmiProblem;

  const ownName = migration.metadata?.name;
  const inFlight = input.migrationsOfVmi.find(
    (m) => m.spec?.vmiName === vmiName && m.metadata.name !== ownName && !isFinalMigration(m),
  );
  if (inFlight) {
    const phase = inFlight.status?.phase ?? 'not started yet';
    return deny(
      'MigrationInFlight',
      inFlightMessage(
        inFlight.metadata.uid ?? inFlight.metadata.name ?? '',
        vmiName ?? '',
        `It is migration ${namespace}/${inFlight.metadata.name ?? ''} (phase ${phase}) of VMI ${vmi}: wait until it ends, or delete it to cancel it.`,
      ),
    );
  }
  // A migration the VMI itself reports as running (its VMIM may already be gone from the cache).
  const state = target.status?.migrationState;
  if (state?.migrationUid && state.completed !== true && state.migrationUid !== migration.metadata?.uid) {
    return deny(
      'MigrationInFlight',
      inFlightMessage(state.migrationUid, vmiName ?? '', `The status.migrationState of VMI ${vmi} shows it unfinished.`),
    );
  }
  return allow();
}
