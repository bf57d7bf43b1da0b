// How the migration controller reaches node agents: by node name, only while the node's agent is
// live. Implemented over the Node and Lease caches and a pool of authenticated clients.
import type { NodeAgentApi } from '../../agent/contract.js';

export interface AgentDirectory {
  /** The node's agent, or undefined when the node has no live agent. */
  agentFor(nodeName: string): NodeAgentApi | undefined;
}
