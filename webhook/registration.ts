// Pieces of the webhook configurations shared by every place that registers them in TypeScript
// (the local system, tests); the Helm chart renders the same in templates/_helpers.tpl.

/**
 * Operations on VMIMs each webhook sees. The mutating one sees UPDATE too, to put back
 * spec.migrationConfiguration a client that does not know it dropped (Get → Update round trip).
 */
export const VMIM_OPERATIONS = { mutate: ['CREATE', 'UPDATE'], validate: ['CREATE', 'UPDATE'] } as const;

/**
 * A matchCondition (on both VMIM webhooks) that keeps the reconciler's own VMIM updates (removing its finalizer, labels)
 * away from the webhook, so they never depend on it being up: with failurePolicy Fail an
 * unreachable webhook would otherwise hold every finalizer hostage. Its status writes go to the
 * status subresource, which the rules do not intercept at all.
 */
export function reconcilerUpdatesExempt(reconcilerUsername: string): { name: string; expression: string } {
  if (reconcilerUsername.includes("'") || reconcilerUsername.includes('\\')) {
    throw new Error(`reconciler username ${JSON.stringify(reconcilerUsername)} cannot be quoted in CEL`);
  }
  return {
    name: 'not-reconciler-updates',
    expression: `!(request.operation == 'UPDATE' && request.userInfo.username == '${reconcilerUsername}')`,
  };
}

/** The username of a ServiceAccount, as the API server authenticates its tokens. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Operations on VMIs the VMI webhook sees: the subset is checked when a VMI is created. */
export const VMI_OPERATIONS = { validate: ['CREATE'] } as const;

/**
 * A matchCondition on the VMI webhook: a VMI run by someone else (`live-migration.io/placement:
 * external`, KubeVirt's own virt-handler or a harness playing it) never waits on this webhook.
 */
export const NOT_EXTERNAL_VMI = {
  name: 'not-external-vmis',
  expression: "!has(object.metadata.annotations) || !('live-migration.io/placement' in object.metadata.annotations) || object.metadata.annotations['live-migration.io/placement'] != 'external'",
} as const;
