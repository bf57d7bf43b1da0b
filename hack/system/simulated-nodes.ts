// Node objects for simulated nodes: no kubelet runs here, so the harness creates the Node and
// reports it Ready itself. Labels let tests and demos exercise node selectors.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';

export interface SimulatedNode {
  name: string;
  labels?: Record<string, string>;
}

export async function createSimulatedNodes(kubeConfig: KubeConfig, nodes: readonly SimulatedNode[]): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await Promise.all(
    nodes.map(async ({ name, labels }) => {
      await core.createNode({
        body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'live-migration.io/simulated': 'true', ...labels } } },
      });
      const now = new Date();
      await core.patchNodeStatus(
        {
          name,
          body: {
            status: {
              conditions: [{ type: 'Ready', status: 'True', reason: 'SimulatedNodeReady', message: 'simulated by live-migration', lastHeartbeatTime: now, lastTransitionTime: now }],
              addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            },
          },
        },
        mergePatch,
      );
    }),
  );
}

export async function deleteSimulatedNodes(kubeConfig: KubeConfig, names: readonly string[]): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await Promise.all(names.map((name) => core.deleteNode({ name }).catch(() => undefined)));
}
