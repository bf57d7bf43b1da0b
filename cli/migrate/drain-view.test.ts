import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { drainView } from './drain-view.js';

const vmi = (name: string, node: string, extra: Partial<NonNullable<VirtualMachineInstance['status']>> = {}): VirtualMachineInstance => ({
  metadata: { name, namespace: 'ns' },
  status: { phase: 'Running', nodeName: node, ...extra },
});

const evacuation = (name: string, vmiName: string, phase: string, created = '2026-01-01T00:00:00Z'): VirtualMachineInstanceMigration => ({
  metadata: { name, namespace: 'ns', creationTimestamp: created, annotations: { 'kubevirt.io/evacuationMigration': 'n1' } },
  spec: { vmiName, priority: 'system-critical' },
  status: {
    phase: phase as 'Running',
    migrationState: { sourceNode: 'n1', targetNode: 'n2', ...(phase === 'Failed' ? { failureReason: 'Unschedulable: no node' } : {}) },
    ...(phase === 'Running' ? { progress: { percent: 40, bandwidthMiBps: 32, dataRemainingBytes: 50 * 2 ** 20, etaSeconds: 2 } } : {}),
  } as VirtualMachineInstanceMigration['status'],
});

describe('drainView', () => {
  it('shows each VMI: progress of its evacuation, waiting, retried, cannot leave, evacuated', () => {
    const view = drainView('n1', [
      vmi('a', 'n1', { evacuationNodeName: 'n1' }),
      vmi('b', 'n1'),
      vmi('c', 'n1'),
      vmi('d', 'n1', { conditions: [{ type: 'EvacuationBlocked', status: 'True', reason: 'EvictionStrategyNone', message: 'VMI ns/d has evictionStrategy None' }] }),
      vmi('e', 'n2'),
      vmi('elsewhere', 'n3'),
    ], [evacuation('ev-a', 'a', 'Running'), evacuation('ev-c', 'c', 'Failed'), evacuation('ev-e', 'e', 'Succeeded')]);
    expect(view.empty).toBe(false);
    expect(view.stuck).toBeUndefined();
    const lines = view.text.split('\n');
    expect(lines[0]).toBe('node n1: 4 VMIs left, 1 evacuated');
    expect(lines[1]).toMatch(/^VMI\s+NODE\s+EVACUATION$/);
    expect(lines[2]).toMatch(/^ns\/a\s+n1\s+Running\s+\[#+\.+\]\s+40%\s+32\.0 MiB\/s/);
    expect(lines[3]).toMatch(/^ns\/b\s+n1\s+waiting for its evacuation$/);
    expect(lines[4]).toMatch(/^ns\/c\s+n1\s+to be retried \(Failed: Unschedulable: no node\)$/);
    expect(lines[5]).toMatch(/^ns\/d\s+n1\s+cannot leave: EvictionStrategyNone$/);
    expect(lines[6]).toMatch(/^ns\/e\s+n2\s+evacuated$/);
  });

  it('is stuck, naming them, once only VMIs that cannot leave remain', () => {
    const blocked = vmi('d', 'n1', { conditions: [{ type: 'EvacuationBlocked', status: 'True', reason: 'NotLiveMigratable', message: 'VMI ns/d is not live-migratable' }] });
    expect(drainView('n1', [blocked, vmi('a', 'n1')], []).stuck).toBeUndefined();
    expect(drainView('n1', [blocked, vmi('a', 'n2')], [evacuation('ev-a', 'a', 'Succeeded')])).toMatchObject({ empty: false, stuck: ['ns/d (VMI ns/d is not live-migratable)'] });
  });

  it('is empty once the node holds no VMI (finished ones do not count)', () => {
    expect(drainView('n1', [vmi('a', 'n2'), vmi('gone', 'n1', { phase: 'Succeeded' })], [evacuation('ev-a', 'a', 'Succeeded')])).toMatchObject({ empty: true });
  });
});
