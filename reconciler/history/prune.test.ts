import { describe, expect, it } from '@jest/globals';
import type { MigrationPhase, VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { migrationsToPrune } from './prune.js';

const vmim = (name: string, vmiName: string, phase: MigrationPhase, endSecond?: number, deleting = false): VirtualMachineInstanceMigration => ({
  metadata: { name, namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z', ...(deleting ? { deletionTimestamp: '2026-01-01T01:00:00Z' } : {}) },
  spec: { vmiName },
  status: {
    phase,
    ...(endSecond === undefined ? {} : { migrationState: { endTimestamp: `2026-01-01T00:00:${String(endSecond).padStart(2, '0')}Z` } }),
  },
});

describe('migrationsToPrune', () => {
  it('keeps the newest N finished per VMI and deletes the rest', () => {
    const all = [
      vmim('a1', 'a', 'Succeeded', 10),
      vmim('a2', 'a', 'Failed', 30),
      vmim('a3', 'a', 'Succeeded', 20),
      vmim('a4', 'a', 'Running'),
      vmim('b1', 'b', 'Succeeded', 5),
    ];
    expect(migrationsToPrune(all, 2).map((m) => m.metadata.name)).toEqual(['a1']);
    expect(migrationsToPrune(all, 1).map((m) => m.metadata.name).sort()).toEqual(['a1', 'a3']);
  });

  it('never deletes a migration in flight, nor counts one already being deleted', () => {
    const all = [vmim('x1', 'x', 'Running'), vmim('x2', 'x', 'Succeeded', 1, true), vmim('x3', 'x', 'Succeeded', 2)];
    expect(migrationsToPrune(all, 1)).toEqual([]);
    expect(migrationsToPrune(all, 0).map((m) => m.metadata.name)).toEqual(['x3']);
  });
});
