// Mutating admission of VirtualMachineInstanceMigrations. On CREATE: KubeVirt's label and
// finalizer, and the effective per-migration configuration stamped into spec.migrationConfiguration
// (cluster ← the MigrationPolicy that applies ← keys a privileged identity set), with the policy's
// name in an annotation, so the migration runs under the config in force when it was requested.
// On UPDATE: what a client that does not know these fields dropped is put back from the old object.
import type { ClusterConfig } from '../../api/cluster-config.js';
import type { MigrationConfiguration } from '../../api/schemas/migration-config.js';
import type { MigrationPolicy } from '../../api/schemas/migration-policy.js';
import { effectiveMigrationConfiguration, POLICY_ANNOTATION } from '../../api/migration-configuration.js';
import { diff } from './json-patch.js';
import { checkSchema, vmiNameOf } from './validate-migration.js';
import { MIGRATION_FINALIZER, VMI_NAME_LABEL } from '../../api/names.js';
import { deny, isPlainObject, qualifiedName, type Decision } from './types.js';

export { MIGRATION_FINALIZER };

export interface MigrationCreateMutation {
  namespace: string;
  object: unknown;
  /** undefined when no valid configuration is known: label and finalizer only, the validating webhook refuses. */
  cluster: ClusterConfig | undefined;
  /** Whether the requester may set spec.migrationConfiguration (privileged.ts). */
  privileged: boolean;
  /** The MigrationPolicy that applies to the VMI, if any. */
  policy: MigrationPolicy | undefined;
}

type Json = Record<string, unknown>;

export function migrationConfigurationForbiddenMessage(vmi: string): string {
  return (
    `Cannot migrate VMI ${vmi}: spec.migrationConfiguration is reserved to cluster admins and the system itself. ` +
    'Remove it; to tune migrations of this workload, ask an admin for a MigrationPolicy (migrations.kubevirt.io/v1alpha1) that selects the VMI or its namespace.'
  );
}

/**
 * The patch for a VMIM create. An object that fails the schema is refused here already, so the
 * user reads our message (naming the VMI) rather than a generic one, and we never stamp into a
 * malformed spec. spec.migrationConfiguration from an unprivileged user is refused here, before
 * our own stamp hides who set it.
 */
export function mutateMigrationCreate(input: MigrationCreateMutation): Decision {
  const { namespace, object, cluster } = input;
  const vmi = qualifiedName(namespace, vmiNameOf(object));
  const schemaProblem = checkSchema(object, vmi);
  if (schemaProblem) return schemaProblem;
  const original = object as Json & { metadata?: unknown; spec: Json };
  if (original.spec.migrationConfiguration !== undefined && !input.privileged) {
    // 422 as for spec.priority: a field this requester may not set.
    return deny('MigrationConfigurationForbidden', migrationConfigurationForbiddenMessage(vmi), 422);
  }
  // Copy only along the paths we change: untouched subtrees keep their identity, so the diff below
  // skips them by reference instead of comparing them deeply.
  const metadata: Json = isPlainObject(original.metadata) ? { ...original.metadata } : {};
  const labels = isPlainObject(metadata.labels) ? { ...metadata.labels } : {};
  labels[VMI_NAME_LABEL] = original.spec.vmiName;
  metadata.labels = labels;
  const finalizers = Array.isArray(metadata.finalizers) ? [...(metadata.finalizers as unknown[])] : [];
  if (!finalizers.includes(MIGRATION_FINALIZER)) finalizers.push(MIGRATION_FINALIZER);
  metadata.finalizers = finalizers;
  const spec = { ...original.spec };
  if (cluster !== undefined) {
    const explicit = spec.migrationConfiguration as Partial<MigrationConfiguration> | undefined;
    spec.migrationConfiguration = effectiveMigrationConfiguration(cluster, explicit, input.policy);
    // Ours alone: whatever the user put there is overwritten.
    metadata.annotations = { ...(isPlainObject(metadata.annotations) ? metadata.annotations : {}), [POLICY_ANNOTATION]: input.policy?.metadata.name ?? '' };
  } else if (isPlainObject(metadata.annotations) && POLICY_ANNOTATION in metadata.annotations) {
    // Not stamped: a forged "stamped" mark must not make the reconciler trust the spec.
    const { [POLICY_ANNOTATION]: _forged, ...rest } = metadata.annotations;
    metadata.annotations = rest;
  }
  const desired = { ...original, metadata, spec };
  const patch = diff(original, desired);
  return patch.length > 0 ? { allowed: true, reason: 'Mutated', patch } : { allowed: true, reason: 'Admitted' };
}

/**
 * The patch for a VMIM update: a client built on KubeVirt's types reads a VMIM and writes it back
 * without spec.migrationConfiguration (unknown to it). Put back from the old object, the update is
 * no spec change and passes validation; any other spec change is still refused there. The policy
 * annotation always keeps its old value, so nobody can forge or drop it.
 */
export function mutateMigrationUpdate(object: unknown, oldObject: unknown): Decision {
  if (!isPlainObject(object) || !isPlainObject(oldObject)) return { allowed: true, reason: 'NotApplicable' };
  const oldSpec = isPlainObject(oldObject.spec) ? oldObject.spec : {};
  const oldMeta = isPlainObject(oldObject.metadata) ? oldObject.metadata : {};
  const oldAnnotations = isPlainObject(oldMeta.annotations) ? oldMeta.annotations : {};
  let desired: Json = object;
  if (isPlainObject(object.spec) && object.spec.migrationConfiguration === undefined && oldSpec.migrationConfiguration !== undefined) {
    desired = { ...desired, spec: { ...object.spec, migrationConfiguration: oldSpec.migrationConfiguration } };
  }
  const metadata: Json = isPlainObject(object.metadata) ? object.metadata : {};
  const annotations = isPlainObject(metadata.annotations) ? metadata.annotations : {};
  if (annotations[POLICY_ANNOTATION] !== oldAnnotations[POLICY_ANNOTATION]) {
    const { [POLICY_ANNOTATION]: _changed, ...rest } = annotations;
    const restored = oldAnnotations[POLICY_ANNOTATION] === undefined ? rest : { ...rest, [POLICY_ANNOTATION]: oldAnnotations[POLICY_ANNOTATION] };
    desired = { ...desired, metadata: { ...metadata, annotations: restored } };
  }
  const patch = diff(object, desired);
  return patch.length > 0 ? { allowed: true, reason: 'Mutated', patch } : { allowed: true, reason: 'Admitted' };
}
