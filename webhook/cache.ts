// What admission decisions read: VMIs, VMIMs and kubevirt-config from informer caches, so the hot
// path makes no API calls. One exception: a VMI created a moment ago may not have reached the
// cache yet, so a miss is fetched once from the API server (never cached as absent: the user's
// retry must see the VMI as soon as it exists).
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1ConfigMap, type V1Namespace } from '@kubernetes/client-node';
import type { ClusterConfigLocation } from '../api/cluster-config.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { POLICY_GROUP, POLICY_PLURAL, POLICY_VERSION, type MigrationPolicy } from '../api/schemas/migration-policy.js';
import { DefensiveInformer, listAllPages, type InformerLogger, type ObjectList } from '../kube/informer.js';
import { ConfigTracker, type ConfigInForce } from '../api/config-in-force.js';
import type { WebhookMetrics } from './metrics.js';
import { judgeCacheTrust, type CacheTrust } from './cache-trust.js';

export interface AdmissionCache {
  configInForce(): ConfigInForce;
  /** The VMI from the cache, or fetched once from the API server on a miss; undefined if it does not exist. */
  getVmi(namespace: string, name: string): Promise<VirtualMachineInstance | undefined>;
  migrationsOfVmi(namespace: string, vmiName: string): readonly VirtualMachineInstanceMigration[];
  /** Every MigrationPolicy (cluster-scoped). */
  policies(): readonly MigrationPolicy[];
  /** The labels of a namespace, for the policies' namespaceSelector; undefined when it is not known. */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** Whether decisions may rely on the caches now (synced, and not silent past the bound). */
  trust(): CacheTrust;
}

// Names the API server could hold; anything else cannot exist and is not worth a request.
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const GROUP = 'kubevirt.io';
const VERSION = 'v1';

export interface InformerCacheOptions {
  kubeConfig: KubeConfig;
  configLocation: ClusterConfigLocation;
  metrics: WebhookMetrics;
  logger: InformerLogger;
  staleAfterMs?: number;
  /** Distrust a cache silent for longer than this; default from each informer's timings (cache-trust.ts). */
  maxSilenceMs?: number;
}

export class InformerAdmissionCache implements AdmissionCache {
  private readonly vmis: DefensiveInformer<VirtualMachineInstance>;
  private readonly vmims: DefensiveInformer<VirtualMachineInstanceMigration>;
  private readonly configMaps: DefensiveInformer<V1ConfigMap>;
  private readonly migrationPolicies: DefensiveInformer<MigrationPolicy>;
  private readonly namespaces: DefensiveInformer<V1Namespace & { metadata?: { name?: string } }>;
  private readonly tracker: ConfigTracker;
  private readonly customObjects: CustomObjectsApi;
  private readonly inFlightFetches = new Map<string, Promise<VirtualMachineInstance | undefined>>();

  constructor(private readonly options: InformerCacheOptions) {
    const { kubeConfig, configLocation, logger, staleAfterMs } = options;
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.tracker = new ConfigTracker(configLocation);
    const custom = <T>(plural: string) => ({
      kubeConfig,
      logger,
      staleAfterMs,
      name: plural,
      path: `/apis/${GROUP}/${VERSION}/${plural}`,
      list: () =>
        listAllPages((continueToken) =>
          this.customObjects.listClusterCustomObject({ group: GROUP, version: VERSION, plural, limit: 500, _continue: continueToken }),
        ) as Promise<ObjectList<T>>,
    });
    this.vmis = new DefensiveInformer(custom<VirtualMachineInstance>('virtualmachineinstances'));
    this.vmims = new DefensiveInformer(custom<VirtualMachineInstanceMigration>('virtualmachineinstancemigrations'));
    this.migrationPolicies = new DefensiveInformer<MigrationPolicy>({
      kubeConfig,
      logger,
      staleAfterMs,
      name: POLICY_PLURAL,
      path: `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${POLICY_PLURAL}`,
      list: () =>
        listAllPages((continueToken) =>
          this.customObjects.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURAL, limit: 500, _continue: continueToken }),
        ) as Promise<ObjectList<MigrationPolicy>>,
    });
    this.namespaces = new DefensiveInformer({
      kubeConfig,
      logger,
      staleAfterMs,
      name: 'namespaces',
      path: '/api/v1/namespaces',
      list: () => listAllPages((continueToken) => core.listNamespace({ limit: 500, _continue: continueToken })) as Promise<ObjectList<V1Namespace & { metadata?: { name?: string } }>>,
    });
    const fieldSelector = `metadata.name=${configLocation.name}`;
    this.configMaps = new DefensiveInformer<V1ConfigMap>({
      kubeConfig,
      logger,
      staleAfterMs,
      name: `configmap ${configLocation.namespace}/${configLocation.name}`,
      path: `/api/v1/namespaces/${configLocation.namespace}/configmaps`,
      fieldSelector,
      list: () => core.listNamespacedConfigMap({ namespace: configLocation.namespace, fieldSelector }) as Promise<ObjectList<V1ConfigMap>>,
    });
  }

  // A policy or namespace cache that is behind could stamp the wrong settings: trusted like the rest.
  private informers() {
    return [this.vmis, this.vmims, this.configMaps, this.migrationPolicies, this.namespaces] as const;
  }

  /** Resolves once every cache holds a full list. */
  async start(): Promise<void> {
    await Promise.all(this.informers().map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers().map((informer) => informer.stop()));
  }

  hasSynced(): boolean {
    return this.informers().every((informer) => informer.hasSynced());
  }

  trust(now = Date.now()): CacheTrust {
    const caches = this.informers().map((informer) => informer.health());
    return judgeCacheTrust(caches, now, this.options.maxSilenceMs);
  }

  configInForce(): ConfigInForce {
    const { namespace, name } = this.tracker.location;
    const configMap = this.configMaps.get(name, namespace);
    return this.tracker.current(configMap as Parameters<ConfigTracker['current']>[0]);
  }

  migrationsOfVmi(namespace: string, vmiName: string): readonly VirtualMachineInstanceMigration[] {
    return this.vmims.list(namespace).filter((m) => m.spec?.vmiName === vmiName);
  }

  policies(): readonly MigrationPolicy[] {
    return this.migrationPolicies.list();
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(namespace)?.metadata?.labels;
  }

  async getVmi(namespace: string, name: string): Promise<VirtualMachineInstance | undefined> {
    const cached = this.vmis.get(name, namespace);
    if (cached !== undefined) return cached;
    if (!OBJECT_NAME.test(name) || !OBJECT_NAME.test(namespace)) return undefined;
    // Concurrent requests for the same missing VMI share one fetch.
    const key = `${namespace}/${name}`;
    let fetch = this.inFlightFetches.get(key);
    if (fetch === undefined) {
      fetch = this.fetchVmi(namespace, name).finally(() => this.inFlightFetches.delete(key));
      this.inFlightFetches.set(key, fetch);
    }
    return fetch;
  }

  private async fetchVmi(namespace: string, name: string): Promise<VirtualMachineInstance | undefined> {
    const { apiCalls } = this.options.metrics;
    try {
      const vmi = (await this.customObjects.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'virtualmachineinstances',
        name,
      })) as VirtualMachineInstance;
      apiCalls.inc({ resource: 'virtualmachineinstances', result: 'found' });
      return vmi;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) {
        apiCalls.inc({ resource: 'virtualmachineinstances', result: 'not_found' });
        return undefined;
      }
      apiCalls.inc({ resource: 'virtualmachineinstances', result: 'error' });
      throw error;
    }
  }
}
