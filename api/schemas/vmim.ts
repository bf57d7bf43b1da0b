// VirtualMachineInstanceMigration: the schema the CRD serves and the webhook enforces with ajv.
import { perMigrationConfigSchema, type MigrationConfiguration } from './migration-config.js';
import { conditionSchema, migrationStateSchema, type Condition, type MigrationState } from './migration-state.js';
import type { JsonSchema } from './json-schema.js';
import type { ObjectMeta } from './object-meta.js';

export const MIGRATION_PHASES = [
  'Pending',
  'Scheduling',
  'Scheduled',
  'PreparingTarget',
  'TargetReady',
  'Running',
  'Succeeded',
  'Failed',
] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];
export const FINAL_MIGRATION_PHASES: readonly MigrationPhase[] = ['Succeeded', 'Failed'];

export const MIGRATION_PRIORITIES = ['system-critical', 'user-triggered', 'system-maintenance'] as const;
export type MigrationPriority = (typeof MIGRATION_PRIORITIES)[number];

const int64 = (description: string): JsonSchema => ({ type: 'integer', format: 'int64', minimum: 0, description });

export const migrationProgressSchema: JsonSchema = {
  type: 'object',
  description: 'Live progress of a running migration, reported by the source node agent every second or two.',
  properties: {
    dataProcessedBytes: int64('Bytes sent so far.'),
    dataRemainingBytes: int64('Bytes still to send (grows when the guest dirties memory).'),
    dataTotalBytes: int64('Bytes to send in all, as the hypervisor sees it now.'),
    percent: { type: 'integer', minimum: 0, maximum: 100, description: 'Processed ÷ total, in percent.' },
    bandwidthMiBps: { type: 'number', minimum: 0, description: 'Transfer rate in MiB/s.' },
    dirtyRateBytesPerSecond: int64('How fast the guest dirties memory, in bytes per second.'),
    iteration: { type: 'integer', minimum: 0, description: 'Pre-copy pass over memory.' },
    etaSeconds: { type: 'integer', minimum: 0, nullable: true, description: 'Estimated seconds to completion, if it converges.' },
    expectedDowntimeMs: { type: 'integer', minimum: 0, description: 'Expected pause at switch-over.' },
    updatedAt: { type: 'string', format: 'date-time', description: 'When the agent sampled these numbers.' },
    lowestDataRemainingBytes: int64('Lowest data remaining seen so far: the progress timeout runs while it does not go down.'),
    lastProgressAt: { type: 'string', format: 'date-time', description: 'When data remaining last went below its lowest value.' },
  },
};

export const vmimSpecSchema: JsonSchema = {
  type: 'object',
  required: ['vmiName'],
  properties: {
    vmiName: {
      type: 'string',
      minLength: 1,
      description: 'Name of the VirtualMachineInstance to migrate, in the same namespace as this migration. Required.',
    },
    addedNodeSelector: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: "Labels the target node must also have. Keys the VMI's own nodeSelector sets win.",
    },
    priority: {
      type: 'string',
      enum: [...MIGRATION_PRIORITIES],
      description: 'Queue order among waiting migrations. Only the system itself may set it.',
    },
    migrationConfiguration: perMigrationConfigSchema,
  },
};

export const vmimStatusSchema: JsonSchema = {
  type: 'object',
  properties: {
    phase: { type: 'string', enum: [...MIGRATION_PHASES], description: 'Where the migration is.' },
    phaseTransitionTimestamps: {
      type: 'array',
      description: 'When each phase was first reached.',
      items: {
        type: 'object',
        properties: {
          phase: { type: 'string', enum: [...MIGRATION_PHASES] },
          phaseTransitionTimestamp: { type: 'string', format: 'date-time' },
        },
      },
    },
    conditions: { type: 'array', items: conditionSchema },
    migrationState: migrationStateSchema,
    progress: migrationProgressSchema,
  },
};

export const vmimSchema: JsonSchema = {
  type: 'object',
  description: 'A request to move a running VirtualMachineInstance to another node.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: vmimSpecSchema,
    status: vmimStatusSchema,
  },
};

export interface MigrationProgress {
  dataProcessedBytes?: number;
  dataRemainingBytes?: number;
  dataTotalBytes?: number;
  percent?: number;
  bandwidthMiBps?: number;
  dirtyRateBytesPerSecond?: number;
  iteration?: number;
  etaSeconds?: number | null;
  expectedDowntimeMs?: number;
  updatedAt?: string;
  lowestDataRemainingBytes?: number;
  lastProgressAt?: string;
}

export interface VirtualMachineInstanceMigration {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    vmiName: string;
    addedNodeSelector?: Record<string, string>;
    priority?: MigrationPriority;
    migrationConfiguration?: Partial<MigrationConfiguration>;
  };
  status?: {
    phase?: MigrationPhase;
    phaseTransitionTimestamps?: Array<{ phase: MigrationPhase; phaseTransitionTimestamp: string }>;
    conditions?: Condition[];
    migrationState?: MigrationState;
    progress?: MigrationProgress;
  };
}
