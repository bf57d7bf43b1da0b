// An AdmissionCache over plain in-memory maps: for unit tests of the HTTP server and for the
// benchmark's baseline. Production uses InformerAdmissionCache (cache.ts).
import { DEFAULT_CONFIG_LOCATION, type ClusterConfigLocation } from '../api/cluster-config.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import type { MigrationPolicy } from '../api/schemas/migration-policy.js';
import { ConfigTracker, type ConfigInForce } from '../api/config-in-force.js';
import type { AdmissionCache } from './cache.js';
import { TRUSTED, type CacheTrust } from './cache-trust.js';

export class MemoryAdmissionCache implements AdmissionCache {
  readonly vmis = new Map<string, VirtualMachineInstance>();
  readonly vmims = new Map<string, VirtualMachineInstanceMigration>();
  readonly migrationPolicies: MigrationPolicy[] = [];
  readonly namespaces = new Map<string, Record<string, string>>();
  private readonly tracker: ConfigTracker;
  private configMap: { metadata?: { resourceVersion?: string }; data?: Record<string, string> } | undefined;
  private version = 0;
  synced = true;
  /** Set to make every VMI lookup fail, e.g. to test that errors fail closed. */
  failLookups: Error | undefined;

  constructor(location: ClusterConfigLocation = DEFAULT_CONFIG_LOCATION) {
    this.tracker = new ConfigTracker(location);
  }

  setConfigMap(data: Record<string, string> | undefined): void {
    this.configMap = data === undefined ? undefined : { metadata: { resourceVersion: String(++this.version) }, data };
  }

  putVmi(vmi: VirtualMachineInstance): void {
    this.vmis.set(`${vmi.metadata.namespace}/${vmi.metadata.name}`, vmi);
  }

  putMigration(vmim: VirtualMachineInstanceMigration): void {
    this.vmims.set(`${vmim.metadata.namespace}/${vmim.metadata.name}`, vmim);
  }

  configInForce(): ConfigInForce {
    return this.tracker.current(this.configMap);
  }

  async getVmi(namespace: string, name: string): Promise<VirtualMachineInstance | undefined> {
    if (this.failLookups) throw this.failLookups;
    return this.vmis.get(`${namespace}/${name}`);
  }

  migrationsOfVmi(namespace: string, vmiName: string): readonly VirtualMachineInstanceMigration[] {
    return [...this.vmims.values()].filter((m) => m.metadata.namespace === namespace && m.spec?.vmiName === vmiName);
  }

  policies(): readonly MigrationPolicy[] {
    return this.migrationPolicies;
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(namespace);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  trust(): CacheTrust {
    return this.synced ? TRUSTED : { trusted: false, reason: 'not synced yet: memory' };
  }
}
