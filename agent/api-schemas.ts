// JSON Schemas of the agent API's request bodies, checked with ajv before anything reaches a driver.
// Why strict (additionalProperties: false, integers, bounds): the reconciler and the agent are
// upgraded separately, and a misspelt or mistyped field must be a 400 that names it, not a
// migration that silently runs uncapped because `bandwidthBytesPerSecnd` was ignored.
import { compileSchema, formatIssues, type SchemaValidator } from '../api/validation.js';
import type { JsonSchema } from '../api/schemas/json-schema.js';
import type { PrepareTargetRequest, StartMigrationRequest } from './contract.js';

/**
 * What a migration UID may look like in a path and a body: Kubernetes UIDs are UUIDs; we accept any
 * short token of URL-safe characters so tests and tools can use readable ones.
 */
export const MIGRATION_UID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const migrationUidRegExp = new RegExp(MIGRATION_UID_PATTERN);

export function isMigrationUid(value: string): boolean {
  return migrationUidRegExp.test(value);
}

const nonEmpty: JsonSchema = { type: 'string', minLength: 1, maxLength: 253 };
const bytes: JsonSchema = { type: 'integer', format: 'int64', minimum: 0 };

const vmiRef: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['namespace', 'name'],
  properties: { namespace: nonEmpty, name: nonEmpty, uid: { type: 'string', maxLength: 128 } },
};

const annotations: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'string' },
};

/** Port → proxied port (0 for the migration stream), as in KubeVirt's targetDirectMigrationNodePorts. */
const ports: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'integer', minimum: 0, maximum: 65535 },
};

export const prepareTargetRequestSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['migrationUid', 'vmi', 'sourceNode', 'memoryBytes'],
  properties: {
    migrationUid: { type: 'string', pattern: MIGRATION_UID_PATTERN },
    vmi: vmiRef,
    sourceNode: nonEmpty,
    memoryBytes: { ...bytes, minimum: 1 },
    annotations,
  },
};

export const startMigrationRequestSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['migrationUid', 'vmi', 'destination', 'bandwidthBytesPerSecond', 'allowAutoConverge', 'allowPostCopy', 'memoryBytes'],
  properties: {
    migrationUid: { type: 'string', pattern: MIGRATION_UID_PATTERN },
    vmi: vmiRef,
    destination: {
      type: 'object',
      additionalProperties: false,
      required: ['nodeName', 'address', 'ports'],
      properties: { nodeName: nonEmpty, address: nonEmpty, ports },
    },
    bandwidthBytesPerSecond: bytes,
    maxDowntimeMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
    allowAutoConverge: { type: 'boolean' },
    allowPostCopy: { type: 'boolean' },
    disableTLS: { type: 'boolean' },
    memoryBytes: { ...bytes, minimum: 1 },
    annotations,
  },
};

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; error: string };

function checker<T>(schema: JsonSchema): (body: unknown) => BodyCheck<T> {
  const validate: SchemaValidator<T> = compileSchema<T>(schema);
  // issues() reads the last call's errors, so it is taken at once, before any await.
  return (body) => (validate(body) ? { ok: true, value: body } : { ok: false, error: formatIssues(validate.issues()) });
}

export const checkPrepareTargetRequest = checker<PrepareTargetRequest>(prepareTargetRequestSchema);
export const checkStartMigrationRequest = checker<StartMigrationRequest>(startMigrationRequestSchema);
