// The JSON merge patch (RFC 7386/7396) that turns `from` into `to`. A merge patch only adds and
// replaces keys; a key `to` lacks must be sent as null, or the stored object keeps it (a VMI's
// migrationState would keep the last migration's failureReason or abort fields).
import { jsonEqual } from './json-equal.js';

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

export function mergePatchBetween(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return to;
  const patch: JsonObject = {};
  for (const key of Object.keys(from)) if (from[key] !== undefined && to[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined || jsonEqual(from[key], value)) continue;
    patch[key] = isObject(from[key]) && isObject(value) ? mergePatchBetween(from[key], value) : value;
  }
  return patch;
}
