// Computes a VMI's `LiveMigratable` condition and `status.migrationMethod` from its spec and the
// PVCs it uses. Pure: the caller looks PVCs up (an informer cache in the controller).
//
// Choices where the issue is silent:
// - Unlike KubeVirt (first failing check wins), every blocker is collected; the condition's reason is
//   the first blocker's reason (checks run in the order disks, interfaces, host devices) and the
//   message joins all of them with "; ".
// - A PVC missing from the lookup is a blocker (DisksNotLiveMigratable, "PVC x not found"), as in
//   KubeVirt. It says nothing about the method: we cannot know whether it would be copied.
// - A non-RWX PVC makes the method BlockMigration (its data would have to be copied), as KubeVirt does.
// - A hostDisk is never migratable, even with `shared: true` (our API documents it so; KubeVirt
//   accepts shared hostDisks).
// - Any volume source other than a PVC, DataVolume or hostDisk (containerDisk, emptyDisk, ephemeral,
//   cloudInit*, configMap, secret, ...) is local and copied: BlockMigration. This is KubeVirt's rule.
// - Interfaces: on the pod network only `masquerade` (or a binding plugin, which we cannot inspect)
//   keeps a VMI migratable; `bridge` and `slirp` do not, unless the VMI carries KubeVirt's annotation
//   `kubevirt.io/allow-pod-bridge-network-live-migration` (bridge only). Interfaces on other
//   (multus) networks do not block. No interfaces listed → nothing to check (no defaulting here).
// - The method is computed even when the VMI is not migratable, as KubeVirt does.
import type { Condition } from '../../api/schemas/migration-state.js';
import type { MigrationMethod, VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { readDomainDevices, readNetworks } from '../vmi/domain.js';

export const LIVE_MIGRATABLE = 'LiveMigratable';
export const ALLOW_POD_BRIDGE_ANNOTATION = 'kubevirt.io/allow-pod-bridge-network-live-migration';

/** KubeVirt's reasons for `LiveMigratable=False` that can be read from the spec. */
export const NotMigratableReason = {
  Disks: 'DisksNotLiveMigratable',
  Interface: 'InterfaceNotLiveMigratable',
  HostDevice: 'HostDeviceNotLiveMigratable',
} as const;
export type NotMigratableReason = (typeof NotMigratableReason)[keyof typeof NotMigratableReason];

/** What the caller knows about one PVC: its access modes (spec.accessModes). */
export interface PvcFacts {
  accessModes: readonly string[];
}
export type PvcLookup = (claimName: string) => PvcFacts | undefined;

export interface Blocker {
  reason: NotMigratableReason;
  message: string;
}

export interface LiveMigratableCondition extends Condition {
  type: typeof LIVE_MIGRATABLE;
}

export interface Migratability {
  condition: LiveMigratableCondition;
  migrationMethod: MigrationMethod;
  blockers: Blocker[];
  /** Names of volumes whose data lives on the node and is copied by BlockMigration. */
  localVolumes: string[];
}

const READ_WRITE_MANY = 'ReadWriteMany';

interface VolumeFindings {
  blockers: Blocker[];
  localVolumes: string[];
  copiedClaims: string[];
}

function checkVolumes(vmi: VirtualMachineInstance, lookup: PvcLookup): VolumeFindings {
  const findings: VolumeFindings = { blockers: [], localVolumes: [], copiedClaims: [] };
  for (const volume of vmi.spec?.volumes ?? []) {
    const claimName = volume.persistentVolumeClaim?.claimName ?? volume.dataVolume?.name;
    if (claimName !== undefined) {
      const pvc = lookup(claimName);
      if (pvc === undefined) {
        findings.blockers.push({ reason: NotMigratableReason.Disks, message: `PVC ${claimName} not found` });
      } else if (!pvc.accessModes.includes(READ_WRITE_MANY)) {
        findings.copiedClaims.push(claimName);
        findings.blockers.push({
          reason: NotMigratableReason.Disks,
          message: `PVC ${claimName} is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)`,
        });
      }
    } else if (volume.hostDisk !== undefined) {
      findings.blockers.push({
        reason: NotMigratableReason.Disks,
        message: `volume ${volume.name} is a hostDisk, which cannot be migrated`,
      });
    } else {
      findings.localVolumes.push(volume.name);
    }
  }
  return findings;
}

function checkInterfaces(vmi: VirtualMachineInstance): Blocker[] {
  const podNetworks = new Set(readNetworks(vmi.spec).filter((n) => n.pod).map((n) => n.name));
  const bridgeAllowed = vmi.metadata.annotations?.[ALLOW_POD_BRIDGE_ANNOTATION] !== undefined;
  const blockers: Blocker[] = [];
  for (const iface of readDomainDevices(vmi.spec).interfaces) {
    if (!podNetworks.has(iface.name)) continue;
    const binding = iface.binding;
    if ((binding === 'bridge' && !bridgeAllowed) || binding === 'slirp') {
      blockers.push({
        reason: NotMigratableReason.Interface,
        message: `interface ${iface.name} uses ${binding} binding on the pod network; only masquerade is live-migratable`,
      });
    }
  }
  return blockers;
}

function checkHostDevices(vmi: VirtualMachineInstance): Blocker[] {
  const { hostDevices, gpus } = readDomainDevices(vmi.spec);
  const describe = (kind: string, d: { name: string; deviceName?: string }): Blocker => ({
    reason: NotMigratableReason.HostDevice,
    message: `${kind} ${d.name}${d.deviceName ? ` (${d.deviceName})` : ''} is passed through from the host and cannot be migrated`,
  });
  return [...hostDevices.map((d) => describe('host device', d)), ...gpus.map((d) => describe('GPU', d))];
}

export function computeMigratability(vmi: VirtualMachineInstance, lookup: PvcLookup): Migratability {
  const volumes = checkVolumes(vmi, lookup);
  const blockers = [...volumes.blockers, ...checkInterfaces(vmi), ...checkHostDevices(vmi)];
  const migrationMethod: MigrationMethod =
    volumes.localVolumes.length > 0 || volumes.copiedClaims.length > 0 ? 'BlockMigration' : 'LiveMigration';
  const first = blockers[0];
  const condition: LiveMigratableCondition =
    first === undefined
      ? { type: LIVE_MIGRATABLE, status: 'True' }
      : {
          type: LIVE_MIGRATABLE,
          status: 'False',
          reason: first.reason,
          message: blockers.map((b) => b.message).join('; '),
        };
  return { condition, migrationMethod, blockers, localVolumes: volumes.localVolumes };
}
