// The precedence cases of KubeVirt's migration controller tests ("Migration policy / matching and
// precedence"), in our words, plus the all-labels rule and the layering of the configuration.
import { describe, expect, it } from '@jest/globals';
import { defaultClusterConfig } from './cluster-config.js';
import { effectiveMigrationConfiguration, POLICY_ANNOTATION, resolveForMigration } from './migration-configuration.js';
import { matchPolicy, policyScore } from './migration-policy.js';
import type { MigrationPolicy } from './schemas/migration-policy.js';

/** A VMI and its namespace, each with labels added as policies ask for them. */
function world() {
  return { vmiLabels: {} as Record<string, string>, namespaceLabels: {} as Record<string, string> };
}

/** A policy named `name` that selects `vmi` of the VMI's labels and `ns` of its namespace's, each added to the world. */
function alignedPolicy(w: ReturnType<typeof world>, name: string, vmi: number, ns: number): MigrationPolicy {
  const virtualMachineInstanceSelector: Record<string, string> = {};
  const namespaceSelector: Record<string, string> = {};
  for (let i = 0; i < vmi; i++) w.vmiLabels[`${name}-vmi-${i}`] = virtualMachineInstanceSelector[`${name}-vmi-${i}`] = `v${i}`;
  for (let i = 0; i < ns; i++) w.namespaceLabels[`${name}-ns-${i}`] = namespaceSelector[`${name}-ns-${i}`] = `n${i}`;
  return { metadata: { name }, spec: { selectors: { virtualMachineInstanceSelector, namespaceSelector } } };
}

function matchedName(vmi: number[][], names: string[]): string | undefined {
  const w = world();
  const policies = names.map((name, i) => alignedPolicy(w, name, vmi[i]![0]!, vmi[i]![1]!));
  return matchPolicy(policies, w.vmiLabels, w.namespaceLabels)?.metadata.name;
}

describe('matchPolicy (KubeVirt precedence)', () => {
  it('matches the one policy there is when all its labels match', () => {
    expect(matchedName([[1, 4]], ['one'])).toBe('one');
  });

  it('prefers the policy naming more matching labels in total', () => {
    expect(matchedName([[1, 4], [4, 2]], ['one', 'two'])).toBe('two');
  });

  it('breaks a tie by the first name in lexicographic order, whatever the list order', () => {
    expect(matchedName([[2, 2], [2, 2]], ['aa', 'zz'])).toBe('aa');
    expect(matchedName([[2, 2], [2, 2]], ['zz', 'aa'])).toBe('aa');
  });

  it('lets VMI labels win over namespace labels at the same total', () => {
    for (const n of [1, 3, 5]) {
      // The namespace-label policy's name sorts first, so only the VMI-label rule can pick the other.
      expect(matchedName([[0, n], [n, 0]], ['a-ns', 'b-vmi'])).toBe('b-vmi');
      expect(matchedName([[n, 0], [0, n]], ['b-vmi', 'a-ns'])).toBe('b-vmi');
    }
  });

  it('does not match a policy with one label that does not fit', () => {
    const w = world();
    const policy = alignedPolicy(w, 'p', 4, 3);
    policy.spec.selectors!.virtualMachineInstanceSelector!['p-vmi-0'] = 'XYZ';
    expect(matchPolicy([policy], w.vmiLabels, w.namespaceLabels)).toBeUndefined();
    const nsPolicy = alignedPolicy(w, 'q', 0, 2);
    nsPolicy.spec.selectors!.namespaceSelector!['missing'] = 'x';
    expect(matchPolicy([nsPolicy], w.vmiLabels, w.namespaceLabels)).toBeUndefined();
  });

  it('matches nothing when there are no policies', () => {
    expect(matchPolicy([], { a: 'b' }, { c: 'd' })).toBeUndefined();
  });

  it('matches a policy with empty selectors to every VMI, below any policy that names a label', () => {
    const catchAll: MigrationPolicy = { metadata: { name: 'a-all' }, spec: { selectors: {} } };
    const specific: MigrationPolicy = { metadata: { name: 'z-one' }, spec: { selectors: { namespaceSelector: { team: 'x' } } } };
    expect(matchPolicy([catchAll], undefined, undefined)?.metadata.name).toBe('a-all');
    expect(matchPolicy([catchAll, specific], {}, { team: 'x' })?.metadata.name).toBe('z-one');
  });

  it('does not match a policy without selectors', () => {
    expect(policyScore({ metadata: { name: 'x' }, spec: {} }, { a: 'b' }, {})).toBeUndefined();
  });

  it('does not match VMI labels against a VMI that has none (KubeVirt would skip the check)', () => {
    const policy: MigrationPolicy = { metadata: { name: 'p' }, spec: { selectors: { virtualMachineInstanceSelector: { tier: 'db' } } } };
    expect(matchPolicy([policy], undefined, { tier: 'db' })).toBeUndefined();
    expect(policyScore(policy, { tier: 'db', other: 'x' }, undefined)).toEqual({ vmiLabels: 1, namespaceLabels: 0 });
  });
});

describe('effectiveMigrationConfiguration', () => {
  const cluster = defaultClusterConfig();
  const policy: MigrationPolicy = {
    metadata: { name: 'fast' },
    spec: { selectors: {}, bandwidthPerMigration: '1Gi', completionTimeoutPerGiB: 5, allowWorkloadDisruption: true },
  };

  it('layers cluster ← policy ← explicit keys', () => {
    const effective = effectiveMigrationConfiguration(cluster, { completionTimeoutPerGiB: 9 }, policy);
    expect(effective.bandwidthPerMigration).toBe('1Gi');
    expect(effective.completionTimeoutPerGiB).toBe(9);
    expect(effective.progressTimeout).toBe(cluster.migrations.progressTimeout);
    expect(effective).not.toHaveProperty('allowWorkloadDisruption');
  });

  it('keeps a stamped configuration as it is and reads the policy name from the annotation', () => {
    const stamped = { metadata: { annotations: { [POLICY_ANNOTATION]: 'fast' } }, spec: { migrationConfiguration: { completionTimeoutPerGiB: 7 } } };
    expect(resolveForMigration(cluster, stamped, () => undefined)).toEqual({
      configuration: effectiveMigrationConfiguration(cluster, { completionTimeoutPerGiB: 7 }),
      policyName: 'fast',
    });
    const none = { metadata: { annotations: { [POLICY_ANNOTATION]: '' } }, spec: {} };
    expect(resolveForMigration(cluster, none, () => policy)).toEqual({ configuration: effectiveMigrationConfiguration(cluster, undefined) });
  });

  it('resolves an unstamped migration against the policy that applies now', () => {
    const resolved = resolveForMigration(cluster, { metadata: {}, spec: {} }, () => policy);
    expect(resolved.policyName).toBe('fast');
    expect(resolved.configuration.completionTimeoutPerGiB).toBe(5);
  });
});
