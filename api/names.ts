// Names every component agrees on (KubeVirt's), defined once.

/** Holds a VMIM until its migration is final, so deleting it (cancel) becomes an abort. */
export const MIGRATION_FINALIZER = 'kubevirt.io/migrationJobFinalize';

/** Label on a VMIM naming its VMI, so `kubectl get vmim -l kubevirt.io/vmi-name=…` finds them. */
export const VMI_NAME_LABEL = 'kubevirt.io/vmi-name';

/** On an evacuation VMIM (KubeVirt's): the node its VMI is being evacuated from. */
export const EVACUATION_ANNOTATION = 'kubevirt.io/evacuationMigration';

/** generateName of evacuation VMIMs (KubeVirt's). */
export const EVACUATION_GENERATE_NAME = 'kubevirt-evacuation-';

/** The drain taint's key when kubevirt-config sets none (KubeVirt's). */
export const DEFAULT_DRAIN_TAINT_KEY = 'kubevirt.io/drain';

/** VMI condition while status.evacuationNodeName is set (KubeVirt's). */
export const EVICTION_REQUESTED_CONDITION = 'EvictionRequested';

/** VMI condition while its node is drained but it cannot leave: reason says why (ours). */
export const EVACUATION_BLOCKED_CONDITION = 'EvacuationBlocked';
