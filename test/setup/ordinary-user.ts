// An ordinary user of one namespace, as a cluster hands one out: a ServiceAccount whose Role allows
// only what a user of migrations needs (create, get, update VMIMs there), authenticated by a token
// from the TokenRequest API. Not in system:masters, not the system's account: not privileged.
import { CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { serviceAccountUsername } from '../../webhook/registration.js';

export interface OrdinaryUser {
  username: string;
  custom: CustomObjectsApi;
}

export async function createOrdinaryUser(admin: KubeConfig, namespace: string, name = 'vmim-user'): Promise<OrdinaryUser> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name },
      rules: [{ apiGroups: ['kubevirt.io'], resources: ['virtualmachineinstancemigrations'], verbs: ['create', 'get', 'update'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  const issued = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = issued.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${namespace}/${name}`);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'local', server: cluster.server, caData: cluster.caData, caFile: cluster.caFile, skipTLSVerify: false }],
    users: [{ name, token }],
    contexts: [{ name: 'local', cluster: 'local', user: name, namespace }],
    currentContext: 'local',
  });
  return { username: serviceAccountUsername(namespace, name), custom: kubeConfig.makeApiClient(CustomObjectsApi) };
}
