// Names every component agrees on (KubeVirt's), defined once.

/** Holds a VMIM until its migration is final, so deleting it (cancel) becomes an abort. */
export const MIGRATION_FINALIZER = 'kubevirt.io/migrationJobFinalize';

/** Label on a VMIM naming its VMI, so `kubectl get vmim -l kubevirt.io/vmi-name=…` finds them. */
export const VMI_NAME_LABEL = 'kubevirt.io/vmi-name';
