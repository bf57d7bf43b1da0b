// The reconciler process: caches, the two controllers, leader election, health and metrics.
// Only the leader writes; every replica keeps warm caches so a takeover is quick.
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterConfigLocation } from '../api/cluster-config.js';
import { configMapInformer, leaseInformer, migrationInformer, migrationPolicyInformer, namespaceInformer, nodeInformer, pvcInformer, vmiInformer } from '../kube/informers.js';
import { matchPolicy } from '../api/migration-policy.js';
import { KubevirtClient } from '../kube/kubevirt-client.js';
import { ConfigTracker } from '../api/config-in-force.js';
import { effectiveMigrationConfiguration } from '../api/migration-configuration.js';
import { LiveAgentDirectory, type AgentTls } from './agents/live-agent-directory.js';
import { ControllerRunner } from './controller-runner.js';
import { MigrationController } from './controllers/migration/migration-controller.js';
import { VmiMigratabilityController } from './controllers/vmi-migratability.js';
import { EvacuationController } from './controllers/evacuation-controller.js';
import { DEFAULT_BACKOFF_BASE_MS } from './evacuation/backoff.js';
import { PlacementController } from './controllers/placement-controller.js';
import { LeaderElector } from './leader-election/leader-elector.js';
import { registerConfigInForceGauge } from '../common/config-in-force-metric.js';
import { createReconcilerMetrics } from './metrics.js';
import { WorkQueue } from './queue/work-queue.js';
import { NodeCertificateSigner, type NodeSignerOptions } from './node-certificates/node-certificate-signer.js';

export interface ReconcilerOptions {
  kubeconfig?: string;
  configLocation: ClusterConfigLocation;
  /** Where the leader Lease and the agents' Leases live. */
  namespace: string;
  /** Reconcile migrations and VMIs of this namespace only; all namespaces when absent. */
  watchNamespace?: string;
  identity?: string;
  agentTls: AgentTls;
  healthPort: number;
  healthHost?: string;
  workers?: number;
  logger: Logger;
  /** Leader election timings; tests shorten them. */
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Node drain: a cordoned node is drained as one with the drain taint (default off). */
  evacuateOnCordon?: boolean;
  /** Base of the evacuation retry backoff (KubeVirt's 20 s by default; tests shorten it). */
  evacuationBackoffBaseMs?: number;
  /** The node migration signer (CSRs of live-migration.io/node-migration); off when absent. */
  nodeSigner?: Pick<NodeSignerOptions, 'agentUsername' | 'caCertFile' | 'caKeyFile' | 'maxLifetimeSeconds'>;
}

export interface RunningReconciler {
  healthPort: number;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export async function startReconciler(options: ReconcilerOptions): Promise<RunningReconciler> {
  const { logger } = options;
  const kubeConfig = new KubeConfig();
  if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
  else kubeConfig.loadFromCluster();
  const identity = options.identity ?? `${hostname()}-${process.pid}`;
  const context = { kubeConfig, logger: logger.child({ part: 'informer' }), namespace: options.watchNamespace };

  const migrationQueue = new WorkQueue();
  const vmiQueue = new WorkQueue();
  const evacuationQueue = new WorkQueue();
  const placementQueue = new WorkQueue();
  let leading = false;

  const vmims = migrationInformer(context, {
    onEvent: (event, vmim) => {
      migrations.onMigrationEvent(event, vmim);
      evacuation.onMigrationEvent(event, vmim);
    },
  });
  const vmis = vmiInformer(context, {
    onEvent: (event, vmi) => {
      migratability.onVmiEvent(event, vmi);
      migrations.onVmiEvent(event, vmi);
      evacuation.onVmiEvent(event, vmi);
      placement.onVmiEvent(event, vmi);
    },
  });
  const clusterScoped = { ...context, namespace: undefined };
  const onClusterEvent = () => {
    migrations.onClusterEvent();
    placement.onClusterEvent();
  };
  const nodes = nodeInformer(clusterScoped, {
    onEvent: (event, node) => {
      onClusterEvent();
      evacuation.onNodeEvent(event, node);
    },
  });
  const pvcs = pvcInformer(context, { onEvent: (event, pvc) => migratability.onPvcEvent(event, pvc) });
  const leases = leaseInformer(clusterScoped, options.namespace, { onEvent: onClusterEvent });
  const configMaps = configMapInformer(clusterScoped, options.configLocation, {
    onEvent: () => {
      migrations.onClusterEvent();
      evacuation.enqueueAll();
    },
  });
  // Read when a migration the webhook did not stamp starts: no event of theirs needs a reconcile.
  const migrationPolicies = migrationPolicyInformer(clusterScoped);
  const namespaces = namespaceInformer(clusterScoped);
  const tracker = new ConfigTracker(options.configLocation);

  const metrics = createReconcilerMetrics(() => vmims.list());
  const configInForce = () => tracker.current(configMaps.get(options.configLocation.name, options.configLocation.namespace) as Parameters<ConfigTracker['current']>[0]);
  registerConfigInForceGauge(metrics.registry, configInForce);
  metrics.watchQueue('migrations', migrationQueue);
  metrics.watchQueue('vmis', vmiQueue);
  metrics.watchQueue('evacuation', evacuationQueue);
  metrics.watchQueue('placement', placementQueue);
  const client = new KubevirtClient(kubeConfig, 'live-migration-reconciler', { count: (kind) => metrics.apiWrites.inc({ kind }) });
  const clusterConfig = () => {
    const inForce = configInForce();
    if (inForce.config) return inForce.config;
    // Never valid since start: act on nothing rather than on a guess.
    throw new Error(`kubevirt-config is invalid and no valid version was seen: ${inForce.problem ?? 'unknown'}`);
  };
  const agents = new LiveAgentDirectory(nodes, leases, options.agentTls, logger.child({ component: 'agent-client-tls' }));

  const migrations = new MigrationController({
    caches: {
      vmims,
      vmis,
      nodes,
      pvcLookup: (namespace, claim) => {
        const pvc = pvcs.get(claim, namespace);
        return pvc ? { accessModes: pvc.spec?.accessModes ?? [] } : undefined;
      },
    },
    client,
    agents,
    config: clusterConfig,
    effectiveConfiguration: effectiveMigrationConfiguration,
    policyFor: (vmi) => matchPolicy(migrationPolicies.list(), vmi.metadata.labels, namespaces.get(vmi.metadata.namespace ?? '')?.metadata?.labels),
    queue: migrationQueue,
    isLeader: () => leading,
    log: logger.child({ controller: 'migration' }),
    observe: metrics.migrations,
  });
  const migratability = new VmiMigratabilityController(vmis, pvcs, client, vmiQueue);
  const evacuation = new EvacuationController({
    vmis,
    vmims,
    nodes,
    client,
    config: clusterConfig,
    queue: evacuationQueue,
    isLeader: () => leading,
    evacuateOnCordon: options.evacuateOnCordon ?? false,
    backoffBaseMs: options.evacuationBackoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
    log: logger.child({ controller: 'evacuation' }),
  });
  const placement = new PlacementController(vmis, nodes, agents, client, placementQueue, () => leading, () => clusterConfig().migrations.nodeDrainTaintKey);
  const signerQueue = new WorkQueue();
  const signer = options.nodeSigner
    ? new NodeCertificateSigner({ ...options.nodeSigner, kubeConfig, nodes, queue: signerQueue, isLeader: () => leading, log: logger.child({ controller: 'node-certificates' }) })
    : undefined;
  if (signer) metrics.watchQueue('node-certificates', signerQueue);

  const workers = options.workers ?? 4;
  const runners = [
    new ControllerRunner('migration', migrationQueue, migrations.reconcile, { workers, logger, observer: metrics.runner }),
    // One worker: placements never decide on the same free memory at once.
    new ControllerRunner('placement', placementQueue, placement.reconcile, { workers: 1, logger, observer: metrics.runner }),
    new ControllerRunner('vmi-migratability', vmiQueue, (key) => (leading ? migratability.reconcile(key) : Promise.resolve()), { workers: 2, logger, observer: metrics.runner }),
    new ControllerRunner('evacuation', evacuationQueue, evacuation.reconcile, { workers: 2, logger, observer: metrics.runner }),
    ...(signer ? [new ControllerRunner('node-certificates', signerQueue, signer.reconcile, { workers: 1, logger, observer: metrics.runner })] : []),
  ];

  // Built before anything starts: it refuses timings that could let two replicas lead at once.
  const elector = new LeaderElector({
    kubeConfig,
    namespace: options.namespace,
    leaseName: 'live-migration-reconciler',
    identity,
    leaseDurationSeconds: options.leaseDurationSeconds,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    log: logger.child({ part: 'leader-election' }),
  });
  const informers: Array<{ start(): Promise<void>; stop(): Promise<void>; hasSynced(): boolean }> = [vmims, vmis, nodes, pvcs, leases, configMaps, migrationPolicies, namespaces, ...(signer ? [signer.csrs] : [])];
  const health = await listenHealth(options, metrics.registry, () => informers.every((i) => i.hasSynced()));
  await Promise.all(informers.map((i) => i.start()));
  logger.info({ identity }, 'caches synced');
  for (const runner of runners) runner.start();

  const electing = elector.run({
    onStartedLeading: () => {
      leading = true;
      migrations.enqueueAll();
      for (const vmi of vmis.list()) vmiQueue.add(`${vmi.metadata.namespace}/${vmi.metadata.name}`);
      evacuation.enqueueAll();
      placement.onClusterEvent();
      signer?.enqueueAll();
    },
    onStoppedLeading: () => {
      // Another replica may act now: stop writing at once. Every write checks isLeader first, and
      // this replica keeps campaigning; when it leads again it trusts nothing it did not re-read.
      leading = false;
    },
  });

  return {
    healthPort: (health.address() as { port: number }).port,
    isLeader: () => leading,
    async stop() {
      leading = false;
      await elector.stop();
      await electing.catch(() => {});
      await Promise.all(runners.map((r) => r.stop()));
      await Promise.all(informers.map((i) => i.stop()));
      agents.close();
      await new Promise<void>((resolve) => health.close(() => resolve()));
    },
  };
}

async function listenHealth(options: ReconcilerOptions, registry: { metrics(): Promise<string>; contentType: string }, ready: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (req.url === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'caches not synced');
    } else if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(options.healthPort, options.healthHost ?? '0.0.0.0', resolve));
  return server;
}

