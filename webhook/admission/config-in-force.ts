// The cluster configuration a decision is made under, as the cache hands it over.
import type { ClusterConfig, ClusterConfigLocation } from '../../api/cluster-config.js';

export interface ConfigInForce {
  location: ClusterConfigLocation;
  /**
   * The configuration decisions use: the ConfigMap's when it is valid, the last valid one seen when
   * it is not, the built-in defaults (no feature gates) when it does not exist. Undefined only when
   * the ConfigMap has never been valid since the webhook started.
   */
  config: ClusterConfig | undefined;
  /** Why the ConfigMap as stored now is not used, when it is invalid. */
  problem?: string;
}

export function configMapName(location: ClusterConfigLocation): string {
  return `${location.namespace}/${location.name}`;
}
