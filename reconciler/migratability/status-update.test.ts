import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { migratabilityPatch } from './status-update.js';
import type { Migratability } from './live-migratable.js';

const notShared: Migratability = {
  condition: { type: 'LiveMigratable', status: 'False', reason: 'DisksNotLiveMigratable', message: 'PVC data is not shared' },
  migrationMethod: 'BlockMigration',
  blockers: [],
  localVolumes: [],
};
const ok: Migratability = { condition: { type: 'LiveMigratable', status: 'True' }, migrationMethod: 'LiveMigration', blockers: [], localVolumes: [] };

function vmi(status: VirtualMachineInstance['status']): VirtualMachineInstance {
  return { metadata: { name: 'v', namespace: 'n' }, status };
}

describe('migratabilityPatch', () => {
  it('writes the condition and method of a VMI never evaluated, keeping other conditions', () => {
    const patch = migratabilityPatch(vmi({ conditions: [{ type: 'Ready', status: 'True' }] }), notShared, 'T1');
    expect(patch).toEqual({
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'LiveMigratable', status: 'False', reason: 'DisksNotLiveMigratable', message: 'PVC data is not shared', lastTransitionTime: 'T1' },
      ],
      migrationMethod: 'BlockMigration',
    });
  });

  it('writes nothing when the VMI already shows the result', () => {
    const shown = vmi({ conditions: [{ ...notShared.condition, lastTransitionTime: 'T0' }], migrationMethod: 'BlockMigration' });
    expect(migratabilityPatch(shown, notShared, 'T1')).toBeUndefined();
  });

  it('moves the transition time only when the status flips', () => {
    const before = vmi({ conditions: [{ ...notShared.condition, lastTransitionTime: 'T0' }], migrationMethod: 'BlockMigration' });
    expect(migratabilityPatch(before, ok, 'T1')?.conditions).toEqual([{ type: 'LiveMigratable', status: 'True', lastTransitionTime: 'T1' }]);
    const otherMessage = { ...notShared, condition: { ...notShared.condition, message: 'PVC other is not shared' } };
    expect(migratabilityPatch(before, otherMessage, 'T1')?.conditions[0]?.lastTransitionTime).toBe('T0');
  });
});
