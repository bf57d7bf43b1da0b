// KubeVirt users write `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`
// as for pods; placement honours it with the scheduler's rules: the node must match at least one
// term, and a term matches when every one of its expressions does. The VMI is stored as written,
// so anything malformed reads as "matches no node" (with the reason), never as "matches every node".

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface NodeForAffinity {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** The required node-selector terms of a VMI spec; undefined when it has none. */
export function requiredTerms(spec: Readonly<Json> | undefined): unknown[] | undefined {
  const affinity = isObject(spec?.affinity) ? spec.affinity : undefined;
  const nodeAffinity = isObject(affinity?.nodeAffinity) ? affinity.nodeAffinity : undefined;
  const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required === undefined) return undefined;
  return isObject(required) && Array.isArray(required.nodeSelectorTerms) ? required.nodeSelectorTerms : [];
}

function expressionMatches(expression: unknown, value: string | undefined): boolean {
  if (!isObject(expression) || typeof expression.operator !== 'string') return false;
  const values = Array.isArray(expression.values) ? expression.values.filter((v): v is string => typeof v === 'string') : [];
  switch (expression.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const bound = Number(values[0]);
      const have = Number(value);
      if (value === undefined || values.length !== 1 || !Number.isInteger(bound) || !Number.isInteger(have)) return false;
      return expression.operator === 'Gt' ? have > bound : have < bound;
    }
    default:
      return false;
  }
}

function termMatches(term: unknown, node: NodeForAffinity): boolean {
  if (!isObject(term)) return false;
  const labelExpressions = Array.isArray(term.matchExpressions) ? term.matchExpressions : [];
  const fieldExpressions = Array.isArray(term.matchFields) ? term.matchFields : [];
  // An empty term matches nothing (the scheduler's rule).
  if (labelExpressions.length === 0 && fieldExpressions.length === 0) return false;
  const labelsOk = labelExpressions.every((e) => isObject(e) && typeof e.key === 'string' && expressionMatches(e, node.labels[e.key]));
  // The only field the scheduler supports is metadata.name.
  const fieldsOk = fieldExpressions.every((e) => isObject(e) && e.key === 'metadata.name' && expressionMatches(e, node.name));
  return labelsOk && fieldsOk;
}

/** Whether the node satisfies the VMI's required node affinity (true when there is none). */
export function matchesRequiredAffinity(spec: Readonly<Json> | undefined, node: NodeForAffinity): boolean {
  const terms = requiredTerms(spec);
  if (terms === undefined) return true;
  return terms.some((term) => termMatches(term, node));
}
