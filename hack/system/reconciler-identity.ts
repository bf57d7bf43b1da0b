// The reconciler's own identity on a local system: a ServiceAccount with a token, as in a cluster
// (the chart runs it as `<fullname>-reconciler`). The webhook configurations exempt this username's
// VMIM updates, so the reconciler's finalizer removals never wait on the webhook; running it under
// the admin certificate instead would exempt every kubectl user too. Bound to cluster-admin here:
// the harness tests behaviour, the chart's test checks least-privilege RBAC.
import { join } from 'node:path';
import { writeTokenKubeconfig } from './token-kubeconfig.js';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { serviceAccountUsername } from '../../webhook/registration.js';

export const RECONCILER_SERVICE_ACCOUNT = 'live-migration-controller';
/** Long enough for a day of `npm run local -- up`; the control plane is thrown away after. */
const TOKEN_SECONDS = 24 * 3600;

export interface ReconcilerIdentity {
  username: string;
  /** A kubeconfig authenticating as the ServiceAccount. */
  kubeconfig: string;
  clusterRoleBinding: string;
}

function isConflict(error: unknown): boolean {
  return (error as { code?: number }).code === 409;
}

export async function createReconcilerIdentity(kubeConfig: KubeConfig, namespace: string, workDir: string): Promise<ReconcilerIdentity> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const name = RECONCILER_SERVICE_ACCOUNT;
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch((error: unknown) => {
    if (!isConflict(error)) throw error;
  });
  const clusterRoleBinding = `${name}-${namespace}`;
  await rbac
    .createClusterRoleBinding({
      body: {
        metadata: { name: clusterRoleBinding },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    })
    .catch((error: unknown) => {
      if (!isConflict(error)) throw error;
    });
  const tokenRequest = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } } });
  const token = tokenRequest.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${namespace}/${name}`);
  const kubeconfig = join(workDir, 'reconciler.kubeconfig');
  writeTokenKubeconfig(kubeconfig, kubeConfig, name, token, namespace);
  return { username: serviceAccountUsername(namespace, name), kubeconfig, clusterRoleBinding };
}

/** Removes the cluster-scoped binding (the ServiceAccount goes with its namespace). */
export async function deleteReconcilerIdentity(kubeConfig: KubeConfig, identity: ReconcilerIdentity): Promise<void> {
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  await rbac.deleteClusterRoleBinding({ name: identity.clusterRoleBinding }).catch(() => undefined);
}
