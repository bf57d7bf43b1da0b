// MigrationPolicy (migrations.kubevirt.io/v1alpha1, cluster-scoped): how an admin tunes migration
// per workload, KubeVirt's schema. Selectors are plain label maps; a policy applies to a VMI only
// when every label it names matches (see api/migration-policy.ts for which one wins).
import { perMigrationProperties } from './migration-config.js';
import type { JsonSchema } from './json-schema.js';
import type { ObjectMeta } from './object-meta.js';

export const POLICY_GROUP = 'migrations.kubevirt.io';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_PLURAL = 'migrationpolicies';

/** The per-migration keys a policy sets (KubeVirt's four); allowWorkloadDisruption is not one of ours. */
export const POLICY_KEYS = ['allowAutoConverge', 'bandwidthPerMigration', 'completionTimeoutPerGiB', 'allowPostCopy'] as const;

const labelMap = (description: string): JsonSchema => ({
  type: 'object',
  additionalProperties: { type: 'string' },
  description,
});

export const migrationPolicySpecSchema: JsonSchema = {
  type: 'object',
  required: ['selectors'],
  properties: {
    selectors: {
      type: 'object',
      description: 'Which VMIs the policy applies to: all labels named here must match.',
      properties: {
        namespaceSelector: labelMap('Labels the namespace of the VMI must carry.'),
        virtualMachineInstanceSelector: labelMap('Labels the VMI must carry.'),
      },
      additionalProperties: false,
    },
    // The same schemas as the keys of kubevirt-config and spec.migrationConfiguration.
    ...Object.fromEntries(POLICY_KEYS.map((key) => [key, perMigrationProperties[key] as JsonSchema])),
    allowWorkloadDisruption: {
      type: 'boolean',
      description: 'Accepted for compatibility with KubeVirt; has no effect here (this system has no paused or post-copy switch-over beyond allowPostCopy).',
    },
  },
  additionalProperties: false,
};

export const migrationPolicySchema: JsonSchema = {
  type: 'object',
  description: 'Migration settings an admin applies to the VMIs it selects, over the cluster defaults of kubevirt-config.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: migrationPolicySpecSchema,
    status: { type: 'object', description: 'Empty, as in KubeVirt.', 'x-kubernetes-preserve-unknown-fields': true },
  },
};

export interface MigrationPolicySpec {
  selectors?: {
    namespaceSelector?: Record<string, string>;
    virtualMachineInstanceSelector?: Record<string, string>;
  };
  allowAutoConverge?: boolean;
  bandwidthPerMigration?: string | number;
  completionTimeoutPerGiB?: number;
  allowPostCopy?: boolean;
  allowWorkloadDisruption?: boolean;
}

export interface MigrationPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: MigrationPolicySpec;
  status?: Record<string, unknown>;
}

