// Agents as the reconciler sees them: a node has a live agent while the agent's Lease is fresh and
// its Node carries the endpoint annotation; calls go over mutual TLS through a shared pool.
import type { V1Lease, V1Node } from '@kubernetes/client-node';
import { AgentClientPool, watchClientTls, type AgentClientTlsFiles } from '../../agent/client.js';
import type { TlsFileWatcher, TlsReloadLogger } from '../../common/tls-files.js';
import type { NodeAgentApi } from '../../agent/contract.js';
import { AGENT_ENDPOINT_ANNOTATION, agentIsLive, agentLeaseName } from '../../agent/registration.js';
import type { DefensiveInformer, ObjectWithMeta } from '../../kube/informer.js';
import type { AgentDirectory } from './agent-directory.js';

export type AgentTls = AgentClientTlsFiles & { timeoutMs?: number; reloadPollMs?: number };

export class LiveAgentDirectory implements AgentDirectory {
  private readonly pool: AgentClientPool;
  private readonly tlsWatcher: TlsFileWatcher;

  constructor(
    private readonly nodes: DefensiveInformer<V1Node & ObjectWithMeta>,
    private readonly leases: DefensiveInformer<V1Lease & ObjectWithMeta>,
    tls: AgentTls,
    logger: TlsReloadLogger,
    private readonly now: () => number = Date.now,
  ) {
    // The client certificate and CA are re-read on change: a rotated Secret needs no restart.
    const watched = watchClientTls(tls, logger, tls.reloadPollMs);
    this.tlsWatcher = watched.watcher;
    this.tlsWatcher.start();
    this.pool = new AgentClientPool({ tls: watched.tls, ...(tls.timeoutMs !== undefined ? { timeoutMs: tls.timeoutMs } : {}) });
  }

  agentFor(nodeName: string): NodeAgentApi | undefined {
    const endpoint = this.nodes.get(nodeName)?.metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION];
    if (!endpoint) return undefined;
    const lease = this.leases.list().find((l) => l.metadata?.name === agentLeaseName(nodeName));
    if (!lease || !agentIsLive(lease, this.now())) return undefined;
    return this.pool.client(nodeName, endpoint);
  }

  close(): void {
    this.tlsWatcher.stop();
    this.pool.close();
  }
}
