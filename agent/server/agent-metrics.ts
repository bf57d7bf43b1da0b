// Prometheus metrics of the agent process, on a registry of its own (as the webhook does) so several
// agents and tests can live in one process. One registry serves every simulated node of a process;
// the node is a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MIGRATION_JOB_STATES, type MigrationJobState } from '../contract.js';

export interface AgentMetrics {
  registry: Registry;
  /** API calls by node, route (the express pattern, not the UID) and HTTP status. */
  calls: Counter<'node' | 'route' | 'code'>;
  callDuration: Histogram<'node' | 'route'>;
  /** Outgoing migrations this process knows, by node and job state; computed at scrape time. */
  migrations: Gauge<'node' | 'state'>;
  /** Registers a source of per-node migration counts for the gauge. */
  addMigrationSource(node: string, count: () => Promise<Map<MigrationJobState, number>>): void;
}

export function createAgentMetrics(options: { defaultMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'live_migration_agent_' });
  const sources = new Map<string, () => Promise<Map<MigrationJobState, number>>>();
  const migrations = new Gauge<'node' | 'state'>({
    name: 'live_migration_agent_migrations',
    help: 'Outgoing migrations known to the agent, by node and job state (finished ones are kept for a while).',
    labelNames: ['node', 'state'],
    registers: [registry],
    // Why at scrape time: the simulation advances lazily, so the state is only true when asked.
    async collect() {
      this.reset();
      for (const [node, count] of sources) {
        const counts = await count();
        for (const state of MIGRATION_JOB_STATES) this.set({ node, state }, counts.get(state) ?? 0);
      }
    },
  });
  return {
    registry,
    calls: new Counter({
      name: 'live_migration_agent_calls_total',
      help: 'Agent API calls by node, route and HTTP status (401/403 included).',
      labelNames: ['node', 'route', 'code'],
      registers: [registry],
    }),
    callDuration: new Histogram({
      name: 'live_migration_agent_call_duration_seconds',
      help: 'Time to answer an agent API call.',
      labelNames: ['node', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    migrations,
    addMigrationSource: (node, count) => sources.set(node, count),
  };
}
