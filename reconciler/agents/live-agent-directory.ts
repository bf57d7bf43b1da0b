// Agents as the reconciler sees them: a node has a live agent while the agent's Lease is fresh and
// its Node carries the endpoint annotation; calls go over mutual TLS through a shared pool. Only an
// address of the Node object itself is dialled, and only that node's certificate is accepted
// (agent/node-identity.ts); an endpoint elsewhere is refused without a connection.
import type { V1Lease, V1Node } from '@kubernetes/client-node';
import { AgentClientPool, watchClientTls, type AgentClientTlsFiles } from '../../agent/client.js';
import type { TlsFileWatcher, TlsReloadLogger } from '../../common/tls-files.js';
import type { NodeAgentApi } from '../../agent/contract.js';
import { AGENT_ENDPOINT_ANNOTATION, agentIsLive, agentLeaseName } from '../../agent/registration.js';
import { agentDialTarget } from '../../agent/node-identity.js';
import type { DefensiveInformer, ObjectWithMeta } from '../../kube/informer.js';
import type { AgentDirectory } from './agent-directory.js';
import { refusedAgent } from './refused-agent.js';

export type AgentTls = AgentClientTlsFiles & { timeoutMs?: number; reloadPollMs?: number };

export class LiveAgentDirectory implements AgentDirectory {
  private readonly pool: AgentClientPool;
  private readonly tlsWatcher: TlsFileWatcher;
  /** The last refused endpoint per node, so a refusal is logged once, not on every call (at most one per node). */
  private readonly refusedEndpoints = new Map<string, string>();

  constructor(
    private readonly nodes: DefensiveInformer<V1Node & ObjectWithMeta>,
    private readonly leases: DefensiveInformer<V1Lease & ObjectWithMeta>,
    tls: AgentTls,
    private readonly logger: TlsReloadLogger,
    private readonly now: () => number = Date.now,
  ) {
    // The client certificate and CA are re-read on change: a rotated Secret needs no restart.
    const watched = watchClientTls(tls, logger, tls.reloadPollMs);
    this.tlsWatcher = watched.watcher;
    this.tlsWatcher.start();
    this.pool = new AgentClientPool({ tls: watched.tls, ...(tls.timeoutMs !== undefined ? { timeoutMs: tls.timeoutMs } : {}) });
  }

  agentFor(nodeName: string): NodeAgentApi | undefined {
    const node = this.nodes.get(nodeName);
    const endpoint = node?.metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION];
    if (!endpoint) return undefined;
    const lease = this.leases.list().find((l) => l.metadata?.name === agentLeaseName(nodeName));
    if (!lease || !agentIsLive(lease, this.now())) return undefined;
    const target = agentDialTarget(nodeName, node, endpoint);
    if (!target.ok) {
      this.pool.forget(nodeName);
      if (this.refusedEndpoints.get(nodeName) !== endpoint) {
        this.refusedEndpoints.set(nodeName, endpoint);
        this.logger.warn({ node: nodeName, endpoint, reason: target.reason }, 'agent endpoint refused; not dialled');
      }
      return refusedAgent(nodeName, target.reason);
    }
    this.refusedEndpoints.delete(nodeName);
    return this.pool.client(nodeName, target.url);
  }

  close(): void {
    this.tlsWatcher.stop();
    this.pool.close();
  }
}
