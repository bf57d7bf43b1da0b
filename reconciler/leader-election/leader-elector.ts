// Leader election on a coordination.k8s.io Lease, so two reconciler replicas can run and one acts.
// The rules are in lease-policy.ts; this file only reads, calls them, and writes. Every write carries
// the resourceVersion it read (two candidates racing get one success and one 409); every attempt is
// bounded by a timeout; and a leader steps down at its renew deadline on a timer of its own, even
// while a call hangs.
import { performance } from 'node:perf_hooks';
import { ApiException, CoordinationV1Api, V1MicroTime, createConfiguration, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { callWithTimeout } from './bounded-call.js';
import { decideLease, defaultCallTimeoutMs, leadershipEndsAt, observe, renewalCounts, timingProblems, type Observation } from './lease-policy.js';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  leaseName: string;
  identity: string;
  /** How long a lease lasts after a replica last saw it change (client-go default 15 s). */
  leaseDurationSeconds?: number;
  /** A leader that has not renewed within this long stops leading (client-go default 10 s). */
  renewDeadlineMs?: number;
  /** How often to try (client-go default 2 s). */
  retryPeriodMs?: number;
  /** Bound on one attempt's API calls; under renewDeadlineMs (default: half of it). */
  callTimeoutMs?: number;
  log?: { info(obj: Record<string, unknown>, msg: string): void; warn(obj: Record<string, unknown>, msg: string): void };
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  /** Called once per term when leadership ends (deadline, another holder, or stop()); isLeader is already false. */
  onStoppedLeading: () => void;
  /** Called when this replica first sees a different holder (like client-go's OnNewLeader). */
  onNewLeader?: (holder: string) => void;
}

function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

const now = (): number => performance.now();

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private callbacks: LeaderCallbacks | undefined;
  private observation: Observation | undefined;
  /** The Lease as our last successful write left it: what release() writes over. */
  private ownLease: V1Lease | undefined;
  private reportedHolder: string | undefined;
  private stepDownTimer: NodeJS.Timeout | undefined;
  private attempt: AbortController | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly callTimeoutMs: number;
  private readonly api: CoordinationV1Api;
  private readonly http = createConfiguration().httpApi;

  constructor(private readonly options: LeaderElectionOptions) {
    this.leaseDurationMs = (options.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.callTimeoutMs = options.callTimeoutMs ?? defaultCallTimeoutMs(this.renewDeadlineMs);
    const problems = timingProblems({
      leaseDurationMs: this.leaseDurationMs,
      renewDeadlineMs: this.renewDeadlineMs,
      retryPeriodMs: this.retryPeriodMs,
      callTimeoutMs: this.callTimeoutMs,
    });
    if (problems.length > 0) throw new Error(`leader election timings: ${problems.join('; ')}`);
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until stop(), calling back on each change of leadership; resolves once stopped. */
  run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.running) throw new Error('LeaderElector.run called twice');
    this.callbacks = callbacks;
    this.running = this.loop();
    return this.running;
  }

  /** Stops campaigning and, if leading, steps down and releases the lease (bounded by callTimeoutMs). */
  async stop(): Promise<void> {
    const lease = this.leading ? this.ownLease : undefined;
    this.stopped = true;
    this.stepDown('stopped');
    this.attempt?.abort(new Error('elector stopped'));
    this.wake?.();
    await this.running;
    if (lease) await this.release(lease);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.tryAcquireOrRenew().catch((error: unknown) => {
        if (!this.stopped) this.options.log?.warn({ err: String(error), lease: this.options.leaseName }, 'lease attempt failed');
      });
      if (!this.stopped) await this.pause(this.retryPeriodMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, leaseName: name, identity } = this.options;
    const startedAt = now();
    const controller = new AbortController();
    this.attempt = controller;
    try {
      const lease = await callWithTimeout((signal) => this.read(signal), this.callTimeoutMs, controller);
      this.observation = observe(this.observation, lease && { ...lease.spec, resourceVersion: lease.metadata?.resourceVersion }, now(), this.leaseDurationMs);
      this.noticeHolder();
      const decision = decideLease(this.observation, identity, now());
      if (decision.action === 'wait') {
        // Someone else holds it: if we thought we led, we did not.
        this.stepDown(`lease held by ${decision.holder}`);
        return;
      }
      const wallNow = new V1MicroTime(Date.now());
      const spec: V1LeaseSpec = { ...lease?.spec, holderIdentity: identity, leaseDurationSeconds: this.leaseDurationMs / 1000, renewTime: wallNow };
      if (decision.action === 'acquire') {
        spec.acquireTime = wallNow;
        spec.leaseTransitions = (lease?.spec?.leaseTransitions ?? 0) + (decision.previousHolder ? 1 : 0);
      }
      let written: V1Lease;
      try {
        written = await callWithTimeout(
          (signal) =>
            lease
              ? this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } }, { httpApi: this.withSignal(signal) })
              : this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } }, { httpApi: this.withSignal(signal) }),
          this.callTimeoutMs,
          controller,
        );
      } catch (error) {
        // 409: someone else wrote first (409 on create is "already exists"); the next read shows who.
        if (isStatus(error, 409)) return;
        throw error;
      }
      this.observation = observe(this.observation, { ...written.spec, resourceVersion: written.metadata?.resourceVersion }, now(), this.leaseDurationMs);
      this.ownLease = written;
      this.renewed(startedAt);
    } finally {
      if (this.attempt === controller) this.attempt = undefined;
    }
  }

  /** A write that started at `startedAt` succeeded: lead until renewDeadline after that start. */
  private renewed(startedAt: number): void {
    if (this.stopped || !renewalCounts(startedAt, now(), this.renewDeadlineMs)) return;
    clearTimeout(this.stepDownTimer);
    this.stepDownTimer = setTimeout(() => this.stepDown('renew deadline passed'), leadershipEndsAt(startedAt, this.renewDeadlineMs) - now());
    if (this.leading) return;
    this.leading = true;
    this.options.log?.info({ identity: this.options.identity }, 'became leader');
    this.callbacks?.onStartedLeading();
  }

  /** Ends this term at once, whatever call is pending: isLeader false, then the callback, once. */
  private stepDown(reason: string): void {
    clearTimeout(this.stepDownTimer);
    this.stepDownTimer = undefined;
    if (!this.leading) return;
    this.leading = false;
    // A renewal still in flight must not count for the term that just ended.
    this.attempt?.abort(new Error(`stepped down: ${reason}`));
    this.options.log?.warn({ identity: this.options.identity, reason }, 'stopped leading');
    this.callbacks?.onStoppedLeading();
  }

  private noticeHolder(): void {
    const holder = this.observation?.holder ?? '';
    if (holder === '' || holder === this.reportedHolder) return;
    this.reportedHolder = holder;
    if (holder !== this.options.identity) this.callbacks?.onNewLeader?.(holder);
  }

  /** Hands the lease back (no holder, 1 s) so another replica takes over at once, as client-go does. */
  private async release(lease: V1Lease): Promise<void> {
    const { namespace, leaseName: name } = this.options;
    const wallNow = new V1MicroTime(Date.now());
    const spec: V1LeaseSpec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: wallNow, acquireTime: wallNow };
    try {
      await callWithTimeout((signal) => this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } }, { httpApi: this.withSignal(signal) }), this.callTimeoutMs);
    } catch (error) {
      this.options.log?.warn({ err: String(error) }, 'could not release the lease; it expires on its own');
    }
  }

  private async read(signal: AbortSignal): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.leaseName, namespace: this.options.namespace }, { httpApi: this.withSignal(signal) });
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The client's HTTP library with `signal` on each request, so a timeout closes the connection. */
  private withSignal(signal: AbortSignal): typeof this.http {
    return {
      send: (request) => {
        request.setSignal(signal);
        return this.http.send(request);
      },
    };
  }
}
