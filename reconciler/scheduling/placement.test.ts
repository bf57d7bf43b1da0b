import { choosePlacement, type PlacementNode } from './placement.js';

const GI = 2 ** 30;
const node = (name: string, extra: Partial<PlacementNode> = {}): PlacementNode => ({
  name,
  labels: {},
  ready: true,
  unschedulable: false,
  hasAgent: true,
  guestMemoryBytes: 8 * GI,
  usedMemoryBytes: 0,
  vmiCount: 0,
  ...extra,
});

describe('placement of a new VMI', () => {
  it('picks the node with the fewest VMIs, then the most free memory, then the name', () => {
    const nodes = [node('b', { vmiCount: 1 }), node('c', { usedMemoryBytes: GI }), node('a', { usedMemoryBytes: GI }), node('d', { usedMemoryBytes: 2 * GI })];
    expect(choosePlacement(nodes, { spec: {}, memoryBytes: GI })).toEqual({ ok: true, node: 'a' });
  });

  it('never picks a node without a live agent, not Ready, cordoned, or where memory does not fit', () => {
    const nodes = [
      node('gone', { hasAgent: false }),
      node('down', { ready: false }),
      node('cordoned', { unschedulable: true }),
      node('full', { usedMemoryBytes: 7.5 * GI }),
      node('silent', { guestMemoryBytes: undefined }),
    ];
    const placement = choosePlacement(nodes, { spec: {}, memoryBytes: GI });
    expect(placement).toEqual({
      ok: false,
      reason:
        '0/5 nodes are available: 1 node agent reports no guest memory, 1 node insufficient memory (needs 1Gi), 1 node no live agent, 1 node not Ready, 1 node unschedulable.',
    });
    expect(choosePlacement([...nodes, node('roomy')], { spec: {}, memoryBytes: GI })).toEqual({ ok: true, node: 'roomy' });
  });

  it('never picks a node being drained, even when the VMI tolerates every taint', () => {
    const nodes = [node('draining', { draining: true }), node('busy', { vmiCount: 3 })];
    expect(choosePlacement(nodes, { spec: { tolerations: [{ operator: 'Exists' }] }, memoryBytes: GI })).toEqual({ ok: true, node: 'busy' });
    expect(choosePlacement(nodes.slice(0, 1), { spec: {}, memoryBytes: GI })).toEqual({ ok: false, reason: '0/1 nodes are available: 1 node being drained.' });
  });

  it('keeps a VMI off NoSchedule/NoExecute taints it does not tolerate, as the scheduler does', () => {
    const nodes = [
      node('gpu', { taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] }),
      node('evicting', { taints: [{ key: 'maintenance', effect: 'NoExecute' }] }),
      node('soft', { vmiCount: 5, taints: [{ key: 'spare', effect: 'PreferNoSchedule' }] }),
    ];
    expect(choosePlacement(nodes, { spec: {}, memoryBytes: GI })).toEqual({ ok: true, node: 'soft' });
    expect(choosePlacement(nodes, { spec: { tolerations: [{ key: 'gpu', operator: 'Equal', value: 'yes', effect: 'NoSchedule' }] }, memoryBytes: GI })).toEqual({ ok: true, node: 'gpu' });
    expect(choosePlacement(nodes.slice(0, 2), { spec: { tolerations: [{ key: 'gpu', value: 'no' }] }, memoryBytes: GI })).toEqual({
      ok: false,
      reason: '0/2 nodes are available: 1 node had untolerated taint {gpu: yes}, 1 node had untolerated taint {maintenance: }.',
    });
  });

  it('needs every label of spec.nodeSelector and the required node affinity', () => {
    const nodes = [node('east', { labels: { zone: 'east' } }), node('west', { labels: { zone: 'west', disk: 'ssd' } })];
    expect(choosePlacement(nodes, { spec: { nodeSelector: { zone: 'west' } }, memoryBytes: GI })).toEqual({ ok: true, node: 'west' });
    const affinity = { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['nvme'] }] }] } } } };
    const none = choosePlacement(nodes, { spec: { nodeSelector: { zone: 'east' }, ...affinity }, memoryBytes: GI });
    expect(none).toEqual({ ok: false, reason: "0/2 nodes are available: 2 nodes didn't match the VMI's node affinity, 1 node lacks label zone=east." });
  });

  it('says so when there are no nodes', () => {
    expect(choosePlacement([], { spec: {}, memoryBytes: GI })).toEqual({ ok: false, reason: '0/0 nodes are available.' });
  });
});
