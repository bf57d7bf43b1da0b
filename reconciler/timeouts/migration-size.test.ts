import { describe, expect, it } from '@jest/globals';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { computeMigratability } from '../migratability/live-migratable.js';
import { completionBudgetSeconds } from './policy.js';
import { vmiMigrationSize } from './migration-size.js';

const GiB = 2 ** 30;

describe('vmiMigrationSize', () => {
  it('an 8Gi guest with only shared disks gets the seed budget of 6400 s', () => {
    const vmi: VirtualMachineInstance = {
      metadata: { name: 'v' },
      spec: { domain: { memory: { guest: '8Gi' } }, volumes: [{ name: 'root', persistentVolumeClaim: { claimName: 'root' } }] },
    };
    const m = computeMigratability(vmi, () => ({ accessModes: ['ReadWriteMany'] }));
    const size = vmiMigrationSize(vmi, m.migrationMethod, m.localVolumes);
    expect(size).toEqual({ memoryBytes: 8 * GiB, localDiskBytes: 0, sizeBytes: 8 * GiB, unsizedVolumes: [] });
    expect(completionBudgetSeconds(800, size.sizeBytes)).toBe(6400);
  });

  it('adds emptyDisk capacity for BlockMigration and lists disks of unknown size', () => {
    const vmi: VirtualMachineInstance = {
      metadata: { name: 'v' },
      spec: {
        domain: { resources: { requests: { memory: '2Gi' } } },
        volumes: [
          { name: 'os', containerDisk: { image: 'quay.io/containerdisks/fedora' } },
          { name: 'scratch', emptyDisk: { capacity: '3Gi' } },
        ],
      },
    };
    const m = computeMigratability(vmi, () => undefined);
    expect(vmiMigrationSize(vmi, m.migrationMethod, m.localVolumes)).toEqual({
      memoryBytes: 2 * GiB,
      localDiskBytes: 3 * GiB,
      sizeBytes: 5 * GiB,
      unsizedVolumes: ['os'],
    });
  });
});
