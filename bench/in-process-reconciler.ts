// The reconciler's two controllers wired in this process, as reconciler/app.ts wires them, minus
// leader election (one replica, always leading), health server and metrics: the memory benchmark
// needs the MigrationController object itself (its softStateSize) and the heap of the process that
// runs it. Talks to the real API server and to real agents over mutual TLS.
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterConfigLocation } from '../api/cluster-config.js';
import { ConfigTracker } from '../api/config-in-force.js';
import { effectiveMigrationConfiguration } from '../api/migration-configuration.js';
import { configMapInformer, leaseInformer, migrationInformer, nodeInformer, pvcInformer, vmiInformer } from '../kube/informers.js';
import { KubevirtClient } from '../kube/kubevirt-client.js';
import { LiveAgentDirectory, type AgentTls } from '../reconciler/agents/live-agent-directory.js';
import { ControllerRunner } from '../reconciler/controller-runner.js';
import { MigrationController } from '../reconciler/controllers/migration/migration-controller.js';
import { VmiMigratabilityController } from '../reconciler/controllers/vmi-migratability.js';
import { WorkQueue } from '../reconciler/queue/work-queue.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';

export interface InProcessReconciler {
  migrations: MigrationController;
  /** The VMIMs in the controller's own cache (what it acts on). */
  cachedMigrations(): readonly VirtualMachineInstanceMigration[];
  /** Objects in each informer cache. */
  cacheSizes(): Record<string, number>;
  /** Keys waiting or delayed in the two work queues. */
  queueLengths(): Record<string, number>;
  stop(): Promise<void>;
}

const quiet = { info: () => {}, warn: () => {} };

export async function startInProcessReconciler(options: { kubeconfig: string; configLocation: ClusterConfigLocation; namespace: string; watchNamespace: string; agentTls: AgentTls }): Promise<InProcessReconciler> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfig);
  const context = { kubeConfig, namespace: options.watchNamespace };
  const migrationQueue = new WorkQueue();
  const vmiQueue = new WorkQueue();
  const vmims = migrationInformer(context, { onEvent: (event, vmim) => migrations.onMigrationEvent(event, vmim) });
  const vmis = vmiInformer(context, {
    onEvent: (event, vmi) => {
      migratability.onVmiEvent(event, vmi);
      migrations.onVmiEvent(event, vmi);
    },
  });
  const clusterScoped = { ...context, namespace: undefined };
  const nodes = nodeInformer(clusterScoped, { onEvent: () => migrations.onClusterEvent() });
  const pvcs = pvcInformer(context, { onEvent: (event, pvc) => migratability.onPvcEvent(event, pvc) });
  const leases = leaseInformer(clusterScoped, options.namespace, { onEvent: () => migrations.onClusterEvent() });
  const configMaps = configMapInformer(clusterScoped, options.configLocation, { onEvent: () => migrations.onClusterEvent() });
  const tracker = new ConfigTracker(options.configLocation);
  const client = new KubevirtClient(kubeConfig, 'live-migration-reconciler');
  const agents = new LiveAgentDirectory(nodes, leases, options.agentTls, { info: () => undefined, warn: () => undefined });
  const migrations: MigrationController = new MigrationController({
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
    config: () => {
      const inForce = tracker.current(configMaps.get(options.configLocation.name, options.configLocation.namespace) as Parameters<ConfigTracker['current']>[0]);
      if (inForce.config) return inForce.config;
      throw new Error(`kubevirt-config is invalid: ${inForce.problem ?? 'unknown'}`);
    },
    effectiveConfiguration: effectiveMigrationConfiguration,
    queue: migrationQueue,
    isLeader: () => true,
    log: quiet,
  });
  const migratability = new VmiMigratabilityController(vmis, pvcs, client, vmiQueue);
  const runners = [
    new ControllerRunner('migration', migrationQueue, migrations.reconcile, { workers: 4 }),
    new ControllerRunner('vmi-migratability', vmiQueue, (key) => migratability.reconcile(key), { workers: 2 }),
  ];
  const informers = { vmims, vmis, nodes, pvcs, leases, configMaps };
  await Promise.all(Object.values(informers).map((i) => i.start()));
  for (const runner of runners) runner.start();
  migrations.enqueueAll();
  for (const vmi of vmis.list()) vmiQueue.add(`${vmi.metadata.namespace}/${vmi.metadata.name}`);
  return {
    migrations,
    cachedMigrations: () => vmims.list(),
    cacheSizes: () => Object.fromEntries(Object.entries(informers).map(([name, i]) => [name, i.list().length])),
    queueLengths: () => {
      const m = migrationQueue.stats();
      const v = vmiQueue.stats();
      return { migrations: m.depth + m.delayed, vmis: v.depth + v.delayed };
    },
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
      await Promise.all(Object.values(informers).map((i) => i.stop()));
      agents.close();
    },
  };
}
