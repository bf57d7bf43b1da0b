// Validating admission of kubevirt-config itself: a bad value in the migrations block or the
// feature gate list is refused at `kubectl apply` time instead of being silently ignored later;
// KubeVirt keys without effect here and unknown keys are admitted with a warning that says so.
import { parseClusterConfig } from '../../api/cluster-config.js';
import { boundWarnings } from '../../api/migrations-block.js';
import type { ClusterConfigLocation } from '../../api/cluster-config.js';
import { allow, deny, isPlainObject, type Decision } from './types.js';

export function validateClusterConfig(location: ClusterConfigLocation, namespace: string | undefined, object: unknown): Decision {
  const metadata = isPlainObject(object) && isPlainObject(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : undefined;
  // Registered for ConfigMaps of one namespace; every other ConfigMap passes untouched.
  if ((namespace ?? metadata.namespace) !== location.namespace || name !== location.name) return allow('NotApplicable');
  const where = `${location.namespace}/${location.name}`;
  const rawData = isPlainObject(object) ? object.data : undefined;
  if (rawData !== undefined && rawData !== null && !isPlainObject(rawData)) {
    return deny('ConfigInvalid', `ConfigMap ${where} is invalid: data must be a map of strings`, 422);
  }
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawData ?? {})) {
    if (typeof value !== 'string') return deny('ConfigInvalid', `ConfigMap ${where} is invalid: data.${key} must be a string`, 422);
    data[key] = value;
  }
  const result = parseClusterConfig(data);
  if (!result.ok) {
    const details = result.issues.map((i) => `data.${i.path}: ${i.reason}`).join('; ');
    return deny(
      'ConfigInvalid',
      `ConfigMap ${where} is invalid, the configuration in force is unchanged: ${details}`,
      422,
    );
  }
  const warnings = boundWarnings(result.warnings, 'data.');
  return warnings.length > 0 ? { allowed: true, reason: 'Admitted', warnings } : allow();
}
