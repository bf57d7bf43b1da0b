import { describe, expect, it } from '@jest/globals';
import { taintsOf, tolerates, tolerationsOf, untoleratedTaints, type NodeTaint } from './taints.js';

const gpu: NodeTaint = { key: 'gpu', value: 'yes', effect: 'NoSchedule' };

describe('taints and tolerations (Kubernetes rules)', () => {
  it('matches by key, value and effect; Equal is the default operator', () => {
    expect(tolerates({ key: 'gpu', value: 'yes' }, gpu)).toBe(true);
    expect(tolerates({ key: 'gpu', operator: 'Equal', value: 'no' }, gpu)).toBe(false);
    expect(tolerates({ key: 'gpu', operator: 'Exists' }, gpu)).toBe(true);
    expect(tolerates({ key: 'gpu', operator: 'Exists', effect: 'NoExecute' }, gpu)).toBe(false);
    expect(tolerates({ key: 'other', operator: 'Exists' }, gpu)).toBe(false);
    expect(tolerates({ key: 'gpu' }, { key: 'gpu', effect: 'NoSchedule' })).toBe(true);
  });

  it('an empty key tolerates every taint only with Exists', () => {
    expect(tolerates({ operator: 'Exists' }, gpu)).toBe(true);
    expect(tolerates({ operator: 'Exists', effect: 'NoSchedule' }, gpu)).toBe(true);
    expect(tolerates({}, gpu)).toBe(false);
    expect(tolerates({ operator: 'Bogus', key: 'gpu' }, gpu)).toBe(false);
  });

  it('only NoSchedule and NoExecute repel; the cordon and readiness taints are left to those rules', () => {
    const taints: NodeTaint[] = [
      gpu,
      { key: 'soft', effect: 'PreferNoSchedule' },
      { key: 'evict', effect: 'NoExecute' },
      { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
      // Put on every new Node by the API server; only a node lifecycle controller removes it.
      { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
    ];
    expect(untoleratedTaints(taints, []).map((t) => t.key)).toEqual(['gpu', 'evict']);
    expect(untoleratedTaints(taints, [{ key: 'evict', operator: 'Exists' }]).map((t) => t.key)).toEqual(['gpu']);
    // A pressure taint is a cause of its own: honoured.
    expect(untoleratedTaints([{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }], []).map((t) => t.key)).toEqual(['node.kubernetes.io/memory-pressure']);
    expect(untoleratedTaints(undefined, [])).toEqual([]);
  });

  it('reads tolerations and taints as written; a malformed entry tolerates nothing', () => {
    expect(tolerationsOf({ tolerations: [{ key: 'gpu', operator: 'Exists', tolerationSeconds: 5 }, 'junk', { key: 7 }] })).toEqual([{ key: 'gpu', operator: 'Exists' }, {}]);
    expect(tolerationsOf({ tolerations: 'all' })).toEqual([]);
    expect(untoleratedTaints([gpu], tolerationsOf({ tolerations: [{ key: 7 }] }))).toEqual([gpu]);
    expect(taintsOf([{ key: 'a', effect: 'NoSchedule', value: '' }, { key: 'b' }, null])).toEqual([{ key: 'a', effect: 'NoSchedule' }]);
  });
});
