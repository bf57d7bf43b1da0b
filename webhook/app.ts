// Puts the webhook together: kubeconfig → informer caches → HTTPS server with reloading
// certificates. Used by cmd/webhook.ts and by integration tests that run it in-process.
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { DEFAULT_CONFIG_LOCATION, type ClusterConfigLocation } from '../api/cluster-config.js';
import { InformerAdmissionCache } from './cache.js';
import { registerConfigInForceGauge } from '../common/config-in-force-metric.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { startWebhookServer, type RunningWebhookServer } from './server.js';
import { CertificateReloader } from './tls.js';

export const DEFAULT_SYSTEM_SERVICE_ACCOUNT = 'system:serviceaccount:live-migration:live-migration-controller';

export interface WebhookOptions {
  /** Path to a kubeconfig; in-cluster config when absent. */
  kubeconfig?: string;
  port: number;
  host?: string;
  certFile: string;
  keyFile: string;
  configLocation?: ClusterConfigLocation;
  systemServiceAccount?: string;
  /** Groups whose members may set spec.migrationConfiguration; default system:masters. */
  privilegedGroups?: readonly string[];
  logger: Logger;
  /** How often the certificate files are checked for changes. */
  certPollMs?: number;
  /** Relist a cache that heard nothing for this long. */
  staleAfterMs?: number;
  /** Refuse migration creates (and report not ready) when a cache heard nothing for this long; default from the informers' timings. */
  maxSilenceMs?: number;
  defaultMetrics?: boolean;
}

export interface RunningWebhook {
  port: number;
  cache: InformerAdmissionCache;
  metrics: WebhookMetrics;
  tls: CertificateReloader;
  /** Resolves once every cache has synced (readyz turns 200 then). */
  synced: Promise<void>;
  /** Stop accepting, drain in-flight requests, stop the caches. */
  stop(graceMs?: number): Promise<void>;
}

export async function startWebhook(options: WebhookOptions): Promise<RunningWebhook> {
  const { logger } = options;
  const kubeConfig = new KubeConfig();
  if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
  else kubeConfig.loadFromCluster();

  const metrics = createWebhookMetrics({ defaultMetrics: options.defaultMetrics });
  const cache = new InformerAdmissionCache({
    kubeConfig,
    configLocation: options.configLocation ?? DEFAULT_CONFIG_LOCATION,
    metrics,
    logger: logger.child({ component: 'informer' }),
    staleAfterMs: options.staleAfterMs,
    maxSilenceMs: options.maxSilenceMs,
  });
  registerConfigInForceGauge(metrics.registry, () => cache.configInForce());
  const tls = new CertificateReloader({ certFile: options.certFile, keyFile: options.keyFile }, logger.child({ component: 'tls' }), options.certPollMs);
  tls.start();
  // Listen at once so /healthz answers; /readyz stays 503 until the caches have synced.
  const server: RunningWebhookServer = await startWebhookServer({
    cache,
    logger,
    metrics,
    tls,
    port: options.port,
    host: options.host,
    systemServiceAccount: options.systemServiceAccount ?? DEFAULT_SYSTEM_SERVICE_ACCOUNT,
    ...(options.privilegedGroups ? { privilegedGroups: options.privilegedGroups } : {}),
  });
  const synced = cache.start().then(() => logger.info({}, 'caches synced; ready'));
  logger.info({ port: server.port, config: options.configLocation ?? DEFAULT_CONFIG_LOCATION }, 'webhook listening');
  return {
    port: server.port,
    cache,
    metrics,
    tls,
    synced,
    stop: async (graceMs) => {
      await server.close(graceMs);
      tls.stop();
      await cache.stop();
    },
  };
}
