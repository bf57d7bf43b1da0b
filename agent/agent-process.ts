// Puts an agent process together: for each node it hosts, a driver, an HTTPS listener with mutual
// TLS and a registration (endpoint annotation + Lease); one plain-HTTP health listener with
// /healthz, /readyz and /metrics for the whole process. Used by cmd/agent.ts and in-process by tests.
//
// Why one process may host several nodes: the simulation driver is for demos and scale tests, where
// 100 simulated nodes as 100 processes would cost gigabytes; they share one ArrivalBoard so a guest
// leaving one simulated node arrives on another. A real driver (libvirt) hosts exactly one node.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import type { Logger } from 'pino';
import { realClock } from '../common/clock.js';
import type { MigrationDriver } from './contract.js';
import { AgentRegistration } from './registration.js';
import { createAgentApp, type AgentApp } from './server/agent-app.js';
import { createAgentMetrics, type AgentMetrics } from './server/agent-metrics.js';
import { callerCheck, type AllowedCaller } from './server/caller-check.js';
import { startAgentServer, type AgentTlsFiles, type RunningAgentServer } from './server/https-server.js';
import { LibvirtDriver, type LibvirtDriverOptions } from './libvirt/libvirt-driver.js';
import { ArrivalBoard, SimulationDriver } from './simulation/simulation-driver.js';
import { SimulatedVmHost } from './simulation/simulated-vms.js';
import { LibvirtVmHost } from './libvirt/libvirt-vms.js';
import type { VmHost } from './vms/vm-host.js';
import { VmLifecycle } from './vms/vm-lifecycle.js';
import { createVmMetrics } from './vms/vm-metrics.js';
import { consoleRoute } from './vms/console-route.js';
import { MigrationCertificates } from './migration-certificates/migration-certificates.js';

/** What a driver is made from; one driver per hosted node. */
export interface DriverContext {
  nodeName: string;
  advertiseAddress: string;
  /** Shared by the nodes of this process (the simulation delivers arriving guests through it). */
  arrivals: ArrivalBoard;
  /** The libvirt driver's settings (cmd/agent.ts flags); required by that driver only. */
  libvirt?: LibvirtSettings;
  logger?: Logger;
}

/** What the libvirt driver needs beyond the node name: its own options, as cmd/agent.ts flags set them. */
export type LibvirtSettings = Pick<
  LibvirtDriverOptions,
  'uri' | 'migrationAddress' | 'libvirtPort' | 'migrationPortMin' | 'migrationTlsDir' | 'adminUri' | 'stateDir' | 'sampleIntervalMs'
> & {
  /** The VM lifecycle's domains: kvm (default) or qemu (TCG). */
  domainType?: 'kvm' | 'qemu';
  /** Where libvirtd writes guests' serial consoles (default /var/log/libvirt/qemu). */
  consoleDir?: string;
  /** The same directory as the agent reads it, when libvirtd runs in another mount namespace. */
  consoleReadDir?: string;
  /** emptyDisk images: a libvirt storage pool's directory (default /var/lib/libvirt/live-migration-empty-disks). */
  emptyDiskDir?: string;
};
export type DriverFactory = (context: DriverContext) => MigrationDriver;

/** The drivers the agent can run; the libvirt driver adds its entry here. */
export const DRIVER_FACTORIES = {
  simulation: ({ nodeName, advertiseAddress, arrivals }) => new SimulationDriver({ nodeName, address: advertiseAddress, clock: realClock, arrivals }),
  libvirt: ({ nodeName, libvirt, logger }) => {
    if (!libvirt) throw new Error('the libvirt driver needs its settings (--libvirt-uri, --migration-address, --migration-tls-dir, --state-dir)');
    return new LibvirtDriver({ nodeName, ...libvirt, ...(logger ? { log: logger } : {}) });
  },
} satisfies Record<string, DriverFactory>;
export type DriverName = keyof typeof DRIVER_FACTORIES;

/** The drivers that run VMs (the VM lifecycle); a driver without an entry only migrates. */
export const VM_HOST_FACTORIES: Partial<Record<DriverName, (context: DriverContext) => VmHost>> = {
  simulation: () => new SimulatedVmHost(),
  libvirt: ({ nodeName, libvirt, logger }) => {
    if (!libvirt) throw new Error('the libvirt driver needs its settings');
    return new LibvirtVmHost({
      node: nodeName,
      ...(logger ? { log: logger } : {}),
      uri: libvirt.uri,
      domainType: libvirt.domainType ?? 'kvm',
      consoleDir: libvirt.consoleDir ?? '/var/log/libvirt/qemu',
      ...(libvirt.consoleReadDir ? { consoleReadDir: libvirt.consoleReadDir } : {}),
      stateDir: libvirt.stateDir,
      ...(libvirt.emptyDiskDir ? { emptyDiskDir: libvirt.emptyDiskDir } : {}),
    });
  },
};
/** Memory a simulated node offers to guests unless --guest-memory says otherwise. */
export const SIMULATED_GUEST_MEMORY = '16Gi';
export const DRIVERS = Object.keys(DRIVER_FACTORIES) as DriverName[];
/** Drivers whose nodes are not real, so one process may host several. */
export const MULTI_NODE_DRIVERS: readonly DriverName[] = ['simulation'];

export interface AgentProcessOptions {
  driver: DriverName;
  nodes: string[];
  /** Address the HTTPS listeners bind to. */
  listenAddress: string;
  /** Address written into the endpoint annotation (what the reconciler dials). */
  advertiseAddress: string;
  /** Fixed port for a single node; 0 (default) = a free port per node. */
  port?: number;
  tls: AgentTlsFiles;
  allowedCallers: AllowedCaller[];
  /**
   * Without a KubeConfig nothing is registered (a standalone agent, e.g. for a benchmark). A function
   * gives each hosted node its own credentials: an agent may write only its own node's Node and
   * Lease (the API server checks the node its token is bound to), so simulated nodes sharing a
   * process each register with a token of their own.
   */
  kubeConfig?: KubeConfig | ((nodeName: string) => KubeConfig);
  namespace: string;
  healthAddress?: string;
  /** Plain HTTP port of /healthz, /readyz, /metrics; 0 = a free port. */
  healthPort: number;
  version: string;
  logger: Logger;
  defaultMetrics?: boolean;
  renewMs?: number;
  /** Settings of the libvirt driver (with driver 'libvirt'). */
  libvirt?: LibvirtSettings;
  /** Watch VMIs of this namespace only (the VM lifecycle); all namespaces when absent. */
  watchNamespace?: string;
  /** Memory each hosted node offers to guests (a quantity), for placement. */
  guestMemory?: string;
  /** Issue and renew the node's migration TLS files in `dir` through the CSR API (needs kubeConfig). */
  migrationTlsFromCsr?: { dir: string };
}

export interface HostedNode {
  nodeName: string;
  endpoint: string;
  port: number;
  driver: MigrationDriver;
  vmHost?: VmHost;
  registration?: AgentRegistration;
}

export interface RunningAgentProcess {
  nodes: HostedNode[];
  healthPort: number;
  metrics: AgentMetrics;
  /** Resolves once every node is registered (immediately without a KubeConfig). */
  registered: Promise<void>;
  /** New work refused, Leases deleted, listeners closed. */
  stop(graceMs?: number): Promise<void>;
}

/** `{node}` in a certificate or key path names the hosted node: each node serves its own certificate. */
export const NODE_PLACEHOLDER = '{node}';

function tlsForNode(tls: AgentTlsFiles, nodeName: string): AgentTlsFiles {
  const of = (path: string) => path.split(NODE_PLACEHOLDER).join(nodeName);
  return { ...tls, certFile: of(tls.certFile), keyFile: of(tls.keyFile) };
}

function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export async function startAgentProcess(options: AgentProcessOptions): Promise<RunningAgentProcess> {
  const { logger } = options;
  if (options.nodes.length === 0) throw new Error('no node to host');
  if (new Set(options.nodes).size !== options.nodes.length) throw new Error(`a node is named twice: ${options.nodes.join(',')}`);
  if (options.nodes.length > 1 && !MULTI_NODE_DRIVERS.includes(options.driver)) throw new Error(`the ${options.driver} driver hosts exactly one node`);
  if ((options.port ?? 0) !== 0 && options.nodes.length > 1) throw new Error('a fixed port is for one node; several nodes take free ports');

  const metrics = createAgentMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const arrivals = new ArrivalBoard();
  const nodes: HostedNode[] = [];
  const apps: AgentApp[] = [];
  const servers: RunningAgentServer[] = [];
  let draining = false;
  let lifecycle: VmLifecycle | undefined;
  const migrationCertificates: MigrationCertificates[] = [];

  const stopAll = async (graceMs: number): Promise<void> => {
    draining = true;
    for (const certificates of migrationCertificates) certificates.stop();
    for (const app of apps) app.setDraining();
    await lifecycle?.stop();
    // Leases first: the reconciler stops choosing these nodes while in-flight calls finish.
    await Promise.all(nodes.map((n) => n.registration?.stop()));
    await Promise.all(servers.map((s) => s.close(graceMs)));
  };

  try {
    for (const nodeName of options.nodes) {
      const driver = DRIVER_FACTORIES[options.driver]({
        nodeName,
        advertiseAddress: options.advertiseAddress,
        arrivals,
        logger,
        ...(options.libvirt ? { libvirt: options.libvirt } : {}),
      });
      const agentApp = createAgentApp({
        nodeName,
        driver,
        authenticate: callerCheck(options.allowedCallers),
        logger,
        metrics,
        version: options.version,
        routes: consoleRoute((namespace, name) => lifecycle?.console(nodeName, namespace, name) ?? Promise.resolve(undefined)),
      });
      apps.push(agentApp);
      const server = await startAgentServer({ app: agentApp.app, tls: tlsForNode(options.tls, nodeName), host: options.listenAddress, port: options.port ?? 0, logger });
      servers.push(server);
      const endpoint = `https://${hostForUrl(options.advertiseAddress)}:${server.port}`;
      const vmHost = VM_HOST_FACTORIES[options.driver]?.({ nodeName, advertiseAddress: options.advertiseAddress, arrivals, logger, ...(options.libvirt ? { libvirt: options.libvirt } : {}) });
      const guestMemory = options.guestMemory ?? (options.driver === 'simulation' ? SIMULATED_GUEST_MEMORY : undefined);
      const registration = options.kubeConfig
        ? new AgentRegistration({
            kubeConfig: typeof options.kubeConfig === 'function' ? options.kubeConfig(nodeName) : options.kubeConfig,
            nodeName,
            namespace: options.namespace,
            endpoint,
            ...(guestMemory !== undefined ? { guestMemory } : {}),
            log: logger,
            ...(options.renewMs !== undefined ? { renewMs: options.renewMs } : {}),
          })
        : undefined;
      nodes.push({ nodeName, endpoint, port: server.port, driver, ...(vmHost ? { vmHost } : {}), ...(registration ? { registration } : {}) });
      logger.info({ node: nodeName, endpoint, driver: driver.name }, 'agent listening');
    }
  } catch (error) {
    await stopAll(0);
    throw error;
  }

  // The migration certificate is requested now and installed when signed; libvirt's TLS reload picks
  // the files up (a migration before that fails with the reason, and is retried).
  if (options.migrationTlsFromCsr && options.kubeConfig) {
    for (const { nodeName } of nodes) {
      const certificates = new MigrationCertificates({
        kubeConfig: typeof options.kubeConfig === 'function' ? options.kubeConfig(nodeName) : options.kubeConfig,
        nodeName,
        dir: options.migrationTlsFromCsr.dir,
        log: logger.child({ part: 'migration-certificates' }),
      });
      certificates.start();
      migrationCertificates.push(certificates);
    }
  }

  // The VM lifecycle before registration: once placement may choose these nodes, their agent
  // already watches the VMIs it will be given.
  const vmHosts = nodes.flatMap((n) => (n.vmHost ? [{ node: n.nodeName, host: n.vmHost }] : []));
  if (options.kubeConfig && vmHosts.length > 0) {
    // One VMI watch per process; its writes go as the first hosted node's identity (a real agent
    // hosts one node; the simulation's several share one process, and its identity).
    const firstNode = vmHosts[0]?.node ?? '';
    lifecycle = new VmLifecycle({
      kubeConfig: typeof options.kubeConfig === 'function' ? options.kubeConfig(firstNode) : options.kubeConfig,
      hosts: vmHosts,
      log: logger.child({ part: 'vm-lifecycle' }),
      actions: createVmMetrics(metrics.registry),
      ...(options.watchNamespace ? { watchNamespace: options.watchNamespace } : {}),
    });
    try {
      await lifecycle.start();
    } catch (error) {
      await stopAll(0);
      throw error;
    }
  }

  // Registration after every listener is up: an annotated endpoint always answers.
  await Promise.all(nodes.map((n) => n.registration?.start()));
  const registered = Promise.all(nodes.map((n) => n.registration?.registered)).then(() => undefined);

  const health = express();
  health.disable('x-powered-by');
  health.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  health.get('/readyz', (_req, res) => {
    const unregistered = nodes.filter((n) => n.registration !== undefined && !n.registration.healthy).map((n) => n.nodeName);
    const ready = !draining && unregistered.length === 0;
    const why = draining ? 'shutting down' : `not registered: ${unregistered.join(',')}`;
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : why);
  });
  health.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const healthServer: Server = createServer(health);
  await new Promise<void>((resolve, reject) => {
    healthServer.once('error', reject);
    healthServer.listen(options.healthPort, options.healthAddress ?? '0.0.0.0', () => resolve());
  }).catch(async (error: unknown) => {
    await stopAll(0);
    throw error;
  });
  const healthPort = (healthServer.address() as AddressInfo).port;
  logger.info({ healthPort, nodes: nodes.length }, 'agent health listening');

  return {
    nodes,
    healthPort,
    metrics,
    registered,
    stop: async (graceMs = 5_000) => {
      await stopAll(graceMs);
      healthServer.closeAllConnections();
      await new Promise<void>((resolve) => healthServer.close(() => resolve()));
    },
  };
}
