// Guest memory of a VMI, read defensively (the domain is stored as the user wrote it). Shared by
// the reconciler (placement, migration sizes) and the agent (the VM it starts).
import { parseQuantity, QuantityError } from './quantity.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quantityOrUndefined(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  try {
    const bytes = parseQuantity(value);
    return bytes > 0 ? bytes : undefined;
  } catch (error) {
    if (error instanceof QuantityError) return undefined;
    throw error;
  }
}

/**
 * Guest memory in bytes: `domain.memory.guest`, else `domain.resources.requests.memory`, else
 * `domain.resources.limits.memory` (KubeVirt's order). Undefined when none is readable.
 */
export function readGuestMemoryBytes(spec: Readonly<Record<string, unknown>> | undefined): number | undefined {
  const domain = isObject(spec?.domain) ? spec.domain : {};
  const memory = isObject(domain.memory) ? domain.memory : {};
  const resources = isObject(domain.resources) ? domain.resources : {};
  const requests = isObject(resources.requests) ? resources.requests : {};
  const limits = isObject(resources.limits) ? resources.limits : {};
  return quantityOrUndefined(memory.guest) ?? quantityOrUndefined(requests.memory) ?? quantityOrUndefined(limits.memory);
}
