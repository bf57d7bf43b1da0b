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

  it('only NoSchedule and NoExecute repel; the cordon taint is left to the cordon rule', () => {
    const taints: NodeTaint[] = [gpu, { key: 'soft', effect: 'PreferNoSchedule' }, { key: 'evict', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }];
    expect(untoleratedTaints(taints, []).map((t) => t.key)).toEqual(['gpu', 'evict']);
    expect(untoleratedTaints(taints, [{ key: 'evict', operator: 'Exists' }]).map((t) => t.key)).toEqual(['gpu']);
    expect(untoleratedTaints(undefined, [])).toEqual([]);
  });

  it('reads tolerations and taints as written; a malformed entry tolerates nothing', () => {
    expect(tolerationsOf({ tolerations: [{ key: 'gpu', operator: 'Exists', tolerationSeconds: 5 }, 'junk', { key: 7 }] })).toEqual([{ key: 'gpu', operator: 'Exists' }, {}]);
    expect(tolerationsOf({ tolerations: 'all' })).toEqual([]);
    expect(untoleratedTaints([gpu], tolerationsOf({ tolerations: [{ key: 7 }] }))).toEqual([gpu]);
    expect(taintsOf([{ key: 'a', effect: 'NoSchedule', value: '' }, { key: 'b' }, null])).toEqual([{ key: 'a', effect: 'NoSchedule' }]);
  });
});
