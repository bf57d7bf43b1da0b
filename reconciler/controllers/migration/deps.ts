// What the migration controller's parts are given: caches to read, a client to write, agents to
// call, and the configuration in force. Plain interfaces, so tests can hand in fakes.
import type { V1Node } from '@kubernetes/client-node';
import type { ClusterConfig } from '../../../api/cluster-config.js';
import type { MigrationConfiguration } from '../../../api/schemas/migration-config.js';
import type { MigrationPolicy } from '../../../api/schemas/migration-policy.js';
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import type { DefensiveInformer, ObjectWithMeta } from '../../../kube/informer.js';
import type { KubevirtClient } from '../../../kube/kubevirt-client.js';
import type { AgentDirectory } from '../../agents/agent-directory.js';
import type { KeyQueue } from '../../controller-runner.js';

export type CacheOf<T> = Pick<DefensiveInformer<T & ObjectWithMeta>, 'get' | 'list'>;

export interface MigrationControllerCaches {
  vmims: CacheOf<VirtualMachineInstanceMigration>;
  vmis: CacheOf<VirtualMachineInstance>;
  nodes: CacheOf<V1Node & ObjectWithMeta>;
  pvcLookup: (namespace: string, claim: string) => { accessModes: readonly string[] } | undefined;
}

export type MigrationWrites = Pick<KubevirtClient, 'patchStatus' | 'setFinalizers' | 'delete' | 'event' | 'exists'>;

export interface MigrationObserver {
  finished(phase: 'Succeeded' | 'Failed', reason: string | undefined): void;
  dispatched(key: string): void;
}

export interface MigrationControllerDeps {
  caches: MigrationControllerCaches;
  client: MigrationWrites;
  agents: AgentDirectory;
  /** The cluster configuration in force now (last valid kubevirt-config, or defaults). */
  config: () => ClusterConfig;
  /** Resolves a migration's settings: the stamped spec.migrationConfiguration over the cluster's. */
  effectiveConfiguration: (cluster: ClusterConfig, stamped: Partial<MigrationConfiguration> | undefined) => MigrationConfiguration;
  /** The MigrationPolicy that applies to a VMI now (its labels, its namespace's); for migrations the webhook did not stamp. */
  policyFor?: (vmi: VirtualMachineInstance) => MigrationPolicy | undefined;
  queue: KeyQueue;
  /** Whether this replica may act (leader); writes stop the moment it is not. */
  isLeader: () => boolean;
  log: { info(o: Record<string, unknown>, m: string): void; warn(o: Record<string, unknown>, m: string): void };
  observe?: MigrationObserver;
  now?: () => number;
}

/** Thrown by a write attempted while this replica is not the leader. */
export class NotLeader extends Error {}
