// The cluster configuration decisions are made under, as the webhook's and the reconciler's caches
// hand it over: the last valid kubevirt-config stays in force while the stored one is bad.
import { defaultClusterConfig, parseClusterConfig, type ClusterConfig, type ClusterConfigLocation } from './cluster-config.js';

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
  /** The resourceVersion of the ConfigMap whose configuration is in force; absent for the built-in defaults. */
  resourceVersion?: string;
}

export function configMapName(location: ClusterConfigLocation): string {
  return `${location.namespace}/${location.name}`;
}

/** Tracks the ConfigMap's versions: the last valid one stays in force while the stored one is bad. */
export class ConfigTracker {
  private seenVersion: string | undefined | null = null;
  private lastValid: ClusterConfig | undefined;
  private lastValidVersion: string | undefined;
  private state: ConfigInForce;

  constructor(readonly location: ClusterConfigLocation) {
    this.state = { location, config: undefined, problem: 'not read yet' };
  }

  /** `configMap` undefined means it does not exist: the built-in defaults (no feature gates) apply. */
  current(configMap: { metadata?: { resourceVersion?: string }; data?: Record<string, string> } | undefined): ConfigInForce {
    const version = configMap === undefined ? undefined : (configMap.metadata?.resourceVersion ?? '');
    if (version === this.seenVersion) return this.state;
    this.seenVersion = version;
    if (configMap === undefined) {
      this.lastValid = defaultClusterConfig();
      this.lastValidVersion = undefined;
      this.state = { location: this.location, config: this.lastValid };
      return this.state;
    }
    const result = parseClusterConfig(configMap.data ?? {});
    if (result.ok) {
      this.lastValid = result.config;
      this.lastValidVersion = version;
    }
    // Invalid and never valid before: no configuration, and callers fail closed with the reason.
    this.state = result.ok
      ? { location: this.location, config: result.config, resourceVersion: version }
      : { location: this.location, config: this.lastValid, problem: result.message, resourceVersion: this.lastValidVersion };
    return this.state;
  }
}
