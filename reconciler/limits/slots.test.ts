import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { chooseTarget, type NodeFacts } from '../scheduling/target-choice.js';
import { admit, inFlightFrom, oneInFlightPerVmi, waitingFrom, type InFlight, type Limits, type Waiting } from './slots.js';

const DEFAULTS: Limits = { parallelMigrationsPerCluster: 5, parallelOutboundMigrationsPerNode: 2, parallelInboundMigrationsPerNode: 2 };

const nodes = (...names: string[]): NodeFacts[] =>
  names.map((name) => ({ name, labels: {}, ready: true, unschedulable: false, hasAgent: true }));

const chooser = (cluster: NodeFacts[]) => (m: Waiting, view: Parameters<typeof chooseTarget>[2]) =>
  chooseTarget(cluster, { sourceNode: m.sourceNode }, view);

const w = (key: string, sourceNode: string, second: number, priority?: Waiting['priority']): Waiting => ({
  key,
  sourceNode,
  creationTimestamp: `2026-01-01T00:00:${String(second).padStart(2, '0')}Z`,
  ...(priority ? { priority } : {}),
});

describe('admit', () => {
  it('admits in priority order (system-critical, user-triggered, system-maintenance, none), then creation time, never beyond the cluster limit', () => {
    const cluster = nodes(...Array.from({ length: 10 }, (_, i) => `n${i}`));
    const waiting = [
      w('ns/late', 'n1', 9),
      w('ns/maint', 'n2', 0, 'system-maintenance'),
      w('ns/early', 'n3', 1),
      w('ns/critical', 'n4', 5, 'system-critical'),
      w('ns/mid', 'n5', 4),
    ];
    // user-triggered before system-maintenance, though created later.
    expect(admit([w('ns/maint', 'n2', 0, 'system-maintenance'), w('ns/user', 'n3', 8, 'user-triggered')], [], { ...DEFAULTS, parallelMigrationsPerCluster: 1 }, chooser(cluster)).admitted.map((a) => a.migration.key)).toEqual(['ns/user']);
    const result = admit(waiting, [{ key: 'x/1', sourceNode: 'n8', targetNode: 'n9' }, { key: 'x/2', sourceNode: 'n9', targetNode: 'n8' }], DEFAULTS, chooser(cluster));
    expect(result.admitted.map((a) => a.migration.key)).toEqual(['ns/critical', 'ns/maint', 'ns/early']);
    expect(result.held.map((h) => [h.migration.key, h.reason])).toEqual([
      ['ns/mid', 'ClusterLimit'],
      ['ns/late', 'ClusterLimit'],
    ]);
    expect(result.held[0]?.message).toBe('5 migrations running in the cluster (limit 5)');
  });

  it('holds a migration whose source is at its outbound limit, and lets later ones pass it', () => {
    const cluster = nodes('a', 'b', 'c', 'd');
    const inFlight: InFlight[] = [
      { key: 'x/1', sourceNode: 'a', targetNode: 'b' },
      { key: 'x/2', sourceNode: 'a', targetNode: 'c' },
    ];
    const result = admit([w('ns/first', 'a', 0), w('ns/second', 'd', 1)], inFlight, DEFAULTS, chooser(cluster));
    expect(result.held).toEqual([{ migration: w('ns/first', 'a', 0), reason: 'OutboundLimit', message: '2 migrations running out of a (limit 2)' }]);
    expect(result.admitted).toEqual([{ migration: w('ns/second', 'd', 1), targetNode: 'b' }]);
  });

  it('spreads targets so that no node exceeds its inbound limit', () => {
    const cluster = nodes('s1', 's2', 's3', 't');
    const limits = { ...DEFAULTS, parallelInboundMigrationsPerNode: 1 };
    const onlyT = (m: Waiting, view: Parameters<typeof chooseTarget>[2]) =>
      chooseTarget(cluster.filter((n) => n.name === 't' || n.name === m.sourceNode), { sourceNode: m.sourceNode }, view);
    const result = admit([w('ns/1', 's1', 0), w('ns/2', 's2', 1)], [], limits, onlyT);
    expect(result.admitted).toEqual([{ migration: w('ns/1', 's1', 0), targetNode: 't' }]);
    expect(result.held[0]).toMatchObject({ reason: 'InboundLimit' });
  });

  it('reports NoEligibleNode when no node could ever take it', () => {
    const result = admit([w('ns/1', 'only', 0)], [], DEFAULTS, chooser(nodes('only')));
    expect(result.held[0]).toMatchObject({ reason: 'NoEligibleNode', message: '0/1 nodes eligible: only is the source' });
  });

  it('after a limit is lowered below current use, admits nothing', () => {
    const inFlight: InFlight[] = [1, 2, 3].map((i) => ({ key: `x/${i}`, sourceNode: `s${i}`, targetNode: `t${i}` }));
    const result = admit([w('ns/1', 'a', 0)], inFlight, { ...DEFAULTS, parallelMigrationsPerCluster: 2 }, chooser(nodes('a', 'b')));
    expect(result.admitted).toEqual([]);
  });

  it('never exceeds any limit over a long randomized run (seeded)', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cluster = nodes(...Array.from({ length: 6 }, (_, i) => `n${i}`));
    const limits: Limits = { parallelMigrationsPerCluster: 4, parallelOutboundMigrationsPerNode: 1, parallelInboundMigrationsPerNode: 1 };
    let running: InFlight[] = [];
    let queue: Waiting[] = Array.from({ length: 60 }, (_, i) => w(`ns/m${String(i).padStart(2, '0')}`, `n${Math.floor(random() * 6)}`, i % 60));
    let finished = 0;
    for (let step = 0; step < 500 && (queue.length > 0 || running.length > 0); step++) {
      running = running.filter(() => random() > 0.3 || (finished++, false));
      const { admitted } = admit(queue, running, limits, chooser(cluster));
      running = [...running, ...admitted.map((a) => ({ key: a.migration.key, sourceNode: a.migration.sourceNode, targetNode: a.targetNode }))];
      queue = queue.filter((q) => !admitted.some((a) => a.migration.key === q.key));
      expect(running.length).toBeLessThanOrEqual(4);
      for (const n of cluster) {
        expect(running.filter((r) => r.sourceNode === n.name).length).toBeLessThanOrEqual(1);
        expect(running.filter((r) => r.targetNode === n.name).length).toBeLessThanOrEqual(1);
      }
    }
    expect(finished).toBe(60);
  });
});

describe('derived from VMIMs as the API server holds them', () => {
  const vmim = (name: string, phase: NonNullable<VirtualMachineInstanceMigration['status']>['phase'], extra: Partial<VirtualMachineInstanceMigration> = {}): VirtualMachineInstanceMigration => ({
    metadata: { name, namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { vmiName: `vmi-${name}` },
    status: { phase, migrationState: { sourceNode: 'a', targetNode: 'b' } },
    ...extra,
  });

  it('slots are held from Scheduled until final, including while an abort is pending', () => {
    const all = [
      vmim('pending', 'Pending'),
      vmim('scheduling', 'Scheduling'),
      vmim('scheduled', 'Scheduled'),
      vmim('preparing', 'PreparingTarget'),
      vmim('ready', 'TargetReady'),
      vmim('running', 'Running'),
      vmim('aborting', 'Running', { metadata: { name: 'aborting', namespace: 'ns', deletionTimestamp: '2026-01-01T00:01:00Z' } }),
      vmim('done', 'Succeeded'),
      vmim('failed', 'Failed'),
    ];
    expect(inFlightFrom(all).map((m) => m.key)).toEqual(['ns/scheduled', 'ns/preparing', 'ns/ready', 'ns/running', 'ns/aborting']);
    expect(waitingFrom(all).map((m) => m.key)).toEqual(['ns/scheduling']);
  });

  it('a deleted migration still in Scheduling is not admitted', () => {
    const deleted = vmim('gone', 'Scheduling', { metadata: { name: 'gone', namespace: 'ns', deletionTimestamp: '2026-01-01T00:01:00Z' } });
    expect(waitingFrom([deleted])).toEqual([]);
  });
});

describe('oneInFlightPerVmi', () => {
  it('holds the second migration of a VMI (VmiBusy) before admission, so it takes no slot from another VMI', () => {
    const a1 = { ...w('ns/a1', 'n1', 1), vmi: 'ns/a' };
    const a2 = { ...w('ns/a2', 'n1', 2), vmi: 'ns/a' };
    const b1 = { ...w('ns/b1', 'n2', 3), vmi: 'ns/b' };
    const { eligible, held } = oneInFlightPerVmi([a2, b1, a1], new Map());
    expect(eligible.map((m) => m.key)).toEqual(['ns/a1', 'ns/b1']);
    expect(held).toEqual([{ migration: a2, reason: 'VmiBusy', message: 'migration ns/a1 of VMI ns/a goes first' }]);
    const decision = admit(eligible, [], { ...DEFAULTS, parallelMigrationsPerCluster: 2 }, chooser(nodes('n1', 'n2', 'n3')));
    expect(decision.admitted.map((a) => a.migration.key)).toEqual(['ns/a1', 'ns/b1']);
  });

  it('holds every waiting migration of a VMI that already has one in flight', () => {
    const c2 = { ...w('ns/c2', 'n1', 1), vmi: 'ns/c' };
    const { eligible, held } = oneInFlightPerVmi([c2], new Map([['ns/c', 'ns/c1']]));
    expect(eligible).toEqual([]);
    expect(held.map((h) => h.message)).toEqual(['migration ns/c1 of VMI ns/c goes first']);
  });
});
