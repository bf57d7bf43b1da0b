// What admission decisions read: VMIs, VMIMs and kubevirt-config from informer caches, so the hot
// path makes no API calls. One exception: a VMI created a moment ago may not have reached the
// cache yet, so a miss is fetched once from the API server (never cached as absent: the user's
// retry must see the VMI as soon as it exists).
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { ClusterConfigLocation } from '../api/cluster-config.js';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { DefensiveInformer, listAllPages, type InformerLogger, type ObjectList } from '../kube/informer.js';
import { ConfigTracker, type ConfigInForce } from '../api/config-in-force.js';
import type { WebhookMetrics } from './metrics.js';
import { judgeCacheTrust, type CacheTrust } from './cache-trust.js';

export interface AdmissionCache {
  configInForce(): ConfigInForce;
  /** The VMI from the cache, or fetched once from the API server on a miss; undefined if it does not exist. */
  getVmi(namespace: string, name: string): Promise<VirtualMachineInstance | undefined>;
  migrationsOfVmi(namespace: string, vmiName: string): readonly VirtualMachineInstanceMigration[];
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

  /** Resolves once all three caches hold a full list. */
  async start(): Promise<void> {
    await Promise.all([this.vmis.start(), this.vmims.start(), this.configMaps.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.vmis.stop(), this.vmims.stop(), this.configMaps.stop()]);
  }

  hasSynced(): boolean {
    return this.vmis.hasSynced() && this.vmims.hasSynced() && this.configMaps.hasSynced();
  }

  trust(now = Date.now()): CacheTrust {
    const caches = [this.vmis, this.vmims, this.configMaps].map((informer) => informer.health());
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
