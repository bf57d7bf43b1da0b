import { describe, expect, it } from '@jest/globals';
import { chooseTarget, effectiveSelector, type LoadView, type NodeFacts, type NodeLoad } from './target-choice.js';

const node = (name: string, extra: Partial<NodeFacts> = {}): NodeFacts => ({
  name,
  labels: {},
  ready: true,
  unschedulable: false,
  hasAgent: true,
  ...extra,
});

function view(loads: Record<string, Partial<NodeLoad>> = {}, inboundLimit = 2): LoadView {
  return { load: (n) => ({ inbound: 0, outbound: 0, ...loads[n] }), inboundLimit };
}

describe('chooseTarget', () => {
  it('prefers the least loaded eligible node, then the name', () => {
    const nodes = [node('node-c'), node('node-b'), node('node-a'), node('node-d')];
    expect(chooseTarget(nodes, { sourceNode: 'node-a' }, view())).toEqual({ ok: true, node: 'node-b' });
    expect(chooseTarget(nodes, { sourceNode: 'node-a' }, view({ 'node-b': { outbound: 1 } }))).toEqual({ ok: true, node: 'node-c' });
    expect(chooseTarget(nodes, { sourceNode: 'node-a' }, view({ 'node-b': { inbound: 1 }, 'node-c': { outbound: 2 }, 'node-d': { inbound: 1, outbound: 1 } }))).toEqual({
      ok: true,
      node: 'node-b',
    });
  });

  it('explains each node when none is eligible', () => {
    const nodes = [node('node-a'), node('node-b', { ready: false }), node('node-c', { labels: { zone: 'a' } })];
    expect(chooseTarget(nodes, { sourceNode: 'node-a', addedNodeSelector: { zone: 'b' } }, view())).toEqual({
      ok: false,
      unschedulable: true,
      reason:
        '0/3 nodes eligible: node-a is the source, lacks label zone=b; node-b not Ready, lacks label zone=b; node-c lacks label zone=b',
    });
  });

  it('never picks a node being drained (the drain taint), even the least loaded', () => {
    const nodes = [node('src', { draining: true }), node('also-draining', { draining: true }), node('busy')];
    expect(chooseTarget(nodes, { sourceNode: 'src' }, view({ busy: { inbound: 1, outbound: 1 } }))).toEqual({ ok: true, node: 'busy' });
    expect(chooseTarget(nodes.slice(0, 2), { sourceNode: 'src' }, view())).toEqual({
      ok: false,
      unschedulable: true,
      reason: '0/2 nodes eligible: also-draining is being drained; src is the source, is being drained',
    });
  });

  it('excludes cordoned nodes and nodes without an agent', () => {
    const nodes = [node('src'), node('cordoned', { unschedulable: true }), node('bare', { hasAgent: false })];
    const choice = chooseTarget(nodes, { sourceNode: 'src' }, view());
    expect(choice).toMatchObject({ ok: false, unschedulable: true });
    expect(!choice.ok && choice.reason).toContain('bare has no agent; cordoned is unschedulable');
  });

  it('an evacuation never targets a cordoned or draining node, whatever the VMI tolerates', () => {
    const nodes = [node('src', { draining: true }), node('cordoned', { unschedulable: true }), node('other-drain', { draining: true, unschedulable: true })];
    const choice = chooseTarget(nodes, { sourceNode: 'src', tolerations: [{ operator: 'Exists' }] }, view());
    expect(choice).toEqual({
      ok: false,
      unschedulable: true,
      reason: '0/3 nodes eligible: cordoned is unschedulable; other-drain is unschedulable, is being drained; src is the source, is being drained',
    });
  });

  it("keeps the VMI off NoSchedule/NoExecute taints it does not tolerate (KubeVirt's target pod carries its tolerations)", () => {
    const nodes = [node('src'), node('idle', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }), node('loaded')];
    const loaded = view({ loaded: { inbound: 1, outbound: 1 } });
    expect(chooseTarget(nodes, { sourceNode: 'src' }, loaded)).toEqual({ ok: true, node: 'loaded' });
    expect(chooseTarget(nodes, { sourceNode: 'src', tolerations: [{ key: 'dedicated', operator: 'Exists' }] }, loaded)).toEqual({ ok: true, node: 'idle' });
    expect(chooseTarget(nodes.slice(0, 2), { sourceNode: 'src' }, loaded)).toEqual({
      ok: false,
      unschedulable: true,
      reason: '0/2 nodes eligible: idle had untolerated taint {dedicated: db}; src is the source',
    });
  });

  it("the VMI's node selector wins over the migration's on a shared key", () => {
    expect(effectiveSelector({ sourceNode: 's', vmiNodeSelector: { zone: 'a' }, addedNodeSelector: { zone: 'b', rack: '7' } })).toEqual({
      zone: 'a',
      rack: '7',
    });
    const nodes = [node('s'), node('in-a', { labels: { zone: 'a', rack: '7' } }), node('in-b', { labels: { zone: 'b', rack: '7' } })];
    expect(chooseTarget(nodes, { sourceNode: 's', vmiNodeSelector: { zone: 'a' }, addedNodeSelector: { zone: 'b', rack: '7' } }, view())).toEqual({
      ok: true,
      node: 'in-a',
    });
  });

  it('eligible nodes at their inbound limit mean "busy", not unschedulable', () => {
    const nodes = [node('s'), node('t1'), node('t2')];
    const choice = chooseTarget(nodes, { sourceNode: 's' }, view({ t1: { inbound: 2 }, t2: { inbound: 2 } }));
    expect(choice).toEqual({ ok: false, unschedulable: false, reason: 'all 2 eligible nodes are at the inbound limit (2): t1, t2' });
  });

  it('groups reasons on a large cluster', () => {
    const nodes = [node('n-000'), ...Array.from({ length: 99 }, (_, i) => node(`n-${String(i + 1).padStart(3, '0')}`, { ready: i >= 60 }))];
    const choice = chooseTarget(nodes, { sourceNode: 'n-000', vmiNodeSelector: { gpu: 'no' } }, view());
    expect(!choice.ok && choice.reason).toBe(
      '0/100 nodes eligible: lacks label gpu=no: 100 nodes (n-000, n-001, n-002, …); not Ready: 60 nodes (n-001, n-002, n-003, …); is the source: 1 node (n-000)',
    );
  });
});
