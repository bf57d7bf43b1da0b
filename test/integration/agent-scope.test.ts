// An agent can change only its own Node's annotation and its own Lease, on the real API server: the
// agents' ServiceAccount and RBAC as the chart grants them, and the ValidatingAdmissionPolicy keyed
// on the node its token is bound to (hack/system/agent-scope.ts). The token is the one a kubelet
// would mount: a TokenRequest bound to a Pod scheduled on the node (no kubelet needed; the API
// server puts the Pod's node in the token's user info).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException, CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';
import { AGENT_ENDPOINT_ANNOTATION } from '../../agent/registration.js';
import { AGENT_SERVICE_ACCOUNT } from '../../hack/system/agent-scope.js';
import { kubectl } from '../setup/environment.js';
import { startTestSystem, type TestSystem } from '../setup/system.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let system: TestSystem;
let ownNode = '';
let agent: { core: CoreV1Api; coordination: CoordinationV1Api };
let unbound: { core: CoreV1Api };

function as(token: string): KubeConfig {
  const cluster = system.kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('no cluster');
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'local', server: cluster.server, caData: cluster.caData, caFile: cluster.caFile, skipTLSVerify: false }],
    users: [{ name: 'agent', token }],
    contexts: [{ name: 'local', cluster: 'local', user: 'agent', namespace: system.ns }],
    currentContext: 'local',
  });
  return config;
}

async function token(boundPod?: { name: string; uid: string }): Promise<string> {
  const issued = await system.core.createNamespacedServiceAccountToken({
    name: AGENT_SERVICE_ACCOUNT,
    namespace: system.ns,
    body: { spec: { audiences: [], expirationSeconds: 600, ...(boundPod ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', ...boundPod } } : {}) } },
  });
  return issued.status?.token ?? '';
}

/** The API server's refusal: status code and message. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as { message?: string };
    return { code: error.code, message: body.message ?? '' };
  }
  throw new Error('the request was allowed');
}

const annotate = (node: string, endpoint: string) => agent.core.patchNode({ name: node, body: { metadata: { annotations: { [AGENT_ENDPOINT_ANNOTATION]: endpoint } } } }, mergePatch);

beforeAll(async () => {
  system = await startTestSystem('agent-scope', { nodes: 2 });
  // A node of its own, with no simulated agent on it: the agent under test is its only writer.
  ownNode = `${system.nodes[0]}-own`;
  await system.core.createNode({ body: { metadata: { name: ownNode } } });
  const pod = await system.core.createNamespacedPod({
    namespace: system.ns,
    body: {
      metadata: { name: 'agent-own' },
      spec: { nodeName: ownNode, serviceAccountName: AGENT_SERVICE_ACCOUNT, automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'live-migration:test' }] },
    },
  });
  const bound = as(await token({ name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' }));
  agent = { core: bound.makeApiClient(CoreV1Api), coordination: bound.makeApiClient(CoordinationV1Api) };
  unbound = { core: as(await token()).makeApiClient(CoreV1Api) };
}, 180_000);

afterAll(async () => {
  await system?.core.deleteNode({ name: ownNode }).catch(() => undefined);
  await system?.stop();
});

describe('an agent bound to its node', () => {
  it('annotates its own Node and writes its own Lease', async () => {
    await annotate(ownNode, 'https://127.0.0.1:1234');
    expect((await system.core.readNode({ name: ownNode })).metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION]).toBe('https://127.0.0.1:1234');
    const lease = await agent.coordination.createNamespacedLease({
      namespace: system.ns,
      body: { metadata: { name: `agent-${ownNode}` }, spec: { holderIdentity: ownNode, leaseDurationSeconds: 40, renewTime: new V1MicroTime(Date.now()) } },
    });
    await agent.coordination.replaceNamespacedLease({ name: `agent-${ownNode}`, namespace: system.ns, body: { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime(Date.now()) } } });
    await agent.coordination.deleteNamespacedLease({ name: `agent-${ownNode}`, namespace: system.ns });
  });

  it('cannot point another Node’s endpoint annotation at itself', async () => {
    const other = system.nodes[0] ?? '';
    const before = (await system.core.readNode({ name: other })).metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION];
    const denied = await refusal(annotate(other, 'https://127.0.0.1:1234'));
    expect(denied.code).toBe(403);
    expect(denied.message).toContain(`an agent on node ${ownNode} may change only its own Node, not ${other}`);
    expect((await system.core.readNode({ name: other })).metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION]).toBe(before);
  });

  it('cannot change its own Node beyond annotations (labels steer where VMs go)', async () => {
    const denied = await refusal(agent.core.patchNode({ name: ownNode, body: { metadata: { labels: { zone: 'mine' } } } }, mergePatch));
    expect(denied).toEqual({ code: 403, message: expect.stringContaining("an agent may change only its Node's annotations, not its spec or labels") });
  });

  it('cannot renew, take or delete another node’s Lease, nor the reconciler’s leader Lease', async () => {
    const otherLease = `agent-${system.nodes[1]}`;
    const held = await system.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: otherLease, namespace: system.ns });
    const take = { ...held, spec: { ...held.spec, holderIdentity: ownNode, renewTime: new V1MicroTime(Date.now()) } };
    const updated = await refusal(agent.coordination.replaceNamespacedLease({ name: otherLease, namespace: system.ns, body: take }));
    expect(updated).toEqual({ code: 403, message: expect.stringContaining(`an agent on node ${ownNode} may change only Lease agent-${ownNode}, not ${otherLease}`) });
    expect((await refusal(agent.coordination.deleteNamespacedLease({ name: otherLease, namespace: system.ns }))).code).toBe(403);
    const leader = await refusal(
      agent.coordination.createNamespacedLease({ namespace: system.ns, body: { metadata: { name: 'live-migration-reconciler-x' }, spec: { holderIdentity: ownNode } } }),
    );
    expect(leader).toEqual({ code: 403, message: expect.stringContaining('may change only Lease') });
  });

  it('a token bound to no Pod names no node and may change nothing', async () => {
    const denied = await refusal(unbound.core.patchNode({ name: ownNode, body: { metadata: { annotations: { [AGENT_ENDPOINT_ANNOTATION]: 'https://127.0.0.1:1' } } } }, mergePatch));
    expect(denied).toEqual({ code: 403, message: expect.stringContaining("the agent's token is not bound to a Pod on a node") });
  });

  it('kubectl auth can-i: RBAC gives Nodes (get, patch) and Leases of its namespace only; the policy above narrows them', () => {
    const user = `system:serviceaccount:${system.ns}:${AGENT_SERVICE_ACCOUNT}`;
    const can = (...args: string[]) => kubectl(['auth', 'can-i', ...args, `--as=${user}`]).stdout.trim();
    expect(can('patch', 'nodes')).toBe('yes');
    expect(can('patch', 'nodes', '--subresource=status')).toBe('no');
    expect(can('delete', 'nodes')).toBe('no');
    expect(can('update', 'leases', '-n', system.ns)).toBe('yes');
    expect(can('update', 'leases', '-n', 'kube-system')).toBe('no');
    expect(can('get', 'secrets', '-n', system.ns)).toBe('no');
  });
});
