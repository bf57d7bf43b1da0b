// Validating admission of a change to a VirtualMachineInstanceMigration: the request is fixed once
// made (KubeVirt: the spec may not change), and the label that ties it to its VMI stays while the
// migration is in flight, since the reconciler and history pruning select on it.
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { jsonEqual } from './json-patch.js';
import { isFinalMigration, vmiNameOf } from './validate-migration.js';
import { allow, deny, isPlainObject, qualifiedName, type Decision } from './types.js';

import { VMI_NAME_LABEL } from '../../api/names.js';

export { VMI_NAME_LABEL };

function labelsOf(object: unknown): Record<string, unknown> {
  if (!isPlainObject(object) || !isPlainObject(object.metadata) || !isPlainObject(object.metadata.labels)) return {};
  return object.metadata.labels;
}

export function validateMigrationUpdate(namespace: string, object: unknown, oldObject: unknown): Decision {
  const vmi = qualifiedName(namespace, vmiNameOf(oldObject) ?? vmiNameOf(object));
  const name = isPlainObject(oldObject) && isPlainObject(oldObject.metadata) ? String(oldObject.metadata.name ?? '') : '';
  const oldSpec = isPlainObject(oldObject) ? oldObject.spec : undefined;
  const newSpec = isPlainObject(object) ? object.spec : undefined;
  if (!jsonEqual(oldSpec, newSpec)) {
    return deny(
      'SpecImmutable',
      `Cannot update migration ${namespace}/${name} of VMI ${vmi}: update of VMIM object's spec is restricted; ` +
        'delete the migration and create a new one',
    );
  }
  const inFlight = !isFinalMigration(oldObject as VirtualMachineInstanceMigration);
  const before = labelsOf(oldObject)[VMI_NAME_LABEL];
  const after = labelsOf(object)[VMI_NAME_LABEL];
  if (inFlight && before !== undefined && before !== after) {
    const change = after === undefined ? 'removed' : `changed to ${JSON.stringify(after)}`;
    return deny(
      'VMINameLabelImmutable',
      `Cannot update migration ${namespace}/${name} of VMI ${vmi}: label ${VMI_NAME_LABEL}=${String(before)} ` +
        `may not be ${change} while the migration is in flight`,
    );
  }
  return allow();
}
