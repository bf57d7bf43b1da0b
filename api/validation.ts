// ajv over our schemas, with Kubernetes' OpenAPI extensions understood, and errors turned into
// "path: reason" lines a user can act on.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { JsonSchema } from './schemas/json-schema.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module namespace.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface SchemaIssue {
  /** Dotted path of the offending field, e.g. `spec.vmiName` or `migrations.progressTimeout`. */
  path: string;
  reason: string;
}

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false });
  addFormats(ajv, ['date-time']);
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  ajv.addVocabulary([
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
  ]);
  return ajv;
}

const ajv = createAjv();

export interface SchemaValidator<T> {
  (value: unknown): value is T;
  /** Issues of the last call, each naming the field. */
  issues(rootPath?: string): SchemaIssue[];
}

/** Compiles a schema once; call the result per value. Not re-entrant across awaits. */
export function compileSchema<T>(schema: JsonSchema): SchemaValidator<T> {
  const validate: ValidateFunction = ajv.compile(schema as object);
  const check = ((value: unknown) => validate(value)) as SchemaValidator<T>;
  check.issues = (rootPath = '') => describeErrors(validate.errors ?? [], rootPath);
  return check;
}

function joinPath(rootPath: string, instancePath: string): string {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [rootPath, ...segments].filter((s) => s !== '').join('.');
}

function show(value: unknown): string {
  // JSON has no Infinity (YAML's 1e999 is one): shown as itself, not as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeErrors(errors: ErrorObject[], rootPath: string): SchemaIssue[] {
  // An int-or-string quantity that fails reports once, not once per branch or bound.
  const quantityPaths = new Set(
    errors
      .filter((e) => (e.parentSchema as JsonSchema | undefined)?.['x-kubernetes-int-or-string'])
      .map((e) => e.instancePath),
  );
  const issues: SchemaIssue[] = [];
  const reportedQuantities = new Set<string>();
  for (const error of errors) {
    const isQuantity = quantityPaths.has(error.instancePath);
    if (isQuantity) {
      if (reportedQuantities.has(error.instancePath)) continue;
      reportedQuantities.add(error.instancePath);
    }
    issues.push(describeError(error, joinPath(rootPath, error.instancePath), isQuantity));
  }
  return issues;
}

function describeError(error: ErrorObject, path: string, isQuantity: boolean): SchemaIssue {
  const params = error.params as Record<string, unknown>;
  const got = `(got ${show(error.data)})`;
  if (isQuantity) {
    return { path, reason: `must be a non-negative Kubernetes quantity such as 64Mi or 1Gi ${got}` };
  }
  switch (error.keyword) {
    case 'required':
      return { path: [path, String(params.missingProperty)].filter(Boolean).join('.'), reason: 'is required' };
    case 'additionalProperties': {
      const known = Object.keys((error.parentSchema as JsonSchema).properties ?? {});
      return {
        path: [path, String(params.additionalProperty)].filter(Boolean).join('.'),
        reason: `is not a known key${known.length ? ` (known keys: ${known.join(', ')})` : ''}`,
      };
    }
    case 'type':
      return { path, reason: `must be ${article(String(params.type))} ${params.type} ${got}` };
    case 'enum':
      return { path, reason: `must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')} ${got}` };
    case 'minimum':
      return { path, reason: `must be at least ${params.limit} ${got}` };
    case 'maximum':
      return { path, reason: `must be at most ${params.limit} ${got}` };
    case 'minLength':
      return { path, reason: 'must not be empty' };
    case 'format':
      return { path, reason: `must be a valid ${params.format} ${got}` };
    default:
      return { path, reason: `${error.message ?? 'is invalid'} ${got}` };
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

export function formatIssues(issues: SchemaIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.reason}` : i.reason)).join('; ');
}
