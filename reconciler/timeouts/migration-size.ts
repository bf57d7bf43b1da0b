// How many bytes a migration of this VMI copies, for the completion budget: guest memory, plus
// the local disks for BlockMigration (timeouts/policy.ts explains GiB).
//
// Choices: only emptyDisk declares its size in the spec (`capacity`); the size of a containerDisk,
// an ephemeral overlay or a cloud-init disk is not known before it is copied, so they count 0 and
// are listed in `unsizedVolumes` (the agent's dataTotal shows the real amount). Unreadable memory
// counts 0, which the budget rounds up to one GiB.
import { parseQuantity, QuantityError } from '../../api/quantity.js';
import type { MigrationMethod, VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { readGuestMemoryBytes } from '../vmi/domain.js';
import { migrationSizeBytes } from './policy.js';

export interface MigrationSize {
  memoryBytes: number;
  localDiskBytes: number;
  sizeBytes: number;
  unsizedVolumes: string[];
}

function capacityOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null || !('capacity' in value)) return undefined;
  const capacity: unknown = value.capacity;
  if (typeof capacity !== 'string' && typeof capacity !== 'number') return undefined;
  try {
    return parseQuantity(capacity);
  } catch (error) {
    if (error instanceof QuantityError) return undefined;
    throw error;
  }
}

export function vmiMigrationSize(
  vmi: VirtualMachineInstance,
  method: MigrationMethod,
  localVolumes: readonly string[],
): MigrationSize {
  const memoryBytes = readGuestMemoryBytes(vmi.spec) ?? 0;
  let localDiskBytes = 0;
  const unsizedVolumes: string[] = [];
  for (const volume of vmi.spec?.volumes ?? []) {
    if (!localVolumes.includes(volume.name)) continue;
    const capacity = capacityOf(volume.emptyDisk);
    if (capacity === undefined) unsizedVolumes.push(volume.name);
    else localDiskBytes += capacity;
  }
  return { memoryBytes, localDiskBytes, sizeBytes: migrationSizeBytes(memoryBytes, method, localDiskBytes), unsizedVolumes };
}
