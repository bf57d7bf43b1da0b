// Validating admission of a change to a VirtualMachineInstanceMigration, as KubeVirt's migration
// update admitter: the request is fixed once made (the spec may not change), and the label that ties
// it to its VMI stays while the migration is in flight, since the reconciler and history pruning
// select on it. KubeVirt refuses both as 422 (Invalid) with a cause; its text first, then ours.
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { jsonEqual } from './json-patch.js';
import { isFinalMigration, vmiNameOf } from './validate-migration.js';
import { allow, invalid, isPlainObject, qualifiedName, type Decision } from './types.js';

import { VMI_NAME_LABEL } from '../../api/names.js';

export { VMI_NAME_LABEL };

function labelsOf(object: unknown): Record<string, unknown> {
  if (!isPlainObject(object) || !isPlainObject(object.metadata) || !isPlainObject(object.metadata.labels)) return {};
  return object.metadata.labels;
}

export const SPEC_RESTRICTED = "update of Migration object's spec is restricted";
export const LABEL_MODIFIED = "selector label can't be modified on an in-flight migration";
export const LABEL_REMOVED = "selector label can't be removed from an in-flight migration";

export function validateMigrationUpdate(namespace: string, object: unknown, oldObject: unknown): Decision {
  const vmi = qualifiedName(namespace, vmiNameOf(oldObject) ?? vmiNameOf(object));
  const name = isPlainObject(oldObject) && isPlainObject(oldObject.metadata) ? String(oldObject.metadata.name ?? '') : '';
  const oldSpec = isPlainObject(oldObject) ? oldObject.spec : undefined;
  const newSpec = isPlainObject(object) ? object.spec : undefined;
  // KubeVirt's causes carry no field (kubectl then prints "The request is invalid: : <message>");
  // ours name the field, and carry the whole message: the one line kubectl shows.
  if (!jsonEqual(oldSpec, newSpec)) {
    const message = `${SPEC_RESTRICTED}: migration ${namespace}/${name} of VMI ${vmi} runs as it was requested; delete it and create a new one`;
    return invalid('SpecImmutable', message, [{ reason: 'FieldValueNotSupported', message, field: 'spec' }]);
  }
  const inFlight = !isFinalMigration(oldObject as VirtualMachineInstanceMigration);
  const before = labelsOf(oldObject)[VMI_NAME_LABEL];
  const after = labelsOf(object)[VMI_NAME_LABEL];
  if (inFlight && before !== undefined && before !== after) {
    const text = after === undefined ? LABEL_REMOVED : LABEL_MODIFIED;
    const message = `${text}: label ${VMI_NAME_LABEL}=${String(before)} of migration ${namespace}/${name} (VMI ${vmi}) stays until the migration has ended`;
    return invalid('VMINameLabelImmutable', message, [{ reason: 'FieldValueNotSupported', message, field: `metadata.labels[${VMI_NAME_LABEL}]` }]);
  }
  return allow();
}
