// Metrics of the VM lifecycle, on the agent's registry: what a test or an operator needs to see
// that no VM was started twice (starts vs adoptions) and how many VMs each node runs.
import { Counter, type Registry } from 'prom-client';

export type VmActionCounter = Counter<'node' | 'action'>;

export function createVmMetrics(registry: Registry): VmActionCounter {
  return new Counter({
    name: 'live_migration_agent_vm_actions_total',
    help: 'VM lifecycle actions by node: start (a boot), adopt (a running VM taken over after a restart or a migration), shutdown, release, report.',
    labelNames: ['node', 'action'],
    registers: [registry],
  });
}
