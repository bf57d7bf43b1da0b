// The node-agent contract: what the reconciler asks of the agent on a node, and the driver
// interface behind it that the simulation driver and the libvirt driver both implement.
//
// Rules every implementation keeps, because the reconciler is restart-safe and may repeat calls:
// - Every call is keyed by the migration's UID and idempotent: preparing the same target twice
//   returns the same answer; starting a migration that is running or over changes nothing; aborting
//   twice answers the same.
// - Answers describe the node's truth (the hypervisor), never what the reconciler said before.
// - The transport is authenticated both ways (mutual TLS): no anonymous caller may prepare, start
//   or abort a migration. That belongs to the agent process, not to these types.
//
// Units: bytes and bytes per second everywhere (libvirt's MiB/s is converted by its driver);
// bandwidth 0 means unlimited; times are RFC 3339 strings.

export interface VmiRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** Reconciler → target agent: get ready to receive a VMI. */
export interface PrepareTargetRequest {
  migrationUid: string;
  vmi: VmiRef;
  sourceNode: string;
  /** Guest memory, from the VMI. */
  memoryBytes: number;
  /** The VMI's annotations, for drivers that read settings from them (the simulation's dirty rate). */
  annotations?: Readonly<Record<string, string>>;
}

/** Target agent → reconciler: where to send the migration. Mirrored into migrationState. */
export interface TargetReady {
  targetNodeAddress: string;
  /** Port → 0 for the migration stream, or the libvirt port it proxies (KubeVirt's field). */
  targetDirectMigrationNodePorts: Record<string, number>;
  /** What receives the VMI on the target (KubeVirt's virt-launcher pod; here the agent). */
  targetPod: string;
}

/** Reconciler → source agent: start sending. */
export interface StartMigrationRequest {
  migrationUid: string;
  vmi: VmiRef;
  destination: { nodeName: string; address: string; ports: Record<string, number> };
  /** Cap in bytes per second; 0 = unlimited. */
  bandwidthBytesPerSecond: number;
  /**
   * Longest pause allowed at switch-over (kubevirt-config `maxDowntimeMs`, KubeVirt's default 900).
   * The reconciler always sends it; absent (an older reconciler) means the hypervisor's default.
   * Both drivers apply it: libvirt's max downtime, and the simulated guest's switch-over point.
   */
  maxDowntimeMs?: number;
  allowAutoConverge: boolean;
  allowPostCopy: boolean;
  /**
   * kubevirt-config `migrations.disableTLS`: true runs QEMU's migration stream in clear text (the
   * libvirt peer connection stays TLS). Absent or false: encrypted. Read from the cluster
   * configuration when the reconciler starts the migration.
   */
  disableTLS?: boolean;
  /** Guest memory, from the VMI; for drivers that cannot read it from the hypervisor. */
  memoryBytes: number;
  annotations?: Readonly<Record<string, string>>;
}

export const MIGRATION_JOB_STATES = ['Running', 'SwitchingOver', 'Completed', 'Failed', 'Aborted'] as const;
export type MigrationJobState = (typeof MIGRATION_JOB_STATES)[number];

/** One reading of the hypervisor's job statistics (libvirt's domjobinfo). */
export interface ProgressSample {
  dataProcessedBytes: number;
  dataRemainingBytes: number;
  /** processed + remaining: grows when the guest dirties memory. */
  dataTotalBytes: number;
  /** Current transfer rate. */
  bandwidthBytesPerSecond: number;
  dirtyRateBytesPerSecond: number;
  /** Pre-copy pass, from 1. */
  iteration: number;
  /** Seconds to completion if the migration converges, else null. */
  etaSeconds: number | null;
  expectedDowntimeMs: number;
  sampledAt: string;
}

/** Source agent → reconciler: the state of one outgoing migration. */
export interface MigrationJobStatus {
  migrationUid: string;
  state: MigrationJobState;
  progress?: ProgressSample;
  /** Why, when state is Failed. */
  failure?: string;
}

export type AbortResult =
  /** Stopped; the VM runs on the source. */
  | { result: 'aborted' }
  /** Too late: the switch-over had happened; the VM runs on the target. */
  | { result: 'completed-first' }
  /** This node knows no such migration (never started, or already cleaned up). */
  | { result: 'not-found' }
  | { result: 'failed'; message: string };

/** Target agent → reconciler: did the domain arrive and run? */
export interface ArrivalStatus {
  domainDetected: boolean;
}

/** The operations on one node, implemented by a driver (simulation, libvirt). */
export interface MigrationDriver {
  /** Short name for logs and metrics labels: "simulation", "libvirt". */
  readonly name: string;
  prepareTarget(request: PrepareTargetRequest): Promise<TargetReady>;
  startMigration(request: StartMigrationRequest): Promise<void>;
  /** Undefined when this node has no such outgoing migration. */
  migrationStatus(migrationUid: string): Promise<MigrationJobStatus | undefined>;
  abortMigration(migrationUid: string): Promise<AbortResult>;
  confirmArrival(migrationUid: string): Promise<ArrivalStatus>;
  /** Frees what prepareTarget reserved (after failure or abort). Idempotent. */
  releaseTarget(migrationUid: string): Promise<void>;
}

export interface AgentHealth {
  nodeName: string;
  driver: string;
  version: string;
}

/** What the reconciler holds for one node: the driver's operations over the authenticated transport. */
export interface NodeAgentApi extends Omit<MigrationDriver, 'name'> {
  health(): Promise<AgentHealth>;
}

export const AGENT_ERROR_CODES = ['Unreachable', 'Unauthenticated', 'NotFound', 'Conflict', 'Internal'] as const;
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

/** A failed agent call; `Unreachable` feeds the reconciler's agent-silence timeout. */
export class AgentCallError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    readonly node: string,
    message: string,
  ) {
    super(`agent on ${node}: ${code}: ${message}`);
    this.name = 'AgentCallError';
  }
}
