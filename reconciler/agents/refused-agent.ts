// A node whose announced agent endpoint cannot be trusted (not an address of its Node, not https…):
// every call fails at once with the reason, and nothing is dialled. As an Unauthenticated error it
// feeds the agent-silence clock, so the migration waits and then fails with this reason in its
// AgentResponsive condition and failure message, instead of calling whoever the annotation names.
import { AgentCallError, type NodeAgentApi } from '../../agent/contract.js';

export function refusedAgent(nodeName: string, reason: string): NodeAgentApi {
  const refuse = (): Promise<never> => Promise.reject(new AgentCallError('Unauthenticated', nodeName, `not dialled: ${reason}`));
  return {
    prepareTarget: refuse,
    startMigration: refuse,
    migrationStatus: refuse,
    abortMigration: refuse,
    confirmArrival: refuse,
    releaseTarget: refuse,
    health: refuse,
  };
}
