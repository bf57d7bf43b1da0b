// Taints and a VMI's spec.tolerations, as kube-scheduler applies them to KubeVirt's launcher pods
// (which copy the VMI's tolerations, for a new VMI and a migration target alike): a node whose
// NoSchedule or NoExecute taint the VMI does not tolerate receives no VMI. PreferNoSchedule is a
// preference and is not considered. The toleration rules are Kubernetes': an empty effect matches
// every effect, an empty key with operator Exists matches every taint, operator defaults to Equal.
//
// The drain taint is not judged here: a draining node never receives a VMI, tolerated or not
// (NodeFacts.draining, reported as "being drained"; nodeFacts leaves that taint out of
// NodeFacts.taints), since a VMI placed there would be evacuated at once. Likewise the taints
// Kubernetes derives from what we judge ourselves are left to those rules: unschedulable (the
// cordon), not-ready and unreachable (Ready and a live agent). The API server puts not-ready on
// every new Node and only kube-controller-manager's node lifecycle controller takes it off, which a
// cluster without one (our local system) never does: honoured, it would keep every node empty.

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

const REPELLING_EFFECTS = new Set(['NoSchedule', 'NoExecute']);
/** Kubernetes' taints for the cordon and the Ready condition: judged from those, not as taints. */
export const CONDITION_TAINT_KEYS: ReadonlySet<string> = new Set(['node.kubernetes.io/unschedulable', 'node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The node's taints, from Node.spec.taints; malformed entries are dropped. */
export function taintsOf(raw: unknown): NodeTaint[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t): NodeTaint[] => {
    if (!isObject(t) || typeof t.key !== 'string' || typeof t.effect !== 'string') return [];
    const value = str(t.value);
    return [{ key: t.key, effect: t.effect, ...(value ? { value } : {}) }];
  });
}

/**
 * The VMI's spec.tolerations. The VMI is stored as written (the CRD schema checks the shape), so a
 * malformed entry tolerates nothing: it never opens a tainted node by accident.
 */
export function tolerationsOf(spec: Readonly<Json> | undefined): Toleration[] {
  const raw = spec?.tolerations;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t): Toleration[] => {
    if (!isObject(t)) return [];
    const toleration: Toleration = {};
    for (const field of ['key', 'operator', 'value', 'effect'] as const) {
      const value = str(t[field]);
      if (value !== undefined) toleration[field] = value;
    }
    return [toleration];
  });
}

export function tolerates(toleration: Toleration, taint: NodeTaint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  const operator = toleration.operator || 'Equal';
  if (!toleration.key) return operator === 'Exists';
  if (toleration.key !== taint.key) return false;
  if (operator === 'Exists') return true;
  return operator === 'Equal' && (toleration.value ?? '') === (taint.value ?? '');
}

/** NoSchedule/NoExecute taints none of the tolerations tolerates (the condition taints aside). */
export function untoleratedTaints(taints: readonly NodeTaint[] | undefined, tolerations: readonly Toleration[]): NodeTaint[] {
  return (taints ?? []).filter((taint) => REPELLING_EFFECTS.has(taint.effect) && !CONDITION_TAINT_KEYS.has(taint.key) && !tolerations.some((t) => tolerates(t, taint)));
}

/** The scheduler's phrase for a taint: `{key: value}`. */
export function describeTaint(taint: NodeTaint): string {
  return `had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
}
