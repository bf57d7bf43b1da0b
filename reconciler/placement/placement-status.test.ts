import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { awaitsPlacement, placementPatch, usageByNode } from './placement-status.js';

const vmi = (status: VirtualMachineInstance['status'] = undefined, extra: Partial<VirtualMachineInstance['metadata']> = {}): VirtualMachineInstance => ({
  metadata: { name: 'v', namespace: 'ns', uid: 'u', creationTimestamp: '2026-01-01T00:00:00Z', ...extra },
  spec: {},
  ...(status ? { status } : {}),
});

describe('placement status', () => {
  it('places a new VMI in one write: Pending (at creation), Scheduling, Scheduled stamped; nodeName set', () => {
    expect(placementPatch(vmi(), { ok: true, node: 'n1' }, 'T')).toEqual({
      phase: 'Scheduled',
      nodeName: 'n1',
      phaseTransitionTimestamps: [
        { phase: 'Pending', phaseTransitionTimestamp: '2026-01-01T00:00:00Z' },
        { phase: 'Scheduling', phaseTransitionTimestamp: 'T' },
        { phase: 'Scheduled', phaseTransitionTimestamp: 'T' },
      ],
    });
  });

  it('keeps an unplaceable VMI Scheduling with PodScheduled=False and the reason, and writes nothing when it already says so', () => {
    const first = placementPatch(vmi(), { ok: false, reason: '0/1 nodes are available: 1 node not Ready.' }, 'T');
    expect(first).toMatchObject({
      phase: 'Scheduling',
      conditions: [
        { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 node not Ready.' },
        { type: 'Ready', status: 'False', reason: 'GuestNotRunning' },
      ],
    });
    const stored = vmi(first as VirtualMachineInstance['status']);
    expect(placementPatch(stored, { ok: false, reason: '0/1 nodes are available: 1 node not Ready.' }, 'T2')).toBeUndefined();
    const placed = placementPatch(stored, { ok: true, node: 'n1' }, 'T3');
    expect(placed).toMatchObject({ phase: 'Scheduled', conditions: [{ type: 'Ready', status: 'False' }] });
    expect((placed?.phaseTransitionTimestamps as unknown[]).length).toBe(3);
  });

  it('awaits placement only without a node, not final, not deleting', () => {
    expect(awaitsPlacement(vmi())).toBe(true);
    expect(awaitsPlacement(vmi({ phase: 'Scheduling' }))).toBe(true);
    expect(awaitsPlacement(vmi({ phase: 'Running', nodeName: 'n1' }))).toBe(false);
    expect(awaitsPlacement(vmi({ phase: 'Failed' }))).toBe(false);
    expect(awaitsPlacement(vmi(undefined, { deletionTimestamp: 'T' }))).toBe(false);
  });

  it('counts memory on the node and on a migration target in flight, not for final VMIs', () => {
    const usage = usageByNode(
      [
        vmi({ phase: 'Running', nodeName: 'a' }),
        vmi({ phase: 'Running', nodeName: 'a', migrationState: { targetNode: 'b' } }),
        vmi({ phase: 'Running', nodeName: 'a', migrationState: { targetNode: 'b', completed: true } }),
        vmi({ phase: 'Succeeded', nodeName: 'a' }),
      ],
      () => 10,
    );
    expect(Object.fromEntries(usage)).toEqual({ a: { usedMemoryBytes: 30, vmiCount: 3 }, b: { usedMemoryBytes: 10, vmiCount: 1 } });
  });
});
