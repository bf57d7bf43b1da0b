// A kubeconfig that authenticates with a ServiceAccount token against the current cluster of
// `admin` (its server and CA), written 0600: how the local system runs each component under its
// own identity, as the chart does in a cluster.
import { writeFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';

export function writeTokenKubeconfig(file: string, admin: KubeConfig, user: string, token: string, namespace: string): void {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const ca = cluster.caData ? { 'certificate-authority-data': cluster.caData } : { 'certificate-authority': cluster.caFile };
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: cluster.server, ...ca } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user, namespace } }],
      'current-context': 'local',
    }),
    { mode: 0o600 },
  );
}
