// Leader election against the real API server, as client-go does it: one leader of two; a Lease
// kept renewed by a replica whose clock is an hour slow is not taken over; and a leader whose API
// calls hang steps down at its renew deadline, before the other replica takes over.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaderElectionOptions } from '../../reconciler/leader-election/leader-elector.js';
import { createTestNamespace, readControlPlaneState } from '../setup/environment.js';
import { startFreezableProxy, type FreezableProxy } from '../setup/freezable-proxy.js';

// Short timings: lease 3 s, renew deadline 2 s, retry 0.5 s.
const TIMINGS = { leaseDurationSeconds: 3, renewDeadlineMs: 2_000, retryPeriodMs: 500 };
const HOUR = 3_600_000;

let ns: string;
let kubeConfig: KubeConfig;
let leases: CoordinationV1Api;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(() => {
  ns = createTestNamespace('leader-election');
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(readControlPlaneState().kubeconfig);
  leases = kubeConfig.makeApiClient(CoordinationV1Api);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An elector that records what it did, in order, in a log shared by the test. */
class Candidate {
  readonly elector: LeaderElector;
  started = 0;
  stopped = 0;
  readonly leaders: string[] = [];
  readonly failures: string[] = [];
  private running: Promise<void> | undefined;

  constructor(
    readonly identity: string,
    private readonly events: string[],
    options: Partial<LeaderElectionOptions> & { leaseName: string },
  ) {
    this.elector = new LeaderElector({
      kubeConfig,
      namespace: ns,
      identity,
      ...TIMINGS,
      ...options,
      log: {
        info: () => {},
        warn: (obj, msg) => {
          if (msg === 'lease attempt failed') this.failures.push(String(obj.err));
        },
      },
    });
  }

  run(): void {
    this.running = this.elector.run({
      onStartedLeading: () => {
        this.started++;
        this.events.push(`${this.identity} started`);
      },
      onStoppedLeading: () => {
        this.stopped++;
        this.events.push(`${this.identity} stopped`);
      },
      onNewLeader: (holder) => this.leaders.push(holder),
    });
    cleanups.push(() => this.stop());
  }

  async stop(): Promise<void> {
    await this.elector.stop();
    await this.running;
  }
}

/** Polls `check` until it holds; the jest timeout bounds the wait. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    await sleep(20);
  }
}

/** Fails the test if two candidates ever believe they lead at once (sampled every 10 ms). */
function neverTwoLeaders(candidates: Candidate[]): { check(): void } {
  let both = 0;
  const timer = setInterval(() => {
    if (candidates.filter((c) => c.elector.isLeader).length > 1) both++;
  }, 10);
  cleanups.push(async () => clearInterval(timer));
  return { check: () => expect(both).toBe(0) };
}

async function readLease(name: string): Promise<V1Lease> {
  return leases.readNamespacedLease({ name, namespace: ns });
}

describe('leader election', () => {
  it('elects exactly one of two; when the leader stops, the other takes over', async () => {
    const events: string[] = [];
    const a = new Candidate('replica-a', events, { leaseName: 'two' });
    const b = new Candidate('replica-b', events, { leaseName: 'two' });
    const invariant = neverTwoLeaders([a, b]);
    a.run();
    b.run();
    await until('a leader', () => a.elector.isLeader || b.elector.isLeader);
    const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
    await until('the follower to see the leader', () => follower.leaders.includes(leader.identity));
    expect(follower.elector.isLeader).toBe(false);
    expect((await readLease('two')).spec?.holderIdentity).toBe(leader.identity);

    await leader.stop();
    expect(leader.elector.isLeader).toBe(false);
    expect(leader.stopped).toBe(1);
    await until('the follower to take over', () => follower.elector.isLeader);
    expect((await readLease('two')).spec?.holderIdentity).toBe(follower.identity);
    expect(events).toEqual([`${leader.identity} started`, `${leader.identity} stopped`, `${follower.identity} started`]);
    invariant.check();
  });

  it('does not take over a Lease that keeps being renewed, however old its renewTime', async () => {
    // A replica whose clock is an hour slow: every renewTime it writes lies an hour in the past.
    const slowClock = (): V1MicroTime => new V1MicroTime(Date.now() - HOUR);
    let lease = await leases.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name: 'skew', namespace: ns }, spec: { holderIdentity: 'slow-clock-replica', leaseDurationSeconds: 3, renewTime: slowClock(), acquireTime: slowClock() } },
    });
    const events: string[] = [];
    const b = new Candidate('replica-b', events, { leaseName: 'skew' });
    b.run();
    await until('b to see the slow-clock holder', () => b.leaders.includes('slow-clock-replica'));

    // The slow-clock replica renews every retry period for three lease durations. Each renewal is
    // conditioned on the resourceVersion it read, so it fails (409) if b ever took the Lease.
    for (let renewal = 0; renewal < 18; renewal++) {
      await sleep(TIMINGS.retryPeriodMs);
      lease = await leases.replaceNamespacedLease({ name: 'skew', namespace: ns, body: { ...lease, spec: { ...lease.spec, renewTime: slowClock() } } });
      expect(b.elector.isLeader).toBe(false);
    }
    expect(b.started).toBe(0);
    expect((await readLease('skew')).spec?.holderIdentity).toBe('slow-clock-replica');

    // Once it stops renewing, the Lease does expire for b.
    await until('b to take over the abandoned Lease', () => b.elector.isLeader);
    expect((await readLease('skew')).spec?.holderIdentity).toBe('replica-b');
  });

  describe('an API server that hangs for the leader', () => {
    let proxy: FreezableProxy;

    beforeAll(async () => {
      const server = new URL(readControlPlaneState().server);
      proxy = await startFreezableProxy({ host: server.hostname, port: Number(server.port) });
    });

    afterEach(() => proxy.thaw());
    afterAll(() => proxy.close());

    it('the leader steps down at its renew deadline while its call hangs; the other takes over only after', async () => {
      const events: string[] = [];
      // a's calls time out just before its deadline, so a call is still hanging when the deadline comes.
      const a = new Candidate('replica-a', events, { leaseName: 'hang', kubeConfig: proxy.kubeConfig(kubeConfig), callTimeoutMs: 1_900 });
      const b = new Candidate('replica-b', events, { leaseName: 'hang' });
      const invariant = neverTwoLeaders([a, b]);
      a.run();
      await until('a to lead', () => a.elector.isLeader);
      b.run();
      await until('b to see a lead', () => b.leaders.includes('replica-a'));

      proxy.freeze();
      const failuresBefore = a.failures.length;
      await until('a to step down', () => a.stopped === 1);
      expect(a.elector.isLeader).toBe(false);
      await until('a to give up its hanging call', () => a.failures.length > failuresBefore);
      // The call was cut by the step-down, not by its own timeout: the deadline timer did not wait for it.
      expect(a.failures[failuresBefore]).toContain('stepped down: renew deadline passed');

      // b waits a lease duration after it last saw a's renewal, so it starts only after a stopped.
      await until('b to take over', () => b.elector.isLeader);
      expect(events).toEqual(['replica-a started', 'replica-a stopped', 'replica-b started']);
      expect((await readLease('hang')).spec?.holderIdentity).toBe('replica-b');
      expect(a.stopped).toBe(1);
      invariant.check();
    });

    it('stop() of a leader whose API hangs returns, having stepped down once', async () => {
      const events: string[] = [];
      const a = new Candidate('replica-a', events, { leaseName: 'hang-stop', kubeConfig: proxy.kubeConfig(kubeConfig) });
      a.run();
      await until('a to lead', () => a.elector.isLeader);
      proxy.freeze();
      // The release cannot get through; stop() still returns (its calls are bounded) and a stops acting.
      await a.stop();
      expect(a.elector.isLeader).toBe(false);
      expect(events).toEqual(['replica-a started', 'replica-a stopped']);
    });
  });
});
