import { describe, expect, it } from '@jest/globals';
import { validateMigrationUpdate } from './validate-migration-update.js';

function vmim(spec: Record<string, unknown>, labels: Record<string, string> | undefined, phase?: string): unknown {
  return {
    metadata: { name: 'mig1', namespace: 'ns', ...(labels ? { labels } : {}) },
    spec,
    ...(phase ? { status: { phase } } : {}),
  };
}

const LABEL = { 'kubevirt.io/vmi-name': 'vm1' };

describe('validateMigrationUpdate', () => {
  it('allows metadata and status changes that keep the spec', () => {
    const before = vmim({ vmiName: 'vm1' }, LABEL, 'Running');
    const after = vmim({ vmiName: 'vm1' }, { ...LABEL, team: 'a' }, 'Running');
    expect(validateMigrationUpdate('ns', after, before).allowed).toBe(true);
  });

  it('refuses any spec change, naming the migration and the VMI', () => {
    const decision = validateMigrationUpdate('ns', vmim({ vmiName: 'vm2' }, LABEL), vmim({ vmiName: 'vm1' }, LABEL));
    expect(decision).toMatchObject({ allowed: false, reason: 'SpecImmutable' });
    if (decision.allowed) return;
    expect(decision.message).toBe(
      "Cannot update migration ns/mig1 of VMI ns/vm1: update of VMIM object's spec is restricted; delete the migration and create a new one",
    );
  });

  it('refuses removing or changing the vmi-name label while in flight, allows it once final', () => {
    const before = vmim({ vmiName: 'vm1' }, LABEL, 'Running');
    const removed = validateMigrationUpdate('ns', vmim({ vmiName: 'vm1' }, undefined, 'Running'), before);
    expect(removed).toMatchObject({ allowed: false, reason: 'VMINameLabelImmutable' });
    if (!removed.allowed) expect(removed.message).toContain('label kubevirt.io/vmi-name=vm1 may not be removed while the migration is in flight');
    const changed = validateMigrationUpdate('ns', vmim({ vmiName: 'vm1' }, { 'kubevirt.io/vmi-name': 'x' }), vmim({ vmiName: 'vm1' }, LABEL));
    if (!changed.allowed) expect(changed.message).toContain('may not be changed to "x"');
    else throw new Error('expected a rejection');
    const final = vmim({ vmiName: 'vm1' }, LABEL, 'Succeeded');
    expect(validateMigrationUpdate('ns', vmim({ vmiName: 'vm1' }, undefined, 'Succeeded'), final).allowed).toBe(true);
  });
});
