// How the reconciler finds agents, and how an agent says it is alive.
// - The Node carries the annotation `live-migration.io/agent-endpoint: https://<address>:<port>`:
//   where to call. It stays after the agent stops (harmless: it only says where to look).
// - A coordination.k8s.io Lease `agent-<node>` in the agent namespace, holderIdentity = the node,
//   renewed every 10 s, lasting 40 s: whether to call. Four missed renewals, not one, before a node
//   stops being a target; deleted on a clean shutdown so the node stops being a target at once.
// Why a Lease rather than a heartbeat in the Node's annotations: a Node write wakes every Node
// watcher in the cluster; a Lease in our namespace wakes only the reconciler.
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  V1MicroTime,
  setHeaderOptions,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';

export const AGENT_ENDPOINT_ANNOTATION = 'live-migration.io/agent-endpoint';
/** Memory the node's agent offers to guests (a quantity), read by placement. */
export const AGENT_GUEST_MEMORY_ANNOTATION = 'live-migration.io/agent-guest-memory';
export const AGENT_LEASE_PREFIX = 'agent-';
export const AGENT_LEASE_DURATION_SECONDS = 40;
export const AGENT_LEASE_RENEW_MS = 10_000;
const REANNOTATE_EVERY_TICKS = 6;

export function agentLeaseName(nodeName: string): string {
  return `${AGENT_LEASE_PREFIX}${nodeName}`;
}

/** The shape agentIsLive reads: a V1Lease from the typed API, or a raw one from a watch (times as strings). */
export interface AgentLeaseView {
  spec?: {
    holderIdentity?: string;
    renewTime?: Date | string;
    leaseDurationSeconds?: number;
  };
}

/** True while the agent's Lease is held and its last renewal is younger than its duration. */
export function agentIsLive(lease: AgentLeaseView | V1Lease | undefined, nowMs: number): boolean {
  const spec = lease?.spec;
  if (!spec?.holderIdentity || spec.renewTime === undefined || spec.leaseDurationSeconds === undefined) return false;
  const renewed = spec.renewTime instanceof Date ? spec.renewTime.getTime() : Date.parse(spec.renewTime);
  if (Number.isNaN(renewed)) return false;
  return nowMs < renewed + spec.leaseDurationSeconds * 1000;
}

export interface RegistrationLog {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

export interface AgentRegistrationOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  /** Namespace of the Leases. */
  namespace: string;
  /** e.g. https://127.0.0.1:40123 */
  endpoint: string;
  /** Memory offered to guests (a quantity), annotated beside the endpoint for placement. */
  guestMemory?: string;
  renewMs?: number;
  leaseDurationSeconds?: number;
  log?: RegistrationLog;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

function describe(error: unknown): string {
  if (error instanceof ApiException) return `${error.code}: ${typeof error.body === 'string' ? error.body : JSON.stringify(error.body)}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Registers one node's agent: annotation, then Lease, then renewals until stop(). Failures are
 * logged and retried on the next tick (the API server may be briefly away); `registered` resolves
 * once the annotation and the Lease have both been written.
 */
export class AgentRegistration {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly renewMs: number;
  private readonly durationSeconds: number;
  private timer: NodeJS.Timeout | undefined;
  private annotated = false;
  private ticks = 0;
  private stopped = false;
  private tick: Promise<void> = Promise.resolve();
  private resolveRegistered!: () => void;
  /** Resolves after the first successful annotation + Lease write. */
  readonly registered: Promise<void>;
  /** Whether the last renewal succeeded (for /readyz). */
  healthy = false;

  constructor(private readonly options: AgentRegistrationOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.renewMs = options.renewMs ?? AGENT_LEASE_RENEW_MS;
    this.durationSeconds = options.leaseDurationSeconds ?? AGENT_LEASE_DURATION_SECONDS;
    this.registered = new Promise((resolve) => (this.resolveRegistered = resolve));
  }

  get leaseName(): string {
    return agentLeaseName(this.options.nodeName);
  }

  /** Registers now and keeps renewing every renewMs. Returns after the first attempt. */
  async start(): Promise<void> {
    this.tick = this.renew();
    await this.tick;
    this.schedule();
  }

  /** ±10 % jitter, so the Leases of 100 simulated nodes started together do not renew in one burst. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.renew().then(() => this.schedule());
    }, this.renewMs * (0.9 + 0.2 * Math.random()));
    this.timer.unref();
  }

  /** Stops renewing and deletes the Lease, so the reconciler stops choosing this node at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    try {
      await this.coordination.deleteNamespacedLease({ name: this.leaseName, namespace: this.options.namespace });
      this.options.log?.info({ node: this.options.nodeName, lease: this.leaseName }, 'agent lease deleted');
    } catch (error) {
      if (!isStatus(error, 404)) {
        this.options.log?.warn({ node: this.options.nodeName, err: describe(error) }, 'could not delete the agent lease; it expires on its own');
      }
    }
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const { nodeName, log } = this.options;
    try {
      // Re-asserted now and then: a Node object deleted and re-created (a kubelet re-registering)
      // loses its annotations. A merge patch that changes nothing is not a write watchers see.
      if (this.ticks++ % REANNOTATE_EVERY_TICKS === 0) this.annotated = false;
      if (!this.annotated) {
        await this.core.patchNode(
          {
            name: nodeName,
            body: {
              metadata: {
                annotations: {
                  [AGENT_ENDPOINT_ANNOTATION]: this.options.endpoint,
                  ...(this.options.guestMemory !== undefined ? { [AGENT_GUEST_MEMORY_ANNOTATION]: this.options.guestMemory } : {}),
                },
              },
            },
          },
          mergePatch,
        );
        this.annotated = true;
        log?.info({ node: nodeName, endpoint: this.options.endpoint }, 'agent endpoint annotated on the node');
      }
      await this.writeLease();
      if (!this.healthy) log?.info({ node: nodeName, lease: this.leaseName }, 'agent lease held');
      this.healthy = true;
      this.resolveRegistered();
    } catch (error) {
      this.healthy = false;
      log?.warn({ node: nodeName, err: describe(error) }, 'agent registration failed; retrying');
    }
  }

  private async writeLease(): Promise<void> {
    const { namespace, nodeName } = this.options;
    const name = this.leaseName;
    const now = new V1MicroTime(Date.now());
    let lease: V1Lease | undefined;
    try {
      lease = await this.coordination.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    if (this.stopped) return;
    const spec = { ...lease?.spec, holderIdentity: nodeName, leaseDurationSeconds: this.durationSeconds, renewTime: now };
    if (lease === undefined) {
      await this.coordination.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { ...spec, acquireTime: now } } });
    } else {
      // Read-modify-write with the resourceVersion read; a 409 means a concurrent write, and the next tick renews.
      await this.coordination.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
    }
  }
}
