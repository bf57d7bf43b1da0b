// The CustomResourceDefinitions, built from the schemas in ./schemas. `npm run generate` writes
// them to charts/live-migration/crds/, and a test fails when the committed files drift.
import type { JsonSchema } from './schemas/json-schema.js';
import { vmimSchema } from './schemas/vmim.js';
import { vmiSchema } from './schemas/vmi.js';
import { migrationPolicySchema, POLICY_GROUP, POLICY_PLURAL, POLICY_VERSION } from './schemas/migration-policy.js';

export const GROUP = 'kubevirt.io';
export const STORAGE_VERSION = 'v1';
export const SERVED_VERSIONS = ['v1', 'v1alpha3'] as const;
/** KubeVirt's own deprecation of v1alpha3 (kubevirt.io/api core/v1 register.go), sent as a Warning header. */
export const DEPRECATED_VERSIONS: Partial<Record<(typeof SERVED_VERSIONS)[number], string>> = {
  v1alpha3: 'kubevirt.io/v1alpha3 is now deprecated and will be removed in a future release.',
};

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  jsonPath: string;
  description?: string;
  /** 1: shown only by `kubectl get -o wide`. */
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      deprecated?: boolean;
      deprecationWarning?: string;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JsonSchema };
    }>;
  };
}

/**
 * The schema as a structural CRD schema: Kubernetes forbids `additionalProperties: false` beside
 * `properties` (it prunes unknown fields, and kubectl's strict field validation rejects them), so
 * that one keyword is dropped here while ajv keeps enforcing it.
 */
export function toStructural(schema: JsonSchema): JsonSchema {
  const { additionalProperties, properties, items, anyOf, ...rest } = schema;
  const out: JsonSchema = { ...rest };
  if (properties) out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, toStructural(v)]));
  if (typeof additionalProperties === 'object') out.additionalProperties = toStructural(additionalProperties);
  else if (additionalProperties === true || (additionalProperties === false && !properties)) out.additionalProperties = additionalProperties;
  if (items) out.items = toStructural(items);
  if (anyOf) out.anyOf = anyOf.map(toStructural);
  return out;
}

function crd(
  kind: string,
  plural: string,
  shortNames: string[],
  schema: JsonSchema,
  columns: PrinterColumn[],
): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'live-migration' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames,
        categories: ['all', 'kubevirt'],
      },
      // Both versions share one schema, so no conversion webhook is needed: v1alpha3 objects are
      // stored and read back as v1 unchanged.
      versions: SERVED_VERSIONS.map((name) => ({
        name,
        served: true,
        storage: name === STORAGE_VERSION,
        ...(DEPRECATED_VERSIONS[name] ? { deprecated: true, deprecationWarning: DEPRECATED_VERSIONS[name] } : {}),
        subresources: { status: {} },
        additionalPrinterColumns: columns,
        schema: { openAPIV3Schema: toStructural(schema) },
      })),
    },
  };
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

// KubeVirt's short names and its two columns (Phase, VMI, with its descriptions); where the VMI goes,
// progress and age are ours.
export const vmimCrd = crd('VirtualMachineInstanceMigration', 'virtualmachineinstancemigrations', ['vmim', 'vmims'], vmimSchema, [
  { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'The current phase of VM instance migration' },
  { name: 'VMI', type: 'string', jsonPath: '.spec.vmiName', description: 'The name of the VMI to perform the migration on' },
  { name: 'Source', type: 'string', jsonPath: '.status.migrationState.sourceNode' },
  { name: 'Target', type: 'string', jsonPath: '.status.migrationState.targetNode' },
  { name: 'Progress', type: 'integer', jsonPath: '.status.progress.percent', description: 'Percent of data sent' },
  age,
]);

// KubeVirt's columns exactly, so `kubectl get vmi [-o wide]` reads as on a KubeVirt cluster (where
// KubeVirt's own CRD serves the VMI).
const conditionStatus = (type: string) => `.status.conditions[?(@.type=='${type}')].status`;
export const vmiCrd = crd('VirtualMachineInstance', 'virtualmachineinstances', ['vmi', 'vmis'], vmiSchema, [
  age,
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress' },
  { name: 'NodeName', type: 'string', jsonPath: '.status.nodeName' },
  { name: 'Ready', type: 'string', jsonPath: conditionStatus('Ready') },
  { name: 'Live-Migratable', type: 'string', jsonPath: conditionStatus('LiveMigratable'), priority: 1 },
  { name: 'Paused', type: 'string', jsonPath: conditionStatus('Paused'), priority: 1 },
]);

/** KubeVirt's MigrationPolicy: its own group and version, cluster-scoped, one served version. */
export const migrationPolicyCrd: CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${POLICY_PLURAL}.${POLICY_GROUP}`, labels: { 'app.kubernetes.io/part-of': 'live-migration' } },
  spec: {
    group: POLICY_GROUP,
    scope: 'Cluster',
    names: { kind: 'MigrationPolicy', listKind: 'MigrationPolicyList', plural: POLICY_PLURAL, singular: 'migrationpolicy', shortNames: [], categories: ['kubevirt'] },
    versions: [
      {
        name: POLICY_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [age],
        schema: { openAPIV3Schema: toStructural(migrationPolicySchema) },
      },
    ],
  },
};

export const CRDS = [vmimCrd, vmiCrd, migrationPolicyCrd];
