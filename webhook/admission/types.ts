// The admission.k8s.io AdmissionReview shapes we read and answer, and the decision every handler
// returns. Kept free of express and of the Kubernetes client so decisions stay plain functions.
import type { JsonPatchOperation } from './json-patch.js';

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

/**
 * metav1.StatusCause: one reason a request is invalid, with the field it concerns when known.
 * kubectl shows a 422 as "The request is invalid: <field>: <message>", one line per cause, and not
 * the status message: a cause's message must stand on its own.
 */
export interface StatusCause {
  /** metav1.CauseType (JSON `reason`), e.g. FieldValueRequired, FieldValueInvalid, FieldValueForbidden, FieldValueNotSupported. */
  reason: string;
  message: string;
  field?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  /** A metav1.Status: the API server answers the client with it (code, reason, message, details). */
  status?: { code: number; message: string; reason?: string; details?: { causes: StatusCause[] } };
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/**
 * Why a request was decided the way it was. A closed set so it can label metrics without
 * unbounded cardinality.
 */
export const DECISION_REASONS = [
  'Admitted',
  'Mutated',
  'NotApplicable',
  'FeatureGateDisabled',
  'ConfigInvalid',
  'SchemaInvalid',
  'PriorityForbidden',
  'MigrationConfigurationForbidden',
  'NodeSelectorInvalid',
  'VMINotFound',
  'VMIFinal',
  'VMINotMigratable',
  'MigrationInFlight',
  'SpecImmutable',
  'VMINameLabelImmutable',
  'InternalError',
  'CachesNotSynced',
  'VMIFieldNotSupported',
  'VMIInvalid',
] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];

export type Decision =
  | { allowed: true; reason: DecisionReason; patch?: JsonPatchOperation[]; warnings?: string[] }
  | { allowed: false; reason: DecisionReason; message: string; code?: number; causes?: StatusCause[] };

export function allow(reason: DecisionReason = 'Admitted'): Decision {
  return { allowed: true, reason };
}

/**
 * A refusal. KubeVirt answers 400 (BadRequest) to every refusal that is not about the object's
 * fields; those are 422 (Invalid) with their causes (see `invalid`). A client that retries on 409
 * or treats 403 as an RBAC problem would be misled, so nothing else is used but 503 (retryable).
 */
export function deny(reason: DecisionReason, message: string, code = 400): Decision {
  return { allowed: false, reason, message, code };
}

/** A refusal about the object's fields: 422 (Invalid) with metav1 causes, as KubeVirt's ToAdmissionResponse. */
export function invalid(reason: DecisionReason, message: string, causes: StatusCause[]): Decision {
  return { allowed: false, reason, message, code: 422, causes };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `ns/name` as users see it in messages; tolerant of a missing name. */
export function qualifiedName(namespace: string | undefined, name: string | undefined): string {
  const shownName = name && name !== '' ? name : '<no spec.vmiName>';
  return namespace ? `${namespace}/${shownName}` : shownName;
}
