// VMI create: refused when it asks for anything outside the subset this system runs (each field
// named, "not supported yet"), or has a bad value in it (the field and why). KubeVirt's virt-api
// refuses with 422 Invalid; so do we. A VMI run by someone else (`live-migration.io/placement:
// external`) is not ours to run and is admitted as it is (the registrations also leave it out).
import { EXTERNAL_PLACEMENT, PLACEMENT_ANNOTATION } from '../../api/vmi-status.js';
import { vmiSubsetProblems, vmiSubsetWarnings } from './vmi-subset.js';
import { allow, deny, isPlainObject, qualifiedName, type Decision } from './types.js';

const MAX_LISTED = 10;

export function validateVmiCreate(namespace: string, object: unknown): Decision {
  const metadata = isPlainObject(object) && isPlainObject(object.metadata) ? object.metadata : {};
  const annotations = isPlainObject(metadata.annotations) ? metadata.annotations : {};
  if (annotations[PLACEMENT_ANNOTATION] === EXTERNAL_PLACEMENT) return allow('NotApplicable');
  const problems = vmiSubsetProblems(object);
  if (problems.length === 0) {
    const warnings = vmiSubsetWarnings(object);
    return warnings.length > 0 ? { allowed: true, reason: 'Admitted', warnings } : allow();
  }
  const unsupported = problems.some((p) => p.problem.startsWith('not supported yet') || p.problem.includes('is not supported yet'));
  const listed = problems.slice(0, MAX_LISTED).map((p) => `${p.field}: ${p.problem}`);
  const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : '';
  const name = typeof metadata.name === 'string' ? metadata.name : typeof metadata.generateName === 'string' ? `${metadata.generateName}…` : undefined;
  return deny(unsupported ? 'VMIFieldNotSupported' : 'VMIInvalid', `VirtualMachineInstance ${qualifiedName(namespace, name)}: ${listed.join('; ')}${more}`, 422);
}
