import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { isDraining } from './draining.js';

const node = (spec: V1Node['spec']): V1Node => ({ metadata: { name: 'n' }, spec });

describe('isDraining', () => {
  it('is the drain taint with effect NoSchedule, under the configured key', () => {
    expect(isDraining(node({ taints: [{ key: 'kubevirt.io/drain', effect: 'NoSchedule' }] }), 'kubevirt.io/drain', false)).toBe(true);
    expect(isDraining(node({ taints: [{ key: 'kubevirt.io/drain', effect: 'PreferNoSchedule' }] }), 'kubevirt.io/drain', false)).toBe(false);
    expect(isDraining(node({ taints: [{ key: 'kubevirt.io/drain', effect: 'NoSchedule' }] }), 'example.com/drain', false)).toBe(false);
    expect(isDraining(node({ taints: [{ key: 'example.com/drain', effect: 'NoSchedule', value: 'x' }] }), 'example.com/drain', false)).toBe(true);
  });

  it('counts a cordon only when the operator turned that on', () => {
    expect(isDraining(node({ unschedulable: true }), 'kubevirt.io/drain', false)).toBe(false);
    expect(isDraining(node({ unschedulable: true }), 'kubevirt.io/drain', true)).toBe(true);
    expect(isDraining(node({}), 'kubevirt.io/drain', true)).toBe(false);
    expect(isDraining(undefined, 'kubevirt.io/drain', true)).toBe(false);
  });
});
