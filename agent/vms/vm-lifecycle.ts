// How the agent learns of the VMIs assigned to its nodes: one VMI informer per agent process
// (namespace-scoped with --watch-namespace, else cluster-wide), every event routed to the
// controllers of the nodes it concerns — status.nodeName, a migration's target, and any node whose
// host has a VM of that key. Client-side filtering, because one simulation process hosts up to
// hundreds of nodes (one watch instead of hundreds); a single libvirt node could narrow its watch
// with a field selector once the CRD declares status.nodeName selectable.
// A resync at start, and every host.resyncMs for hosts whose guests change unannounced (libvirt:
// a guest that powered off or crashed), looks at every VM and every VMI of the cache.
import type { KubeConfig } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { InformerLogger } from '../../kube/informer.js';
import { vmiInformer } from '../../kube/informers.js';
import { KubevirtClient } from '../../kube/kubevirt-client.js';
import { CoreV1Api } from '@kubernetes/client-node';
import { VmController, type VmControllerLog } from './vm-controller.js';
import { pvcVolumeResolver } from './pvc-volumes.js';
import type { VmHost } from './vm-host.js';
import type { VmActionCounter } from './vm-metrics.js';

const keyOf = (vmi: VirtualMachineInstance): string => `${vmi.metadata.namespace ?? ''}/${vmi.metadata.name ?? ''}`;

export interface VmLifecycleOptions {
  kubeConfig: KubeConfig;
  watchNamespace?: string;
  hosts: ReadonlyArray<{ node: string; host: VmHost }>;
  log: VmControllerLog & InformerLogger;
  actions?: VmActionCounter;
}

export class VmLifecycle {
  private readonly controllers = new Map<string, VmController>();
  private readonly informer;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: VmLifecycleOptions) {
    this.informer = vmiInformer(
      { kubeConfig: options.kubeConfig, logger: options.log, ...(options.watchNamespace ? { namespace: options.watchNamespace } : {}) },
      { onEvent: (_event, vmi) => this.route(vmi) },
    );
    const client = new KubevirtClient(options.kubeConfig, 'live-migration-agent');
    const pvcVolumes = pvcVolumeResolver(options.kubeConfig.makeApiClient(CoreV1Api));
    for (const { node, host } of options.hosts) {
      this.controllers.set(
        node,
        new VmController({
          node,
          host,
          client,
          pvcVolumes,
          log: options.log,
          vmiFor: (key) => {
            const slash = key.indexOf('/');
            return this.informer.get(key.slice(slash + 1), key.slice(0, slash));
          },
          ...(options.actions ? { actions: options.actions } : {}),
        }),
      );
    }
  }

  /** Starts once the cache is synced, so no VM is taken for an orphan of a VMI not yet listed. */
  async start(): Promise<void> {
    await this.informer.start();
    await this.resync();
    const periods = this.options.hosts.map((h) => h.host.resyncMs).filter((ms): ms is number => ms !== undefined);
    if (periods.length === 0) return;
    const every = Math.min(...periods);
    const tick = () => {
      this.timer = setTimeout(() => void this.resync().finally(tick), every);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    for (const controller of this.controllers.values()) controller.stop();
    await this.informer.stop();
  }

  /** The console of a VMI that runs on `node` (undefined when it does not, or has no VM here). */
  async console(node: string, namespace: string, name: string): Promise<string | undefined> {
    const host = this.options.hosts.find((h) => h.node === node)?.host;
    const vmi = this.informer.get(name, namespace);
    if (!host || !vmi || vmi.status?.nodeName !== node) return undefined;
    return host.console(vmi);
  }

  private route(vmi: VirtualMachineInstance): void {
    const key = keyOf(vmi);
    for (const controller of this.controllers.values()) {
      const node = controller.node;
      const status = vmi.status;
      if (status?.nodeName === node || status?.migrationState?.targetNode === node || controller.vmKeys.has(key)) controller.enqueue(key);
    }
  }

  private async resync(): Promise<void> {
    await Promise.all(
      [...this.controllers.values()].map((c) =>
        c.resync().catch((error: unknown) => this.options.log.warn({ node: c.node, err: error instanceof Error ? error.message : String(error) }, 'VM resync failed')),
      ),
    );
    for (const vmi of this.informer.list()) this.route(vmi);
  }
}
