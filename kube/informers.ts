// Defensive informers for the kinds the controllers read, so each controller says what it
// watches in one line.
import { CertificatesV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1CertificateSigningRequest, type V1ConfigMap, type V1Lease, type V1Namespace, type V1Node, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { POLICY_GROUP, POLICY_PLURAL, POLICY_VERSION, type MigrationPolicy } from '../api/schemas/migration-policy.js';
import type { ClusterConfigLocation } from '../api/cluster-config.js';
import { GROUP, STORAGE_VERSION } from '../api/crds.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { DefensiveInformer, listAllPages, type DefensiveInformerOptions, type InformerLogger, type ObjectList, type ObjectWithMeta } from './informer.js';
import { VMI_PLURAL, VMIM_PLURAL } from './kubevirt-client.js';

export interface InformerContext {
  kubeConfig: KubeConfig;
  logger?: InformerLogger;
  staleAfterMs?: number;
  /** Watch namespaced kinds in this namespace only (tests, single-tenant installs); all when absent. */
  namespace?: string;
}

type Extra<T extends ObjectWithMeta> = Pick<DefensiveInformerOptions<T>, 'onEvent' | 'labelSelector' | 'fieldSelector'>;

const PAGE = 500;

function customInformer<T extends ObjectWithMeta>(context: InformerContext, plural: string, extra: Extra<T>): DefensiveInformer<T> {
  const api = context.kubeConfig.makeApiClient(CustomObjectsApi);
  const { namespace } = context;
  const common = { group: GROUP, version: STORAGE_VERSION, plural, limit: PAGE };
  return new DefensiveInformer<T>({
    ...context,
    ...extra,
    name: namespace ? `${plural} in ${namespace}` : plural,
    path: `/apis/${GROUP}/${STORAGE_VERSION}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`,
    list: () =>
      listAllPages((continueToken) =>
        namespace
          ? api.listNamespacedCustomObject({ ...common, namespace, _continue: continueToken })
          : api.listClusterCustomObject({ ...common, _continue: continueToken }),
      ) as Promise<ObjectList<T>>,
  });
}

export function migrationInformer(context: InformerContext, extra: Extra<VirtualMachineInstanceMigration> = {}) {
  return customInformer<VirtualMachineInstanceMigration>(context, VMIM_PLURAL, extra);
}

export function vmiInformer(context: InformerContext, extra: Extra<VirtualMachineInstance> = {}) {
  return customInformer<VirtualMachineInstance>(context, VMI_PLURAL, extra);
}

/** Every MigrationPolicy (cluster-scoped, migrations.kubevirt.io). */
export function migrationPolicyInformer(context: InformerContext, extra: Extra<MigrationPolicy> = {}) {
  const api = context.kubeConfig.makeApiClient(CustomObjectsApi);
  const common = { group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURAL, limit: PAGE };
  return new DefensiveInformer<MigrationPolicy>({
    ...context,
    ...extra,
    name: POLICY_PLURAL,
    path: `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${POLICY_PLURAL}`,
    list: () => listAllPages((continueToken) => api.listClusterCustomObject({ ...common, _continue: continueToken })) as Promise<ObjectList<MigrationPolicy>>,
  });
}

/** Namespaces, for their labels (a MigrationPolicy's namespaceSelector). */
export function namespaceInformer(context: InformerContext, extra: Extra<V1Namespace & ObjectWithMeta> = {}) {
  const core = context.kubeConfig.makeApiClient(CoreV1Api);
  return new DefensiveInformer<V1Namespace & ObjectWithMeta>({
    ...context,
    ...extra,
    name: 'namespaces',
    path: '/api/v1/namespaces',
    list: () => listAllPages((continueToken) => core.listNamespace({ limit: PAGE, _continue: continueToken }) as Promise<ObjectList<V1Namespace & ObjectWithMeta>>),
  });
}

export function nodeInformer(context: InformerContext, extra: Extra<V1Node & ObjectWithMeta> = {}) {
  const core = context.kubeConfig.makeApiClient(CoreV1Api);
  return new DefensiveInformer<V1Node & ObjectWithMeta>({
    ...context,
    ...extra,
    name: 'nodes',
    path: '/api/v1/nodes',
    list: () => listAllPages((continueToken) => core.listNode({ limit: PAGE, _continue: continueToken }) as Promise<ObjectList<V1Node & ObjectWithMeta>>),
  });
}

export function pvcInformer(context: InformerContext, extra: Extra<V1PersistentVolumeClaim & ObjectWithMeta> = {}) {
  const core = context.kubeConfig.makeApiClient(CoreV1Api);
  return new DefensiveInformer<V1PersistentVolumeClaim & ObjectWithMeta>({
    ...context,
    ...extra,
    name: 'persistentvolumeclaims',
    path: context.namespace ? `/api/v1/namespaces/${context.namespace}/persistentvolumeclaims` : '/api/v1/persistentvolumeclaims',
    list: () =>
      listAllPages(
        (continueToken) =>
          (context.namespace
            ? core.listNamespacedPersistentVolumeClaim({ namespace: context.namespace, limit: PAGE, _continue: continueToken })
            : core.listPersistentVolumeClaimForAllNamespaces({ limit: PAGE, _continue: continueToken })) as Promise<ObjectList<V1PersistentVolumeClaim & ObjectWithMeta>>,
      ),
  });
}

export function leaseInformer(context: InformerContext, namespace: string, extra: Extra<V1Lease & ObjectWithMeta> = {}) {
  const coordination = context.kubeConfig.makeApiClient(CoordinationV1Api);
  return new DefensiveInformer<V1Lease & ObjectWithMeta>({
    ...context,
    ...extra,
    name: `leases in ${namespace}`,
    path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    list: () => coordination.listNamespacedLease({ namespace, ...pick(extra) }) as Promise<ObjectList<V1Lease & ObjectWithMeta>>,
  });
}

/** CertificateSigningRequests of one signer (spec.signerName is a field selector of CSRs). */
export function csrInformer(context: InformerContext, signerName: string, extra: Extra<V1CertificateSigningRequest & ObjectWithMeta> = {}) {
  const certificates = context.kubeConfig.makeApiClient(CertificatesV1Api);
  const fieldSelector = `spec.signerName=${signerName}`;
  return new DefensiveInformer<V1CertificateSigningRequest & ObjectWithMeta>({
    ...context,
    ...extra,
    fieldSelector,
    name: `certificatesigningrequests of ${signerName}`,
    path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
    list: () =>
      listAllPages(
        (continueToken) => certificates.listCertificateSigningRequest({ fieldSelector, limit: PAGE, _continue: continueToken }) as Promise<ObjectList<V1CertificateSigningRequest & ObjectWithMeta>>,
      ),
  });
}

/** Watches exactly one ConfigMap (kubevirt-config) by field selector. */
export function configMapInformer(context: InformerContext, location: ClusterConfigLocation, extra: Extra<V1ConfigMap & ObjectWithMeta> = {}) {
  const core = context.kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${location.name}`;
  return new DefensiveInformer<V1ConfigMap & ObjectWithMeta>({
    ...context,
    ...extra,
    fieldSelector,
    name: `configmap ${location.namespace}/${location.name}`,
    path: `/api/v1/namespaces/${location.namespace}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace: location.namespace, fieldSelector }) as Promise<ObjectList<V1ConfigMap & ObjectWithMeta>>,
  });
}

function pick(extra: { labelSelector?: string; fieldSelector?: string }) {
  return {
    ...(extra.labelSelector ? { labelSelector: extra.labelSelector } : {}),
    ...(extra.fieldSelector ? { fieldSelector: extra.fieldSelector } : {}),
  };
}
