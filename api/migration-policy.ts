// Which MigrationPolicy applies to a VMI, KubeVirt's precedence: among the policies whose every
// selector label matches (the VMI's labels for virtualMachineInstanceSelector, its namespace's for
// namespaceSelector), the one naming the most labels wins; on a tie in that total, the one with more
// VMI labels; then the first name in lexicographic order. A policy with empty selectors matches every
// VMI, with the lowest score. One difference from KubeVirt, on purpose: a VMI without labels does
// not match a policy that names VMI labels (KubeVirt skips the check when the VMI has no labels).
import type { MigrationPolicy } from './schemas/migration-policy.js';

export interface PolicyScore {
  vmiLabels: number;
  namespaceLabels: number;
}

type Labels = Readonly<Record<string, string>> | undefined;

/** How many of the policy's labels match, or undefined when one of them does not (no match). */
export function policyScore(policy: MigrationPolicy, vmiLabels: Labels, namespaceLabels: Labels): PolicyScore | undefined {
  const selectors = policy.spec?.selectors;
  if (selectors === undefined || selectors === null) return undefined;
  const count = (wanted: Labels, actual: Labels): number | undefined => {
    const entries = Object.entries(wanted ?? {});
    return entries.every(([key, value]) => actual?.[key] === value) ? entries.length : undefined;
  };
  const vmi = count(selectors.virtualMachineInstanceSelector, vmiLabels);
  const namespace = count(selectors.namespaceSelector, namespaceLabels);
  return vmi === undefined || namespace === undefined ? undefined : { vmiLabels: vmi, namespaceLabels: namespace };
}

/** Positive when `a` is the more specific match. */
export function compareScores(a: PolicyScore, b: PolicyScore): number {
  const total = a.vmiLabels + a.namespaceLabels - (b.vmiLabels + b.namespaceLabels);
  return total !== 0 ? total : a.vmiLabels - b.vmiLabels;
}

/** The policy that applies to a VMI with these labels in a namespace with these labels, if any. */
export function matchPolicy(policies: readonly MigrationPolicy[], vmiLabels: Labels, namespaceLabels: Labels): MigrationPolicy | undefined {
  let best: { policy: MigrationPolicy; score: PolicyScore } | undefined;
  for (const policy of policies) {
    const score = policyScore(policy, vmiLabels, namespaceLabels);
    if (score === undefined) continue;
    const order = best === undefined ? 1 : compareScores(score, best.score);
    if (order > 0 || (order === 0 && best !== undefined && (policy.metadata.name ?? '') < (best.policy.metadata.name ?? ''))) {
      best = { policy, score };
    }
  }
  return best?.policy;
}
