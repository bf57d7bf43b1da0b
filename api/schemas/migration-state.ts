// `migrationState`: the same shape on VMI.status and VMIM.status (KubeVirt's field names).
import { perMigrationConfigSchema, type MigrationConfiguration } from './migration-config.js';
import type { JsonSchema } from './json-schema.js';

const timestamp = (description: string): JsonSchema => ({
  type: 'string',
  format: 'date-time',
  nullable: true,
  description,
});

export const ABORT_STATUSES = ['Aborting', 'Succeeded', 'Failed'] as const;
export type AbortStatus = (typeof ABORT_STATUSES)[number];

export const MIGRATION_MODES = ['PreCopy', 'PostCopy', 'Paused'] as const;
export type MigrationMode = (typeof MIGRATION_MODES)[number];

export const migrationStateSchema: JsonSchema = {
  type: 'object',
  description: 'State of the newest migration of a VMI, as KubeVirt reports it.',
  properties: {
    migrationUid: { type: 'string', description: 'UID of the VirtualMachineInstanceMigration.' },
    sourceNode: { type: 'string', description: 'Node the VMI migrates from.' },
    targetNode: { type: 'string', description: 'Node the VMI migrates to.' },
    targetNodeAddress: { type: 'string', description: 'Address the target node agent receives the migration on.' },
    targetDirectMigrationNodePorts: {
      type: 'object',
      additionalProperties: { type: 'integer' },
      description: 'Ports open on the target: port → 0 for the migration stream, or the libvirt port it proxies.',
    },
    targetPod: { type: 'string', description: 'What receives the VMI on the target (the agent pod or process).' },
    targetNodeDomainDetected: { type: 'boolean', description: 'The target saw the domain arrive and run.' },
    targetNodeDomainReadyTimestamp: timestamp('When the target node confirmed the migrated domain runs there.'),
    startTimestamp: timestamp('When the migration started running.'),
    endTimestamp: timestamp('When the migration ended, either way.'),
    completed: { type: 'boolean', description: 'The migration is over (successfully or not).' },
    failed: { type: 'boolean', description: 'The migration failed or was aborted.' },
    failureReason: { type: 'string', description: 'Why the migration failed: a typed reason, then a message.' },
    abortRequested: { type: 'boolean', description: 'The migration was cancelled (its VMIM deleted).' },
    abortStatus: { type: 'string', enum: [...ABORT_STATUSES], description: 'Outcome of the abort request.' },
    mode: { type: 'string', enum: [...MIGRATION_MODES], description: 'How memory is being moved.' },
    migrationConfiguration: {
      ...perMigrationConfigSchema,
      description: 'The resolved configuration the migration ran under.',
    },
    migrationPolicyName: { type: 'string', description: 'The MigrationPolicy whose settings the migration runs under, if one applied.' },
  },
};

export interface MigrationState {
  migrationUid?: string;
  sourceNode?: string;
  targetNode?: string;
  targetNodeAddress?: string;
  targetDirectMigrationNodePorts?: Record<string, number>;
  targetPod?: string;
  targetNodeDomainDetected?: boolean;
  targetNodeDomainReadyTimestamp?: string | null;
  startTimestamp?: string | null;
  endTimestamp?: string | null;
  completed?: boolean;
  failed?: boolean;
  failureReason?: string;
  abortRequested?: boolean;
  abortStatus?: AbortStatus;
  mode?: MigrationMode;
  migrationConfiguration?: Partial<MigrationConfiguration>;
  migrationPolicyName?: string;
}

export const conditionSchema: JsonSchema = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string' },
    message: { type: 'string' },
    lastProbeTime: { type: 'string', format: 'date-time', nullable: true },
    lastTransitionTime: { type: 'string', format: 'date-time', nullable: true },
  },
};

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string | null;
}
