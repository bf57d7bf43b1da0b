// RFC 6902 patches built by diffing the object we were given against the object we want.
// Arrays are extended with `add …/-` and changed element by element, never replaced whole, so a
// patch composes with other mutating webhooks that appended to the same list.
import { jsonEqual } from '../../common/json-equal.js';
import { isPlainObject } from './types.js';

export type JsonPatchOperation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** Escapes one path segment (RFC 6901). */
export function pointerSegment(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

export { jsonEqual };

function diffInto(ops: JsonPatchOperation[], path: string, from: unknown, to: unknown): void {
  if (jsonEqual(from, to)) return;
  if (isPlainObject(from) && isPlainObject(to)) {
    for (const key of Object.keys(from)) {
      if (!Object.hasOwn(to, key)) ops.push({ op: 'remove', path: `${path}/${pointerSegment(key)}` });
    }
    for (const [key, value] of Object.entries(to)) {
      const child = `${path}/${pointerSegment(key)}`;
      if (!Object.hasOwn(from, key)) ops.push({ op: 'add', path: child, value });
      else diffInto(ops, child, from[key], value);
    }
    return;
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    const common = Math.min(from.length, to.length);
    for (let i = 0; i < common; i++) diffInto(ops, `${path}/${i}`, from[i], to[i]);
    for (let i = common; i < to.length; i++) ops.push({ op: 'add', path: `${path}/-`, value: to[i] });
    // Remove from the end so earlier indices stay valid.
    for (let i = from.length - 1; i >= to.length; i--) ops.push({ op: 'remove', path: `${path}/${i}` });
    return;
  }
  if (path === '') throw new Error('cannot patch the document root to a different type');
  ops.push({ op: 'replace', path, value: to });
}

/** The operations that turn `from` into `to`; empty when they are equal. */
export function diff(from: unknown, to: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  diffInto(ops, '', from, to);
  return ops;
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`bad JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Applies a patch to a deep copy (for tests and for checking idempotence); throws on a path that
 * does not exist, as the API server would.
 */
export function applyPatch<T>(document: T, ops: readonly JsonPatchOperation[]): T {
  const root: { doc: unknown } = { doc: structuredClone(document) };
  for (const op of ops) {
    const segments = ['doc', ...parsePointer(op.path)];
    const last = segments.pop() as string;
    let parent: unknown = root;
    for (const segment of segments) {
      parent = Array.isArray(parent) ? parent[Number(segment)] : (parent as Record<string, unknown>)[segment];
      if (typeof parent !== 'object' || parent === null) throw new Error(`path ${op.path} does not exist`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`bad index in ${op.path}`);
      if (op.op === 'add') parent.splice(index, 0, op.value);
      else if (op.op === 'replace') parent[index] = op.value;
      else parent.splice(index, 1);
    } else {
      const object = parent as Record<string, unknown>;
      if (op.op !== 'add' && !Object.hasOwn(object, last)) throw new Error(`path ${op.path} does not exist`);
      if (op.op === 'remove') delete object[last];
      else object[last] = op.value;
    }
  }
  return root.doc as T;
}
