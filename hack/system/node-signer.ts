// The node migration signer's permissions, as the chart grants the reconciler (templates/rbac.yaml
// says the same; chart.test.ts compares): read CSRs, approve or deny and sign — each only for signer
// live-migration.io/node-migration (the API server checks `signers` by resourceName on /approval and
// /status) — and read Nodes (whose addresses a certificate may name). A CA of its own per system.
import { join } from 'node:path';
import { writeTokenKubeconfig } from './token-kubeconfig.js';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig, type V1PolicyRule } from '@kubernetes/client-node';
import { NODE_MIGRATION_SIGNER } from '../../agent/node-identity.js';
import { createCertificateAuthority } from '../control-plane/pki.js';

export const NODE_SIGNER_RULES: V1PolicyRule[] = [
  { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval', 'certificatesigningrequests/status'], verbs: ['update'] },
  { apiGroups: ['certificates.k8s.io'], resources: ['signers'], resourceNames: [NODE_MIGRATION_SIGNER], verbs: ['approve', 'sign'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
];

/** The signer's CA (certificate and key files) in `dir`. */
export function createNodeSignerCa(dir: string): { cert: string; key: string } {
  return createCertificateAuthority(dir, 'node-migration-ca', 'live-migration node migration CA');
}

/**
 * A ServiceAccount with exactly NODE_SIGNER_RULES, and a kubeconfig for it (to run the signer with no
 * more than the chart gives). Returns the kubeconfig path and the ClusterRole/Binding name to delete.
 */
export async function createNodeSignerIdentity(kubeConfig: KubeConfig, namespace: string, workDir: string): Promise<{ kubeconfig: string; clusterName: string }> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const name = 'live-migration-node-signer';
  const clusterName = `${name}-${namespace}`;
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createClusterRole({ body: { metadata: { name: clusterName }, rules: NODE_SIGNER_RULES } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: clusterName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  const token = (await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status?.token;
  if (!token) throw new Error('no token for the node signer');
  const kubeconfig = join(workDir, 'node-signer.kubeconfig');
  writeTokenKubeconfig(kubeconfig, kubeConfig, name, token, namespace);
  return { kubeconfig, clusterName };
}

export async function deleteNodeSignerIdentity(kubeConfig: KubeConfig, clusterName: string): Promise<void> {
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  await rbac.deleteClusterRoleBinding({ name: clusterName }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: clusterName }).catch(() => undefined);
}
