// Test kit for the migration controller's parts, no cluster: an in-memory "API server" (one store
// per kind, read through caches that can be frozen to lag), a client that records every call in
// order and bumps resourceVersion like etcd, scripted node agents, a manual clock.
import { ApiException, type V1Node } from '@kubernetes/client-node';
import { AgentCallError, type NodeAgentApi } from '../../../agent/contract.js';
import { defaultClusterConfig, type ClusterConfig, type ClusterMigrations } from '../../../api/cluster-config.js';
import { effectiveMigrationConfiguration } from '../../../api/migration-configuration.js';
import { matchPolicy } from '../../../api/migration-policy.js';
import type { MigrationPolicy } from '../../../api/schemas/migration-policy.js';
import { MIGRATION_FINALIZER } from '../../../api/names.js';
import type { ObjectMeta } from '../../../api/schemas/object-meta.js';
import type { VirtualMachineInstance } from '../../../api/schemas/vmi.js';
import type { MigrationPhase, VirtualMachineInstanceMigration } from '../../../api/schemas/vmim.js';
import { VMIM_PLURAL, VMI_PLURAL, type EventTarget } from '../../../kube/kubevirt-client.js';
import { applyPhase, type MigrationStatus, type PhaseChange } from '../../phases.js';
import type { MigrationControllerDeps, MigrationWrites } from './deps.js';
import { MigrationController } from './migration-controller.js';

export const NS = 'ns';
export const KEY = `${NS}/mig`;
export const VMIM = 'virtualmachineinstancemigrations/mig';
export const VMI = 'virtualmachineinstances/vmi';
type Json = Record<string, unknown>;
const clone = <T>(value: T): T => structuredClone(value);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch (what the client sends): objects merge, null deletes, the rest replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export class ManualClock {
  constructor(public ms = Date.parse('2026-03-01T10:00:00Z')) {}
  readonly now = (): number => this.ms;
  readonly iso = (): string => new Date(this.ms).toISOString();
  readonly advance = (ms: number): void => void (this.ms += ms);
}

type Meta = { metadata: ObjectMeta };

/** One kind's objects as the API server holds them; get/list read a frozen snapshot while frozen. */
export class FakeCache<T extends Meta> {
  readonly server = new Map<string, T>();
  private snapshot: Map<string, T> | undefined;

  get(name: string, namespace?: string): T | undefined {
    return clone((this.snapshot ?? this.server).get(`${namespace ?? ''}/${name}`));
  }
  list(namespace?: string): readonly T[] {
    return [...(this.snapshot ?? this.server).values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace).map(clone);
  }
  /** The cache stops seeing writes (a lagging watch). */
  freeze(): void {
    this.snapshot = new Map([...this.server].map(([k, v]) => [k, clone(v)]));
  }
}

export type WriteOp = 'patchStatus' | 'setFinalizers' | 'delete' | 'event' | 'exists';
/** `target`: "<plural or event kind>/<name>"; `body`: the status patch, the finalizers, or the event. */
export type RecordedCall = { op: WriteOp; target: string; ok: boolean; body?: unknown };

export const conflict = (what = 'the object has been modified'): ApiException<string> => new ApiException(409, what, '', {});
const notFound = (what: string): ApiException<string> => new ApiException(404, `${what} not found`, '', {});

/** The API server's answers to the controller's writes, recorded in order; failures on demand. */
export class FakeClient implements MigrationWrites {
  readonly calls: RecordedCall[] = [];
  private readonly failures: Array<{ op: WriteOp; plural?: string; error: Error }> = [];
  private revision = 1000;

  constructor(private readonly stores: Record<string, FakeCache<Meta>>) {}

  /** The next `op` (on `plural`, if given) fails with `error` (e.g. conflict()). */
  failNext(op: WriteOp, error: Error, plural?: string): void {
    this.failures.push({ op, plural, error });
  }
  nextRevision(): string {
    return String(++this.revision);
  }
  /** Successful writes, as "op target" strings (events and live reads left out). */
  objectWrites(): string[] {
    return this.calls.filter((c) => c.ok && c.op !== 'event' && c.op !== 'exists').map((c) => `${c.op} ${c.target}`);
  }
  events(): string[] {
    return this.calls.filter((c) => c.op === 'event').map((c) => `${c.target} ${(c.body as { reason: string }).reason}`);
  }

  private begin(op: WriteOp, plural: string, name: string | undefined, body?: unknown): RecordedCall {
    const call: RecordedCall = { op, target: `${plural}/${name ?? ''}`, ok: false, body: clone(body) };
    this.calls.push(call);
    const index = this.failures.findIndex((f) => f.op === op && (f.plural === undefined || f.plural === plural));
    if (index >= 0) throw this.failures.splice(index, 1)[0]?.error;
    return call;
  }
  /** The object a write names, or 404; 409 when the write was decided on another resourceVersion. */
  private current(plural: string, meta: ObjectMeta): { store: FakeCache<Meta>; object: Meta; key: string } {
    const store = this.stores[plural];
    const key = `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    const object = store?.server.get(key);
    if (!store || !object) throw notFound(`${plural} ${key}`);
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== object.metadata.resourceVersion) throw conflict();
    return { store, object, key };
  }

  async patchStatus(plural: string, meta: ObjectMeta, status: Json): Promise<Json> {
    const call = this.begin('patchStatus', plural, meta.name, status);
    const { store, object, key } = this.current(plural, meta);
    const next = mergePatch(object, { status }) as Meta;
    next.metadata.resourceVersion = this.nextRevision();
    store.server.set(key, next);
    call.ok = true;
    return clone(next) as unknown as Json;
  }

  async setFinalizers(plural: string, meta: ObjectMeta, finalizers: string[]): Promise<void> {
    const call = this.begin('setFinalizers', plural, meta.name, finalizers);
    const { store, object, key } = this.current(plural, meta);
    // The API server removes an object being deleted once its last finalizer is gone.
    if (object.metadata.deletionTimestamp && finalizers.length === 0) store.server.delete(key);
    else store.server.set(key, { ...object, metadata: { ...object.metadata, finalizers: [...finalizers], resourceVersion: this.nextRevision() } });
    call.ok = true;
  }

  async delete(plural: string, meta: ObjectMeta): Promise<void> {
    const call = this.begin('delete', plural, meta.name);
    const key = `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    const object = this.stores[plural]?.server.get(key);
    if (object && object.metadata.uid !== meta.uid) throw conflict('uid precondition failed');
    if (object) deleteObject(this.stores[plural] as FakeCache<Meta>, key, this.nextRevision());
    call.ok = true; // a missing object counts as deleted, as in KubevirtClient
  }

  async event(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.begin('event', target.kind, target.metadata.name, { type, reason, message }).ok = true;
  }

  async exists(plural: string, namespace: string, name: string): Promise<boolean> {
    this.begin('exists', plural, name).ok = true;
    return this.stores[plural]?.server.has(`${namespace}/${name}`) ?? false;
  }
}

function serverCopy<T extends Meta>(store: FakeCache<T>, name: string): T | undefined {
  const object = store.server.get(`${NS}/${name}`);
  return object && clone(object);
}

/** Deletion as the API server does it: a finalizer holds the object with a deletionTimestamp. */
function deleteObject(store: FakeCache<Meta>, key: string, revision: string, at = new Date().toISOString()): void {
  const object = store.server.get(key);
  if (!object) return;
  if ((object.metadata.finalizers ?? []).length === 0) store.server.delete(key);
  else store.server.set(key, { ...object, metadata: { ...object.metadata, deletionTimestamp: object.metadata.deletionTimestamp ?? at, resourceVersion: revision } });
}

type AgentMethod = Exclude<keyof NodeAgentApi, 'health'>;
type Answer<M extends AgentMethod> = Awaited<ReturnType<NodeAgentApi[M]>>;
/** One scripted call: an answer, an error to throw, or a function of the request. */
export type Step<M extends AgentMethod> = Answer<M> | Error | ((arg: Parameters<NodeAgentApi[M]>[0]) => Answer<M> | Promise<Answer<M>>);

export const unreachable = (node: string): AgentCallError => new AgentCallError('Unreachable', node, 'connect ETIMEDOUT');

/**
 * Node agents whose answers are scripted per call: steps are used in order, the last one repeats.
 * An unscripted call is listed in `unexpected` (tests assert it stays empty) and throws.
 */
export class FakeAgents {
  readonly calls: Array<{ node: string; method: AgentMethod; arg: unknown }> = [];
  readonly unexpected: string[] = [];
  private readonly scripts = new Map<string, unknown[]>();
  private readonly down = new Set<string>();

  script<M extends AgentMethod>(node: string, method: M, ...steps: Array<Step<M>>): this {
    this.scripts.set(`${node}.${method}`, steps);
    return this;
  }
  /** Whether the node has a live agent (agentFor answers undefined while not). */
  setLive(node: string, live: boolean): void {
    this.down[live ? 'delete' : 'add'](node);
  }
  called(node: string, method: AgentMethod): number {
    return this.calls.filter((c) => c.node === node && c.method === method).length;
  }

  agentFor = (node: string): NodeAgentApi | undefined => {
    if (this.down.has(node)) return undefined;
    const call = (method: AgentMethod) => async (arg: unknown) => {
      this.calls.push({ node, method, arg: clone(arg) });
      const steps = this.scripts.get(`${node}.${method}`);
      if (steps === undefined || steps.length === 0) {
        if (method === 'releaseTarget') return undefined; // best effort, answered by default
        this.unexpected.push(`${node}.${method}`);
        throw new Error(`unscripted call ${node}.${method}`);
      }
      const step = steps.length > 1 ? steps.shift() : steps[0];
      if (step instanceof Error) throw step;
      return typeof step === 'function' ? (step as (a: unknown) => unknown)(arg) : step;
    };
    const methods: AgentMethod[] = ['prepareTarget', 'startMigration', 'migrationStatus', 'abortMigration', 'confirmArrival', 'releaseTarget'];
    const health = async () => ({ nodeName: node, driver: 'fake', version: 'test' });
    return { health, ...Object.fromEntries(methods.map((m) => [m, call(m)])) } as NodeAgentApi;
  };
}

export interface MigrationFixture {
  source?: string;
  target?: string;
  /** When each phase up to `phase` was reached (default: the clock's now). */
  at?: string;
  migrationConfiguration?: Partial<ClusterMigrations>;
}

/** A status as the controller would have written it, walked through the phase machine to `phase`. */
export function statusAt(phase: Exclude<MigrationPhase, 'Succeeded' | 'Failed'>, uid: string, fixture: MigrationFixture & { at: string }): MigrationStatus {
  const config = effectiveMigrationConfiguration(defaultClusterConfig(), fixture.migrationConfiguration);
  const path: PhaseChange[] = [{ phase: 'Pending', migrationUid: uid, sourceNode: fixture.source ?? 'node-a', migrationConfiguration: config }, { phase: 'Scheduling' }];
  path.push({ phase: 'Scheduled', targetNode: fixture.target ?? 'node-b' }, { phase: 'PreparingTarget' });
  path.push({ phase: 'TargetReady', targetNodeAddress: '10.0.0.2', targetDirectMigrationNodePorts: { '49152': 0 }, targetPod: 'agent-node-b' }, { phase: 'Running' });
  let status: MigrationStatus = {};
  for (const change of path.slice(0, path.findIndex((c) => c.phase === phase) + 1)) {
    const result = applyPhase(status, change, fixture.at);
    if (!result.ok) throw new Error(result.error);
    status = result.status;
  }
  return status;
}

export function readyNode(name: string, labels: Record<string, string> = {}): V1Node & Meta {
  return { metadata: { name, labels }, status: { conditions: [{ type: 'Ready', status: 'True' }] } } as V1Node & Meta;
}

/** Everything a MigrationController is given, as fakes over one in-memory API server. */
export class World {
  readonly clock = new ManualClock();
  readonly vmims = new FakeCache<VirtualMachineInstanceMigration>();
  readonly vmis = new FakeCache<VirtualMachineInstance>();
  readonly nodes = new FakeCache<V1Node & Meta>();
  readonly client = new FakeClient({ [VMIM_PLURAL]: this.vmims, [VMI_PLURAL]: this.vmis } as Record<string, FakeCache<Meta>>);
  readonly agents = new FakeAgents();
  readonly queued: Array<{ key: string; afterMs?: number }> = [];
  readonly warnings: string[] = [];
  config: ClusterConfig;
  leader = true;
  /** MigrationPolicies in the cluster; namespace labels are not modelled (policies here select VMI labels). */
  readonly policies: MigrationPolicy[] = [];

  constructor(migrations: Partial<ClusterMigrations> = {}, nodes = ['node-a', 'node-b']) {
    const base = defaultClusterConfig();
    this.config = { ...base, liveMigrationEnabled: true, featureGates: ['LiveMigration'], migrations: { ...base.migrations, ...migrations } };
    for (const name of nodes) this.nodes.server.set(`/${name}`, readyNode(name));
  }

  deps(): MigrationControllerDeps {
    return {
      caches: { vmims: this.vmims, vmis: this.vmis, nodes: this.nodes, pvcLookup: () => undefined },
      client: this.client,
      agents: this.agents,
      config: () => this.config,
      effectiveConfiguration: effectiveMigrationConfiguration,
      policyFor: (vmi) => matchPolicy(this.policies, vmi.metadata.labels, {}),
      queue: { add: (key) => this.queued.push({ key }), addAfter: (key, afterMs) => this.queued.push({ key, afterMs }) },
      isLeader: () => this.leader,
      log: { info: () => {}, warn: (o, m) => this.warnings.push(`${m} ${JSON.stringify(o)}`) },
      now: this.clock.now,
    };
  }

  /** A fresh controller over the same API server: what a restarted or newly elected replica starts as. */
  controller(): MigrationController {
    return new MigrationController(this.deps());
  }

  /** A Running, LiveMigratable VMI (1Gi of memory) on `node`. */
  addVmi(name: string, node = 'node-a'): VirtualMachineInstance {
    const metadata = { name, namespace: NS, uid: `vmi-uid-${name}`, resourceVersion: this.client.nextRevision() };
    // As our VMI controller writes it: LiveMigratable, evaluated.
    const conditions = [{ type: 'LiveMigratable', status: 'True' as const }];
    const status = { phase: 'Running' as const, nodeName: node, migrationMethod: 'LiveMigration' as const, conditions };
    this.vmis.server.set(`${NS}/${name}`, { metadata, spec: { domain: { memory: { guest: '1Gi' } } }, status });
    return serverCopy(this.vmis, name) as VirtualMachineInstance;
  }

  /** A VMIM with the finalizer; `phase` builds its status (and mirrors it on the VMI from TargetReady). */
  addVmim(name: string, vmiName: string, phase?: Exclude<MigrationPhase, 'Succeeded' | 'Failed'>, fixture: MigrationFixture = {}): VirtualMachineInstanceMigration {
    const uid = `uid-${name}`;
    const status = phase ? statusAt(phase, uid, { ...fixture, at: fixture.at ?? this.clock.iso() }) : undefined;
    const vmim: VirtualMachineInstanceMigration = {
      metadata: { name, namespace: NS, uid, resourceVersion: this.client.nextRevision(), creationTimestamp: this.clock.iso(), finalizers: [MIGRATION_FINALIZER] },
      spec: { vmiName },
      ...(status ? { status } : {}),
    };
    this.vmims.server.set(`${NS}/${name}`, vmim);
    const vmi = this.vmis.server.get(`${NS}/${vmiName}`);
    if (vmi && status && (status.phaseTransitionTimestamps ?? []).some((p) => p.phase === 'TargetReady')) {
      const metadata = { ...vmi.metadata, resourceVersion: this.client.nextRevision() };
      this.vmis.server.set(`${NS}/${vmiName}`, { ...vmi, metadata, status: { ...vmi.status, migrationState: clone(status.migrationState) } });
    }
    return clone(vmim);
  }

  /** What the API server holds now (not the cache). */
  vmim = (name: string): VirtualMachineInstanceMigration | undefined => serverCopy(this.vmims, name);
  vmi = (name: string): VirtualMachineInstance | undefined => serverCopy(this.vmis, name);

  /** `kubectl delete vmim`: held by its finalizer with a deletionTimestamp. */
  userDeletesVmim(name: string): void {
    deleteObject(this.vmims as unknown as FakeCache<Meta>, `${NS}/${name}`, this.client.nextRevision(), this.clock.iso());
  }
  /** The VMI is gone from the API server (deleted, no finalizer left). */
  vmiGone(name: string): void {
    this.vmis.server.delete(`${NS}/${name}`);
  }
}
