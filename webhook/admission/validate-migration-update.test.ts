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

  it("refuses any spec change as KubeVirt does (422, its text and cause), naming the migration and the VMI", () => {
    const decision = validateMigrationUpdate('ns', vmim({ vmiName: 'vm2' }, LABEL), vmim({ vmiName: 'vm1' }, LABEL));
    expect(decision).toEqual({
      allowed: false,
      reason: 'SpecImmutable',
      code: 422,
      message: "update of Migration object's spec is restricted: migration ns/mig1 of VMI ns/vm1 runs as it was requested; delete it and create a new one",
      causes: [
        {
          reason: 'FieldValueNotSupported',
          message: "update of Migration object's spec is restricted: migration ns/mig1 of VMI ns/vm1 runs as it was requested; delete it and create a new one",
          field: 'spec',
        },
      ],
    });
  });

  it('refuses removing or changing the vmi-name label while in flight, allows it once final', () => {
    const before = vmim({ vmiName: 'vm1' }, LABEL, 'Running');
    const removed = validateMigrationUpdate('ns', vmim({ vmiName: 'vm1' }, undefined, 'Running'), before);
    expect(removed).toMatchObject({ allowed: false, reason: 'VMINameLabelImmutable', code: 422 });
    if (!removed.allowed) {
      expect(removed.message).toBe(
        "selector label can't be removed from an in-flight migration: label kubevirt.io/vmi-name=vm1 of migration ns/mig1 (VMI ns/vm1) stays until the migration has ended",
      );
    }
    const changed = validateMigrationUpdate('ns', vmim({ vmiName: 'vm1' }, { 'kubevirt.io/vmi-name': 'x' }), vmim({ vmiName: 'vm1' }, LABEL));
    if (!changed.allowed) expect(changed.message).toMatch(/^selector label can't be modified on an in-flight migration: /);
    else throw new Error('expected a rejection');
    const final = vmim({ vmiName: 'vm1' }, LABEL, 'Succeeded');
    expect(validateMigrationUpdate('ns', vmim({ vmiName: 'vm1' }, undefined, 'Succeeded'), final).allowed).toBe(true);
  });
});
