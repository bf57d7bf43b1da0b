// A node whose agent is registered but unreachable: a Ready Node, a fresh agent Lease, and an
// endpoint annotation pointing at a port nobody listens on. The reconciler takes it for a live
// agent (it may be chosen as target, or host a VMI as source) and every call to it fails.
import { CoordinationV1Api, PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';
import type { TestSystem } from './system.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export async function createGhostNode(system: TestSystem, name: string, labels: Record<string, string>): Promise<() => Promise<void>> {
  await system.core.createNode({ body: { metadata: { name, labels } } });
  await system.core.patchNodeStatus(
    { name, body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Test', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }], addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] } } },
    mergePatch,
  );
  await system.core.patchNode({ name, body: { metadata: { annotations: { 'live-migration.io/agent-endpoint': 'https://127.0.0.1:9' } } } }, mergePatch);
  const coordination = system.kubeConfig.makeApiClient(CoordinationV1Api);
  await coordination.createNamespacedLease({
    namespace: system.ns,
    body: { metadata: { name: `agent-${name}` }, spec: { holderIdentity: name, leaseDurationSeconds: 300, renewTime: new V1MicroTime(Date.now()) } },
  });
  return async () => {
    await system.core.deleteNode({ name }).catch(() => undefined);
  };
}
