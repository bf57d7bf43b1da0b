import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { nodeFacts } from './node-facts.js';

const withTaints = (taints: NonNullable<V1Node['spec']>['taints'], unschedulable = false): V1Node => ({
  metadata: { name: 'n1' },
  spec: { taints, unschedulable },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

describe('nodeFacts', () => {
  it('reads the drain taint under the configured key (NoSchedule only) as draining, not as an ordinary taint', () => {
    const node = withTaints([{ key: 'example.com/drain', effect: 'NoSchedule' }, { key: 'gpu', value: 'yes', effect: 'NoSchedule' }]);
    expect(nodeFacts(node, true, 'example.com/drain')).toMatchObject({ draining: true, taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] });
    expect(nodeFacts(node, true, 'kubevirt.io/drain')).toMatchObject({ draining: false, taints: [{ key: 'example.com/drain' }, { key: 'gpu' }] });
    const execute = withTaints([{ key: 'kubevirt.io/drain', effect: 'NoExecute' }]);
    expect(nodeFacts(execute, true, 'kubevirt.io/drain')).toMatchObject({ draining: false, taints: [{ key: 'kubevirt.io/drain', effect: 'NoExecute' }] });
  });

  it('reads cordon, readiness and agent', () => {
    expect(nodeFacts(withTaints(undefined, true), false, 'kubevirt.io/drain')).toEqual({
      name: 'n1',
      labels: {},
      ready: true,
      unschedulable: true,
      hasAgent: false,
      draining: false,
      taints: [],
    });
  });
});
