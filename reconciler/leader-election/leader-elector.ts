// Leader election on a coordination.k8s.io Lease, so two reconciler replicas can run and one acts.
// Every write carries the resourceVersion it read: two candidates racing for an expired lease get
// one success and one 409 Conflict, never two leaders.
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { decideLease } from './lease-policy.js';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  leaseName: string;
  identity: string;
  /** How long a lease lasts without renewal (client-go default 15 s). */
  leaseDurationSeconds?: number;
  /** A leader that cannot renew within this long stops leading (client-go default 10 s). */
  renewDeadlineMs?: number;
  /** How often to try (client-go default 2 s). */
  retryPeriodMs?: number;
  log?: { info(obj: Record<string, unknown>, msg: string): void; warn(obj: Record<string, unknown>, msg: string): void };
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  /** Called once when leadership is lost; the process should stop acting (and usually exit). */
  onStoppedLeading: () => void;
}

function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private readonly durationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly api: CoordinationV1Api;

  constructor(private readonly options: LeaderElectionOptions) {
    this.durationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Runs until stop(); calls back on each change of leadership. */
  async run(callbacks: LeaderCallbacks): Promise<void> {
    let lastRenewal = 0;
    while (!this.stopped) {
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        this.options.log?.warn({ err: String(error), lease: this.options.leaseName }, 'lease update failed');
      }
      if (held) {
        lastRenewal = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.options.log?.info({ identity: this.options.identity }, 'became leader');
          callbacks.onStartedLeading();
        }
      } else if (this.leading && Date.now() - lastRenewal > this.renewDeadlineMs) {
        this.leading = false;
        this.options.log?.warn({ identity: this.options.identity }, 'lost leadership');
        callbacks.onStoppedLeading();
      }
      if (!this.stopped) await sleep(this.retryPeriodMs);
    }
  }

  /** Stops campaigning and, if leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity === this.options.identity) {
        lease.spec.holderIdentity = '';
        lease.spec.renewTime = new V1MicroTime(0);
        await this.api.replaceNamespacedLease({ name: this.options.leaseName, namespace: this.options.namespace, body: lease });
      }
    } catch (error) {
      this.options.log?.warn({ err: String(error) }, 'could not release the lease; it expires on its own');
    }
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.leaseName, namespace: this.options.namespace });
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, leaseName: name, identity } = this.options;
    const now = Date.now();
    const lease = await this.read();
    const decision = decideLease(lease?.spec, identity, now);
    if (decision.action === 'wait') return false;
    const spec = {
      ...lease?.spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.durationSeconds,
      renewTime: new V1MicroTime(now),
    };
    if (decision.action === 'acquire') {
      spec.acquireTime = new V1MicroTime(now);
      spec.leaseTransitions = (lease?.spec?.leaseTransitions ?? 0) + (lease ? 1 : 0);
    }
    try {
      if (!lease) {
        await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } });
      } else {
        await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
      }
      return true;
    } catch (error) {
      // Someone else wrote first: they hold it (or renewed it) now.
      if (isStatus(error, 409)) return false;
      throw error;
    }
  }
}
