// Mutating admission of a new VirtualMachineInstanceMigration: KubeVirt's label and finalizer, and
// the effective per-migration configuration stamped into spec.migrationConfiguration so the
// migration runs under the config in force when it was requested. Keys the user set there win.
import type { ClusterConfig } from '../../api/cluster-config.js';
import type { MigrationConfiguration } from '../../api/schemas/migration-config.js';
import { effectiveMigrationConfiguration } from '../../api/migration-configuration.js';
import { diff } from './json-patch.js';
import { checkSchema, vmiNameOf } from './validate-migration.js';
import { MIGRATION_FINALIZER, VMI_NAME_LABEL } from '../../api/names.js';
import { isPlainObject, qualifiedName, type Decision } from './types.js';

export { MIGRATION_FINALIZER };

/**
 * The patch for a VMIM create. An object that fails the schema is refused here already, so the
 * user reads our message (naming the VMI) rather than a generic one, and we never stamp into a
 * malformed spec. `cluster` is undefined when no valid configuration is known: then the label and
 * finalizer are still added and the validating webhook refuses the request.
 */
export function mutateMigrationCreate(namespace: string, object: unknown, cluster: ClusterConfig | undefined): Decision {
  const schemaProblem = checkSchema(object, qualifiedName(namespace, vmiNameOf(object)));
  if (schemaProblem) return schemaProblem;
  const original = object as Record<string, unknown> & { metadata?: unknown; spec: Record<string, unknown> };
  // Copy only along the paths we change: untouched subtrees keep their identity, so the diff below
  // skips them by reference instead of comparing them deeply.
  const metadata: Record<string, unknown> = isPlainObject(original.metadata) ? { ...original.metadata } : {};
  const labels = isPlainObject(metadata.labels) ? { ...metadata.labels } : {};
  labels[VMI_NAME_LABEL] = original.spec.vmiName;
  metadata.labels = labels;
  const finalizers = Array.isArray(metadata.finalizers) ? [...(metadata.finalizers as unknown[])] : [];
  if (!finalizers.includes(MIGRATION_FINALIZER)) finalizers.push(MIGRATION_FINALIZER);
  metadata.finalizers = finalizers;
  const spec = { ...original.spec };
  if (cluster !== undefined) {
    const userSet = spec.migrationConfiguration as Partial<MigrationConfiguration> | undefined;
    spec.migrationConfiguration = effectiveMigrationConfiguration(cluster, userSet);
  }
  const desired = { ...original, metadata, spec };
  const patch = diff(original, desired);
  return patch.length > 0 ? { allowed: true, reason: 'Mutated', patch } : { allowed: true, reason: 'Admitted' };
}
