// Calls to node agents, and the agent-silence clock they feed (kept in the VMIM's status by
// clocks.ts, so a restart does not reset it).
import type { AgentCallError, NodeAgentApi } from '../../../agent/contract.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import type { MigrationStatus } from '../../phases.js';
import type { MigrationControllerDeps } from './deps.js';
import { afterAgentCall } from './clocks.js';

export type AgentAnswer<T> =
  | { ok: true; value: T }
  /** `refused`: the agent answered and said no for good (not on its node, already there). */
  | { ok: false; error: string; refused?: boolean };

export interface CallOutcome<T> {
  answer: AgentAnswer<T>;
  /** The status with the silence clock moved (started or ended); undefined when unchanged. */
  clock?: MigrationStatus;
}

function isAgentError(error: unknown): error is AgentCallError {
  return error instanceof Error && error.name === 'AgentCallError';
}

export class AgentCalls {
  constructor(private readonly deps: Pick<MigrationControllerDeps, 'agents'>) {}

  agent(node: string | undefined): NodeAgentApi | undefined {
    return node ? this.deps.agents.agentFor(node) : undefined;
  }

  /** Calls the agent on `node`; no live agent there counts as silence. */
  async call<T>(vmim: VirtualMachineInstanceMigration, status: MigrationStatus, node: string | undefined, nowIso: string, call: (agent: NodeAgentApi) => Promise<T>): Promise<CallOutcome<T>> {
    const agent = this.agent(node);
    let answer: AgentAnswer<T>;
    if (!agent) {
      answer = { ok: false, error: `node ${node ?? '(none)'} has no live agent` };
    } else {
      try {
        answer = { ok: true, value: await call(agent) };
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        const refused = isAgentError(error) && (error.code === 'NotFound' || error.code === 'Conflict');
        // A refusal is an answer: the agent is there.
        answer = refused ? { ok: false, error: error.message, refused: true } : { ok: false, error: error.message };
      }
    }
    const answered = answer.ok || answer.refused === true;
    return { answer, clock: afterAgentCall(status, answered, node, nowIso, answer.ok ? undefined : answer.error) };
  }

  /** Frees the target's reservation; best effort (the agent frees it itself on restart). */
  async releaseTarget(vmim: VirtualMachineInstanceMigration, log: MigrationControllerDeps['log']): Promise<void> {
    const target = this.agent(vmim.status?.migrationState?.targetNode);
    if (!target) return;
    await target.releaseTarget(vmim.metadata.uid ?? '').catch((error: unknown) => {
      log.warn({ migration: `${vmim.metadata.namespace}/${vmim.metadata.name}`, err: String(error) }, 'could not release the target; it frees itself when the agent restarts');
    });
  }
}
