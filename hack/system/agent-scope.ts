// What an agent may change, as the chart installs it (templates/agent-scope-policy.yaml): RBAC lets
// the agent's ServiceAccount patch Nodes and write Leases in the release namespace, and a
// ValidatingAdmissionPolicy narrows that to the node its token is bound to — the Node of that name
// (its annotations only: spec and labels unchanged) and the Lease `agent-<node>`. The node comes from
// the token itself: a ServiceAccount token bound to a Pod carries the Pod's node in the user's extra
// `authentication.kubernetes.io/node-name` (Kubernetes 1.30+), which no client can forge. A token
// bound to no Pod names no node and may change nothing.
import { join } from 'node:path';
import { writeTokenKubeconfig } from './token-kubeconfig.js';
import { CoreV1Api, KubernetesObjectApi, RbacAuthorizationV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { AGENT_LEASE_PREFIX } from '../../agent/registration.js';
import { serviceAccountUsername } from '../../webhook/registration.js';

export const AGENT_SERVICE_ACCOUNT = 'live-migration-agent';
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

/** The policy's CEL, shared with the chart (chart.test.ts checks the rendered policy says the same). */
export const AGENT_SCOPE_VARIABLES = [
  {
    name: 'boundNode',
    expression: `has(request.userInfo.extra) && '${NODE_NAME_EXTRA}' in request.userInfo.extra && size(request.userInfo.extra['${NODE_NAME_EXTRA}']) == 1 ? request.userInfo.extra['${NODE_NAME_EXTRA}'][0] : ''`,
  },
];

export const AGENT_SCOPE_VALIDATIONS = [
  {
    expression: "variables.boundNode != ''",
    message: `the agent's token is not bound to a Pod on a node (no ${NODE_NAME_EXTRA} in its user info): it may change no Node and no Lease`,
    reason: 'Forbidden',
  },
  {
    expression: "request.resource.resource != 'nodes' || request.name == variables.boundNode",
    messageExpression: "'an agent on node ' + variables.boundNode + ' may change only its own Node, not ' + request.name",
    reason: 'Forbidden',
  },
  {
    expression: "request.resource.resource != 'nodes' || (object.spec == oldObject.spec && (has(object.metadata.labels) ? object.metadata.labels : {}) == (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}))",
    message: "an agent may change only its Node's annotations, not its spec or labels",
    reason: 'Forbidden',
  },
  {
    expression: `request.resource.resource != 'leases' || request.name == '${AGENT_LEASE_PREFIX}' + variables.boundNode`,
    messageExpression: `'an agent on node ' + variables.boundNode + ' may change only Lease ${AGENT_LEASE_PREFIX}' + variables.boundNode + ', not ' + request.name`,
    reason: 'Forbidden',
  },
];

export function agentScopePolicy(name: string, agentUsername: string): KubernetesObject[] {
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['*'], resources: ['nodes'], operations: ['UPDATE'] },
            { apiGroups: ['coordination.k8s.io'], apiVersions: ['*'], resources: ['leases'], operations: ['CREATE', 'UPDATE', 'DELETE'] },
          ],
        },
        matchConditions: [{ name: 'is-agent', expression: `request.userInfo.username == '${agentUsername}'` }],
        variables: AGENT_SCOPE_VARIABLES,
        validations: AGENT_SCOPE_VALIDATIONS,
      },
    } as KubernetesObject,
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: { policyName: name, validationActions: ['Deny'] },
    } as KubernetesObject,
  ];
}

export interface AgentScope {
  username: string;
  /** Cluster-scoped objects to delete at the end: [apiVersion, kind, name]. */
  clusterObjects: Array<[string, string, string]>;
}

function ignoreConflict(error: unknown): void {
  if ((error as { code?: number }).code !== 409) throw error;
}

/** The agents' ServiceAccount, the chart's RBAC for it, and the policy, in namespace `namespace`. */
export async function createAgentScope(kubeConfig: KubeConfig, namespace: string): Promise<AgentScope> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const sa = AGENT_SERVICE_ACCOUNT;
  const username = serviceAccountUsername(namespace, sa);
  const clusterName = `${sa}-${namespace}`;
  const subjects = [{ kind: 'ServiceAccount', name: sa, namespace }];
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } }).catch(ignoreConflict);
  // As the chart's agent ClusterRole: its Node, the VMIs it runs (their finalizer and status), the
  // PVCs and PVs of their persistentVolumeClaim volumes (get only), its CSRs.
  const rules = [
    { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'patch'] },
    { apiGroups: ['kubevirt.io'], resources: ['virtualmachineinstances'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: ['kubevirt.io'], resources: ['virtualmachineinstances/status'], verbs: ['patch'] },
    { apiGroups: [''], resources: ['persistentvolumeclaims', 'persistentvolumes'], verbs: ['get'] },
    // Its migration certificate (--migration-tls-from-csr): create a request, watch it until signed.
    { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['create', 'get', 'list', 'watch'] },
  ];
  // Replaced when it exists: a local control plane kept from an older version must get today's rules.
  await rbac.createClusterRole({ body: { metadata: { name: clusterName }, rules } }).catch(async (error: unknown) => {
    ignoreConflict(error);
    await rbac.replaceClusterRole({ name: clusterName, body: { metadata: { name: clusterName }, rules } });
  });
  await rbac
    .createClusterRoleBinding({ body: { metadata: { name: clusterName }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName }, subjects } })
    .catch(ignoreConflict);
  await rbac
    .createNamespacedRole({ namespace, body: { metadata: { name: `${sa}-leases` }, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'delete'] }] } })
    .catch(ignoreConflict);
  await rbac
    .createNamespacedRoleBinding({ namespace, body: { metadata: { name: `${sa}-leases` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${sa}-leases` }, subjects } })
    .catch(ignoreConflict);
  for (const object of agentScopePolicy(`${clusterName}-scope`, username)) await objects.create(object).catch(ignoreConflict);
  return {
    username,
    clusterObjects: [
      ['rbac.authorization.k8s.io/v1', 'ClusterRole', clusterName],
      ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', clusterName],
      ['admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', `${clusterName}-scope`],
      ['admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding', `${clusterName}-scope`],
    ],
  };
}

export async function deleteAgentScope(kubeConfig: KubeConfig, scope: AgentScope): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  for (const [apiVersion, kind, name] of scope.clusterObjects) await objects.delete({ apiVersion, kind, metadata: { name } }).catch(() => undefined);
}

/**
 * A kubeconfig per node for the agents' ServiceAccount, with a token bound to a Pod on that node (as
 * the kubelet mounts one; no kubelet runs here, so the Pod never starts): the API server names the
 * node in the token's user info and the policy above lets each node's registration write only its
 * own Node and Lease. Returns the path with `{node}` for the agent's --kubeconfig.
 */
export async function agentNodeKubeconfigs(kubeConfig: KubeConfig, namespace: string, nodes: readonly string[], workDir: string): Promise<string> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  for (const node of nodes) {
    // Written anew each time, as the reconciler's: a kept file would name an API server (and a
    // token) of an earlier start.
    const file = join(workDir, `agent-${node}.kubeconfig`);
    const name = `agent-pod-${node}`.slice(0, 253);
    const pod = await core
      .createNamespacedPod({
        namespace,
        body: {
          metadata: { name },
          spec: { nodeName: node, serviceAccountName: AGENT_SERVICE_ACCOUNT, automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'live-migration:local' }] },
        },
      })
      .catch(async (error: unknown) => {
        ignoreConflict(error);
        return core.readNamespacedPod({ name, namespace });
      });
    const issued = await core.createNamespacedServiceAccountToken({
      name: AGENT_SERVICE_ACCOUNT,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 24 * 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata?.uid } } },
    });
    const token = issued.status?.token;
    if (!token) throw new Error(`no token issued for the agent of node ${node}`);
    writeTokenKubeconfig(file, kubeConfig, 'agent', token, namespace);
  }
  return join(workDir, 'agent-{node}.kubeconfig');
}
