// The simulation's VMs on one node: a record per VMI that "boots" at once and runs until shut
// down. Nothing runs; the records are what the lifecycle controller and the tests observe
// (`starts` counts boots, so a double start shows).
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VmHost, VmInfo } from '../vms/vm-host.js';

const keyOf = (vmi: VirtualMachineInstance): string => `${vmi.metadata.namespace ?? ''}/${vmi.metadata.name ?? ''}`;

export class SimulatedVmHost implements VmHost {
  readonly adoptsReportedVms = true;
  /** Simulated guests never stop on their own: events are enough. */
  readonly resyncMs = undefined;
  private readonly vms = new Map<string, VmInfo>();
  /** Boots so far (adoptions are not boots). */
  starts = 0;

  constructor(private readonly onStart: () => void = () => {}) {}

  async list(): Promise<VmInfo[]> {
    return [...this.vms.values()];
  }

  async get(key: string): Promise<VmInfo | undefined> {
    return this.vms.get(key);
  }

  async start(vmi: VirtualMachineInstance): Promise<void> {
    const key = keyOf(vmi);
    if (this.vms.get(key)?.uid === vmi.metadata.uid) return;
    this.vms.set(key, { key, uid: vmi.metadata.uid ?? '', state: 'Running' });
    this.starts++;
    this.onStart();
  }

  async adopt(vmi: VirtualMachineInstance): Promise<void> {
    const key = keyOf(vmi);
    if (!this.vms.has(key)) this.vms.set(key, { key, uid: vmi.metadata.uid ?? '', state: 'Running' });
  }

  async shutdown(key: string): Promise<'gone' | 'stopping'> {
    this.vms.delete(key);
    return 'gone';
  }

  async release(key: string): Promise<void> {
    this.vms.delete(key);
  }

  /**
   * A simulated serial console: a boot line, then one heartbeat per second since the VMI became
   * Running (its phase stamp), so the count goes on across migrations as a real guest's does.
   */
  async console(vmi: VirtualMachineInstance, nowMs = Date.now()): Promise<string | undefined> {
    const key = keyOf(vmi);
    if (!this.vms.has(key)) return undefined;
    const stamps = Array.isArray(vmi.status?.phaseTransitionTimestamps) ? (vmi.status.phaseTransitionTimestamps as Array<{ phase?: string; phaseTransitionTimestamp?: string }>) : [];
    const since = Date.parse(stamps.find((s) => s.phase === 'Running')?.phaseTransitionTimestamp ?? '');
    const seconds = Number.isNaN(since) ? 0 : Math.max(0, Math.floor((nowMs - since) / 1000));
    const first = Math.max(1, seconds - 199);
    const lines = [...(first === 1 ? [`lm-booted simulated guest ${key}`] : []), ...Array.from({ length: Math.max(0, seconds - first + 1) }, (_, i) => `lm-heartbeat ${first + i} uptime=${first + i}`)];
    return lines.map((l) => `${l}\n`).join('');
  }

  has(key: string): boolean {
    return this.vms.has(key);
  }
}
