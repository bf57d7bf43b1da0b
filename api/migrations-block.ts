// The `migrations` block of kubevirt-config as KubeVirt wrote it, read into typed values.
//
// What KubeVirt accepted there, by version (its MigrationConfiguration and, for the ConfigMap, the
// private copy in pkg/virt-config/config-map.go):
// - v0.16–v0.30: plain YAML types (`parallelMigrationsPerCluster: 5`), read by a YAML 1.1 decoder.
// - v0.31–v0.47: numbers and booleans had to be quoted (`"5"`, `"true"`, Go's `,string` tags);
//   disableTLS (from v0.43) was a plain boolean. From v0.48 the ConfigMap was no longer read.
// So numbers and booleans may be quoted here; the JSON Schema (CRD, chart) stays typed, and the
// quoted forms are turned into numbers and booleans before it is applied.
//
// Keys: ours and KubeVirt's are validated (a bad value is refused naming the key); KubeVirt's keys
// without effect here and keys nobody knows are warnings, never refusals.
import { parse as parseYaml } from 'yaml';
import { compileSchema, type SchemaIssue } from './validation.js';
import { clusterMigrationsSchema, inertProperties, KEYS_WITHOUT_EFFECT } from './schemas/migration-config.js';
import type { JsonSchema } from './schemas/json-schema.js';
import { taintKeyProblem } from './taint-key.js';

export const MIGRATIONS_KEY = 'migrations';

/** At most this many warnings, each at most this long (the API server truncates past 256). */
export const MAX_WARNINGS = 10;
export const MAX_WARNING_LENGTH = 200;
const MAX_KEY_SHOWN = 64;

export interface MigrationsBlock {
  /** Typed values of the keys that have a meaning here (no inert KubeVirt keys, no unknown keys). */
  values: Record<string, unknown>;
  issues: SchemaIssue[];
  /** Keys accepted without effect, and unknown keys; unbounded (boundWarnings formats them). */
  warnings: SchemaIssue[];
}

const properties: Record<string, JsonSchema> = clusterMigrationsSchema.properties ?? {};
const validate = compileSchema<Record<string, unknown>>(clusterMigrationsSchema);

// Go's `,string` reads "true"/"false"; KubeVirt's YAML 1.1 decoder also read these words as booleans.
const TRUE_WORDS = new Set(['true', 'y', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', 'n', 'no', 'off']);
const INTEGER_TEXT = /^[+-]?\d{1,16}$/;

function shownKey(key: string): string {
  return key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key;
}

function shownValue(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** A quoted number or boolean as its typed value; an issue when the text is neither. */
function unquote(key: string, value: unknown, schema: JsonSchema): { value: unknown } | { issue: SchemaIssue } {
  const path = `${MIGRATIONS_KEY}.${key}`;
  if (typeof value !== 'string') return { value };
  if (schema.type === 'integer') {
    const number = INTEGER_TEXT.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (Number.isSafeInteger(number)) return { value: number };
    const kind = schema.minimum === 1 ? 'a positive integer' : 'an integer';
    return { issue: { path, reason: `must be ${kind} (got ${shownValue(value)})` } };
  }
  if (schema.type === 'boolean') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return { value: true };
    if (FALSE_WORDS.has(word)) return { value: false };
    return { issue: { path, reason: `must be true or false (got ${shownValue(value)})` } };
  }
  if (key === 'nodeDrainTaintKey') {
    const problem = taintKeyProblem(value);
    if (problem) return { issue: { path, reason: problem } };
  }
  return { value };
}

/** The known key closest to a misspelt one, when it is close enough to be a typo. */
function closestKey(key: string): string | undefined {
  if (key.length > MAX_KEY_SHOWN) return undefined;
  let best: { key: string; distance: number } | undefined;
  for (const known of Object.keys(properties)) {
    const distance = editDistance(key.toLowerCase(), known.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: known, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** As admission warnings: `<prefix><path>: <reason>`, short, and few (the rest counted in the last). */
export function boundWarnings(warnings: readonly SchemaIssue[], pathPrefix = ''): string[] {
  const lines = warnings.map((w) => `${pathPrefix}${w.path}: ${w.reason}`);
  const short = lines.map((w) => (w.length > MAX_WARNING_LENGTH ? `${w.slice(0, MAX_WARNING_LENGTH - 1)}…` : w));
  if (short.length <= MAX_WARNINGS) return short;
  return [...short.slice(0, MAX_WARNINGS - 1), `… and ${short.length - (MAX_WARNINGS - 1)} more warnings about ${pathPrefix}${MIGRATIONS_KEY}`];
}

export function parseMigrationsBlock(raw: string | undefined): MigrationsBlock {
  const empty: MigrationsBlock = { values: {}, issues: [], warnings: [] };
  if (raw === undefined || raw.trim() === '') return empty;
  let parsed: unknown;
  try {
    parsed = parseYaml(raw);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ...empty, issues: [{ path: MIGRATIONS_KEY, reason: `is not valid YAML: ${detail}` }] };
  }
  if (parsed === null || parsed === undefined) return empty;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ...empty, issues: [{ path: MIGRATIONS_KEY, reason: 'must be a YAML mapping of keys to values' }] };
  }

  const issues: SchemaIssue[] = [];
  const warnings: SchemaIssue[] = [];
  const typed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const schema = Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (!schema) {
      const guess = closestKey(key);
      warnings.push({ path: `${MIGRATIONS_KEY}.${shownKey(key)}`, reason: `unknown key, ignored${guess ? ` (did you mean ${guess}?)` : ''}` });
      continue;
    }
    // KubeVirt decoded into pointer fields: an empty value (null) left the default in place.
    if (value === null) continue;
    const result = unquote(key, value, schema);
    if ('issue' in result) issues.push(result.issue);
    else typed[key] = result.value;
    const why = KEYS_WITHOUT_EFFECT[key];
    if (why) warnings.push({ path: `${MIGRATIONS_KEY}.${key}`, reason: `accepted, but has no effect here: ${why}` });
  }
  if (!validate(typed)) issues.push(...validate.issues(MIGRATIONS_KEY));
  if (issues.length > 0) return { values: {}, issues, warnings: [] };
  const values = Object.fromEntries(Object.entries(typed).filter(([key]) => !Object.hasOwn(inertProperties, key)));
  return { values, issues, warnings };
}
