import { describe, expect, it } from '@jest/globals';
import type { MigrationStatus } from './phases.js';
import { mirrorToVmi } from './vmi-mirror.js';

const running: MigrationStatus = {
  phase: 'Running',
  migrationState: { migrationUid: 'm2', sourceNode: 'node02', targetNode: 'node01', completed: false },
};

describe('mirrorToVmi', () => {
  it('copies the migration state; the VMI stays on its source until success', () => {
    const result = mirrorToVmi({ nodeName: 'node02', phase: 'Running' }, running);
    expect(result).toEqual({
      ok: true,
      changed: true,
      status: { nodeName: 'node02', phase: 'Running', migrationState: running.migrationState },
    });
  });

  it('after success the VMI is on the target', () => {
    const done: MigrationStatus = { phase: 'Succeeded', migrationState: { ...running.migrationState, completed: true } };
    const result = mirrorToVmi({ nodeName: 'node02' }, done);
    expect(result.ok && result.status.nodeName).toBe('node01');
  });

  it('reports no change when the VMI already shows the same state in another key order', () => {
    const shown = { completed: false, targetNode: 'node01', sourceNode: 'node02', migrationUid: 'm2' };
    expect(mirrorToVmi({ nodeName: 'node02', migrationState: shown }, running)).toMatchObject({ ok: true, changed: false });
  });

  it('never overwrites another migration still in progress', () => {
    const result = mirrorToVmi({ migrationState: { migrationUid: 'm3', completed: false } }, running);
    expect(result).toEqual({ ok: false, error: 'the VMI shows migration m3, still in progress' });
    expect(mirrorToVmi({ migrationState: { migrationUid: 'm1', completed: true } }, running).ok).toBe(true);
  });

  it('a final migration never replaces another one the VMI shows: that one is newer (it moved the VMI since)', () => {
    const older: MigrationStatus = { phase: 'Succeeded', migrationState: { migrationUid: 'm1', sourceNode: 'node03', targetNode: 'node02', completed: true } };
    const vmi = { nodeName: 'node01', migrationState: { migrationUid: 'm2', targetNode: 'node01', completed: true } };
    expect(mirrorToVmi(vmi, older)).toEqual({ ok: false, error: 'the VMI shows migration m2, newer than this final one' });
    expect(mirrorToVmi(vmi, { ...older, migrationState: { ...older.migrationState, migrationUid: 'm2', targetNode: 'node01' } }).ok).toBe(true);
  });
});
