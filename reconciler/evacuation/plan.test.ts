import { describe, expect, it } from '@jest/globals';
import { EVACUATION_ANNOTATION } from '../../api/names.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { planEvacuation, vmiStatusPatch, type PlanInput } from './plan.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');

function vmi(name: string, extra: { node?: string; strategy?: string; migratable?: 'True' | 'False'; mark?: string; phase?: string; conditions?: unknown[] } = {}): VirtualMachineInstance {
  const conditions = [...(extra.migratable ? [{ type: 'LiveMigratable', status: extra.migratable, reason: extra.migratable === 'False' ? 'DisksNotLiveMigratable' : undefined }] : []), ...(extra.conditions ?? [])];
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: extra.strategy ? { evictionStrategy: extra.strategy as 'None' } : {},
    status: { phase: (extra.phase ?? 'Running') as 'Running', nodeName: extra.node ?? 'n1', conditions: conditions as never, ...(extra.mark ? { evacuationNodeName: extra.mark } : {}) },
  };
}

function vmim(name: string, vmiName: string, phase: string, extra: { evacuation?: string; createdAt?: string; finishedAt?: string } = {}): VirtualMachineInstanceMigration {
  return {
    metadata: { name, namespace: 'ns', creationTimestamp: extra.createdAt ?? '2026-01-01T00:00:00Z', ...(extra.evacuation ? { annotations: { [EVACUATION_ANNOTATION]: extra.evacuation } } : {}) },
    spec: { vmiName },
    status: { phase: phase as 'Failed', ...(extra.finishedAt ? { phaseTransitionTimestamps: [{ phase: phase as 'Failed', phaseTransitionTimestamp: extra.finishedAt }] } : {}) },
  };
}

function input(vmis: VirtualMachineInstance[], extra: Partial<PlanInput> = {}): PlanInput {
  return { node: 'n1', draining: true, clusterDefault: 'LiveMigrate', vmis, migrationsOf: () => [], evacuationsFrom: [], createdUnseen: () => false, nowMs: NOW, backoffBaseMs: 20_000, ...extra };
}

const summary = (plan: ReturnType<typeof planEvacuation>) => plan.vmis.map((d) => [d.vmi.metadata.name, d.mark ?? '-', d.blocked?.reason ?? '-', d.action.kind]);

describe('planEvacuation on a draining node', () => {
  it('evacuates by strategy: LiveMigrate(IfPossible) migrated, External marked only, None and non-migratable stay reported', () => {
    const plan = planEvacuation(input([
      vmi('default', { migratable: 'True' }),
      vmi('if-possible', { strategy: 'LiveMigrateIfPossible', migratable: 'True' }),
      vmi('external', { strategy: 'External', migratable: 'True' }),
      vmi('none', { strategy: 'None', migratable: 'True' }),
      vmi('rwo', { migratable: 'False' }),
      vmi('unevaluated'),
    ]));
    expect(summary(plan)).toEqual([
      ['default', 'n1', '-', 'create'],
      ['if-possible', 'n1', '-', 'create'],
      ['external', 'n1', '-', 'none'],
      ['none', '-', 'EvictionStrategyNone', 'none'],
      ['rwo', '-', 'NotLiveMigratable', 'none'],
      ['unevaluated', 'n1', '-', 'none'],
    ]);
    expect(plan.vmis[4]?.blocked?.message).toBe('VMI ns/rwo is not live-migratable (DisksNotLiveMigratable): it stays on n1, which is being drained');
    expect(plan.cancel).toEqual([]);
  });

  it('takes the cluster default when the VMI sets none', () => {
    expect(summary(planEvacuation(input([vmi('a', { migratable: 'True' })], { clusterDefault: 'None' })))).toEqual([['a', '-', 'EvictionStrategyNone', 'none']]);
  });

  it('creates none for a VMI already migrating, one just created, or one not Running', () => {
    const migrating = vmi('migrating', { migratable: 'True' });
    const plan = planEvacuation(input([migrating, vmi('just-created', { migratable: 'True' }), vmi('pending', { migratable: 'True', phase: 'Scheduled' })], {
      migrationsOf: (key) => (key === 'ns/migrating' ? [vmim('user', 'migrating', 'Running')] : []),
      createdUnseen: (key) => key === 'ns/just-created',
    }));
    expect(plan.vmis.map((d) => d.action.kind)).toEqual(['none', 'none', 'none']);
  });

  it('backs off after failed evacuations, from the last failure, and requeues when it ends', () => {
    const failedAt = new Date(NOW - 30_000).toISOString();
    const plan = planEvacuation(input([vmi('a', { migratable: 'True' })], {
      migrationsOf: () => [
        vmim('e1', 'a', 'Failed', { evacuation: 'n1', createdAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z' }),
        vmim('e2', 'a', 'Failed', { evacuation: 'n1', createdAt: '2026-01-01T00:02:00Z', finishedAt: failedAt }),
        // A user's failed migration does not count.
        vmim('user', 'a', 'Failed', { createdAt: '2026-01-01T00:03:00Z', finishedAt: failedAt }),
      ],
    }));
    expect(plan.vmis[0]?.action).toEqual({ kind: 'backoff', failures: 2, notBeforeMs: NOW + 10_000 });
    expect(plan.requeueAfterMs).toBe(10_000);
  });

  it('clears the mark of a VMI that left the node (evacuated), and keeps its other report alone', () => {
    const plan = planEvacuation(input([vmi('moved', { node: 'n2', mark: 'n1', migratable: 'True' })]));
    expect(summary(plan)).toEqual([['moved', '-', '-', 'none']]);
  });
});

describe('planEvacuation when the drain is called off', () => {
  it('clears marks and reports, cancels evacuations that hold no slot, and lets running ones finish', () => {
    const queued = vmim('queued', 'a', 'Scheduling', { evacuation: 'n1' });
    const fresh = vmim('fresh', 'b', '', { evacuation: 'n1' });
    const running = vmim('running', 'c', 'Running', { evacuation: 'n1' });
    const plan = planEvacuation(input([
      vmi('a', { mark: 'n1', migratable: 'True' }),
      vmi('none', { strategy: 'None', conditions: [{ type: 'EvacuationBlocked', status: 'True', reason: 'EvictionStrategyNone', message: 'x' }] }),
    ], { draining: false, evacuationsFrom: [queued, fresh, running] }));
    expect(summary(plan)).toEqual([['a', '-', '-', 'none'], ['none', '-', '-', 'none']]);
    expect(plan.cancel.map((m) => m.metadata.name)).toEqual(['queued', 'fresh']);
  });
});

describe('vmiStatusPatch', () => {
  const at = '2026-01-01T00:10:00.000Z';
  it('marks with EvictionRequested, and clears both with null', () => {
    const [decision] = planEvacuation(input([vmi('a', { migratable: 'True' })])).vmis;
    if (!decision) throw new Error('no decision');
    const patch = vmiStatusPatch(decision, at);
    expect(patch).toMatchObject({ evacuationNodeName: 'n1', conditions: [{ type: 'LiveMigratable' }, { type: 'EvictionRequested', status: 'True', reason: 'EvictionRequested' }] });
    const marked = vmi('a', { mark: 'n1', migratable: 'True', conditions: (patch as { conditions: unknown[] }).conditions.slice(1) });
    const [again] = planEvacuation(input([marked])).vmis;
    if (!again) throw new Error('no decision');
    expect(vmiStatusPatch(again, at)).toBeUndefined();
    const [off] = planEvacuation(input([marked], { draining: false })).vmis;
    if (!off) throw new Error('no decision');
    expect(vmiStatusPatch(off, at)).toEqual({ evacuationNodeName: null, conditions: [{ type: 'LiveMigratable', status: 'True' }] });
  });

  it('reports a VMI that cannot leave once, keeping its transition time', () => {
    const [decision] = planEvacuation(input([vmi('none', { strategy: 'None' })])).vmis;
    if (!decision) throw new Error('no decision');
    const patch = vmiStatusPatch(decision, at) as { conditions: Array<Record<string, unknown>> };
    expect(patch.conditions).toEqual([{ type: 'EvacuationBlocked', status: 'True', reason: 'EvictionStrategyNone', message: 'VMI ns/none has evictionStrategy None: it stays on n1, which is being drained', lastTransitionTime: at }]);
    const [again] = planEvacuation(input([vmi('none', { strategy: 'None', conditions: patch.conditions })])).vmis;
    if (!again) throw new Error('no decision');
    expect(vmiStatusPatch(again, '2026-01-01T00:11:00.000Z')).toBeUndefined();
  });
});
