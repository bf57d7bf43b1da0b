// VirtualMachineInstance: only the fields migration reads or writes are typed; the rest of the spec
// (the domain, devices we do not inspect) and of the status is kept as it is.
import { QUANTITY_MAX_LENGTH, QUANTITY_PATTERN } from '../quantity.js';
import { conditionSchema, migrationStateSchema, type Condition, type MigrationState } from './migration-state.js';
import type { JsonSchema } from './json-schema.js';
import type { ObjectMeta } from './object-meta.js';

export const VMI_PHASES = ['Pending', 'Scheduling', 'Scheduled', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
export type VmiPhase = (typeof VMI_PHASES)[number];
export const FINAL_VMI_PHASES: readonly VmiPhase[] = ['Succeeded', 'Failed'];

/** KubeVirt's eviction strategies: what draining the VMI's node does to it. */
export const EVICTION_STRATEGIES = ['None', 'LiveMigrate', 'LiveMigrateIfPossible', 'External'] as const;
export type EvictionStrategy = (typeof EVICTION_STRATEGIES)[number];

export const MIGRATION_METHODS = ['BlockMigration', 'LiveMigration'] as const;
export type MigrationMethod = (typeof MIGRATION_METHODS)[number];

const namedRef = (key: string, description: string): JsonSchema => ({
  type: 'object',
  description,
  required: [key],
  properties: { [key]: { type: 'string' } },
  'x-kubernetes-preserve-unknown-fields': true,
});

const opaque = (description: string): JsonSchema => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
});

/**
 * A memory size migration reads (its size, its timeout): a Kubernetes quantity whose length and
 * exponent are bounded in the schema itself, so `1e300000000` is refused by the API server, naming
 * the field, before any component parses it.
 */
const memoryQuantity: JsonSchema = {
  'x-kubernetes-int-or-string': true,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  minimum: 0,
  pattern: QUANTITY_PATTERN.replace('^[+-]?', '^\\+?'),
  maxLength: QUANTITY_MAX_LENGTH,
  description: 'A Kubernetes quantity (e.g. 2Gi); at most 64 characters and a decimal exponent of at most 18.',
};

export const volumeSchema: JsonSchema = {
  type: 'object',
  required: ['name'],
  'x-kubernetes-preserve-unknown-fields': true,
  properties: {
    name: { type: 'string' },
    persistentVolumeClaim: namedRef('claimName', 'A PVC; live-migratable only when ReadWriteMany.'),
    dataVolume: namedRef('name', "A DataVolume; its PVC of the same name must be ReadWriteMany."),
    hostDisk: opaque('A disk on the host: never live-migratable.'),
    containerDisk: opaque('An ephemeral disk from an image: copied by BlockMigration.'),
    emptyDisk: opaque('A scratch disk: copied by BlockMigration.'),
    ephemeral: opaque('A copy-on-write layer over a PVC: copied by BlockMigration.'),
    cloudInitNoCloud: opaque('Cloud-init data: copied by BlockMigration.'),
    cloudInitConfigDrive: opaque('Cloud-init data: copied by BlockMigration.'),
  },
};

export const vmiSpecSchema: JsonSchema = {
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
  properties: {
    nodeSelector: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Labels every node hosting this VMI must have, the migration target included.',
    },
    volumes: { type: 'array', items: volumeSchema },
    tolerations: {
      type: 'array',
      description:
        "Taints this VMI tolerates, as for a pod: a node's NoSchedule/NoExecute taint keeps the VMI (new or migrating) off it unless tolerated. A node being drained or cordoned receives no VMI whatever it tolerates.",
      items: {
        type: 'object',
        properties: {
          key: { type: 'string', maxLength: 316 },
          operator: { type: 'string', enum: ['', 'Exists', 'Equal'], description: 'Equal (the default, also when empty) also compares value; Exists matches any value (and, with no key, any taint).' },
          value: { type: 'string', maxLength: 63 },
          effect: { type: 'string', enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'], description: 'Empty matches every effect.' },
          tolerationSeconds: { type: 'integer', format: 'int64' },
        },
      },
    },
    evictionStrategy: {
      type: 'string',
      enum: [...EVICTION_STRATEGIES],
      description:
        'What draining the node does to this VMI: LiveMigrate (evacuate by live migration; stays and is reported when not live-migratable), LiveMigrateIfPossible (the same here: a VMI that cannot migrate stays and is reported), External (marked with status.evacuationNodeName, no migration created: another controller acts), None (stays, reported). Unset: kubevirt-config evictionStrategy.',
    },
    domain: {
      ...opaque('The guest: memory, CPU, devices (kept as given; the memory sizes migration reads are bounded quantities).'),
      properties: {
        memory: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { guest: memoryQuantity } },
        resources: {
          type: 'object',
          'x-kubernetes-preserve-unknown-fields': true,
          properties: {
            requests: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { memory: memoryQuantity } },
            limits: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { memory: memoryQuantity } },
          },
        },
      },
    },
  },
};

export const vmiStatusSchema: JsonSchema = {
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
  properties: {
    phase: { type: 'string', enum: [...VMI_PHASES], description: 'Lifecycle phase of the VMI.' },
    nodeName: { type: 'string', description: 'Node the VMI runs on.' },
    conditions: { type: 'array', items: conditionSchema },
    migrationMethod: {
      type: 'string',
      enum: [...MIGRATION_METHODS],
      description: 'BlockMigration when local disks must be copied; LiveMigration when only memory is.',
    },
    migrationState: migrationStateSchema,
    evacuationNodeName: {
      type: 'string',
      description: 'Set while the VMI is to be evacuated from this node (its node is being drained); cleared once it left, or when the drain is called off.',
    },
  },
};

export const vmiSchema: JsonSchema = {
  type: 'object',
  description: 'A running virtual machine.',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: vmiSpecSchema,
    status: vmiStatusSchema,
  },
};

export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string };
  dataVolume?: { name: string };
  hostDisk?: Record<string, unknown>;
  containerDisk?: Record<string, unknown>;
  emptyDisk?: Record<string, unknown>;
  ephemeral?: Record<string, unknown>;
  cloudInitNoCloud?: Record<string, unknown>;
  cloudInitConfigDrive?: Record<string, unknown>;
}

export interface VirtualMachineInstance {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    nodeSelector?: Record<string, string>;
    volumes?: Volume[];
    evictionStrategy?: EvictionStrategy;
    domain?: Record<string, unknown>;
    [key: string]: unknown;
  };
  status?: {
    phase?: VmiPhase;
    nodeName?: string;
    conditions?: Condition[];
    migrationMethod?: MigrationMethod;
    migrationState?: MigrationState;
    evacuationNodeName?: string;
    [key: string]: unknown;
  };
}
