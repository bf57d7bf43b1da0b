// spec.tolerations of a VMI, checked as Kubernetes checks a pod's (ValidateTolerations): KubeVirt
// passes them to the launcher pod, and here placement and migration targets read them the same way.
import { labelKeyProblem, labelValueProblem } from './label-syntax.js';
import type { SubsetProblem } from './vmi-subset.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const OPERATORS = ['Exists', 'Equal'];
const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const FIELDS = ['key', 'operator', 'value', 'effect', 'tolerationSeconds'];

function checkToleration(t: unknown, path: string, out: SubsetProblem[]): void {
  if (!isObject(t)) {
    out.push({ field: path, problem: 'must be an object' });
    return;
  }
  for (const key of Object.keys(t)) if (!FIELDS.includes(key)) out.push({ field: `${path}.${key}`, problem: 'not supported yet' });
  for (const field of ['key', 'operator', 'value', 'effect']) {
    if (t[field] !== undefined && typeof t[field] !== 'string') out.push({ field: `${path}.${field}`, problem: 'must be a string' });
  }
  const key = typeof t.key === 'string' ? t.key : '';
  const operator = typeof t.operator === 'string' && t.operator !== '' ? t.operator : 'Equal';
  const value = typeof t.value === 'string' ? t.value : '';
  if (key !== '') {
    const problem = labelKeyProblem(key);
    if (problem) out.push({ field: `${path}.key`, problem });
  }
  if (!OPERATORS.includes(operator)) out.push({ field: `${path}.operator`, problem: `must be Exists or Equal (got ${JSON.stringify(t.operator)})` });
  else if (key === '' && operator !== 'Exists') out.push({ field: `${path}.operator`, problem: 'must be Exists when key is empty (a toleration of every taint)' });
  else if (operator === 'Exists' && value !== '') out.push({ field: `${path}.value`, problem: 'must be empty when operator is Exists' });
  else if (operator === 'Equal' && value !== '') {
    const problem = labelValueProblem(value);
    if (problem) out.push({ field: `${path}.value`, problem });
  }
  if (typeof t.effect === 'string' && t.effect !== '' && !EFFECTS.includes(t.effect)) {
    out.push({ field: `${path}.effect`, problem: `must be one of ${EFFECTS.join(', ')} or empty (got ${JSON.stringify(t.effect)})` });
  }
  if (t.tolerationSeconds !== undefined) {
    if (!(typeof t.tolerationSeconds === 'number' && Number.isInteger(t.tolerationSeconds))) out.push({ field: `${path}.tolerationSeconds`, problem: 'must be an integer' });
    else if (t.effect !== 'NoExecute') out.push({ field: `${path}.tolerationSeconds`, problem: 'only with effect NoExecute' });
  }
}

export function checkTolerations(tolerations: unknown, out: SubsetProblem[]): void {
  if (tolerations === undefined) return;
  if (!Array.isArray(tolerations)) {
    out.push({ field: 'spec.tolerations', problem: 'must be a list' });
    return;
  }
  tolerations.forEach((t, i) => checkToleration(t, `spec.tolerations[${i}]`, out));
}
