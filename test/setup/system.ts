// A whole system for one integration test file: its own namespace (migrations, VMIs, Leases,
// kubevirt-config), its own simulated nodes, the reconciler and agent processes, optionally the
// webhook. Everything is read back through the real API server.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { startLocalSystem, stopLocalSystem, type LocalSystemOptions, type LocalSystemState } from '../../hack/system/local-system.js';
import { waitConfigInForce } from './config-in-force.js';
import { createTestNamespace, readControlPlaneState } from './environment.js';

const GROUP = 'kubevirt.io';
const VERSION = 'v1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface TestSystem {
  ns: string;
  nodes: string[];
  state: LocalSystemState;
  kubeConfig: KubeConfig;
  custom: CustomObjectsApi;
  core: CoreV1Api;
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  nodes: number;
  nodeLabels?: (index: number) => Record<string, string>;
  migrations?: string;
  featureGates?: string;
  webhook?: boolean;
  reconcilers?: number;
  leaderElection?: LocalSystemOptions['leaderElection'];
  /** Node names `<prefix>-<suffix>-<name>` for these names instead of node-1…node-N (`nodes` is then ignored). */
  nodeNames?: string[];
  /** The agent processes for the nodes (given their full names); default one simulation agent for all. */
  agents?: (nodes: string[]) => NonNullable<LocalSystemOptions['agents']>;
  /** Extra environment for the components (e.g. LOG_LEVEL). */
  env?: Record<string, string>;
  /** Further kubevirt-config data keys (e.g. evictionStrategy). */
  configData?: Record<string, string>;
}

export async function startTestSystem(prefix: string, options: TestSystemOptions): Promise<TestSystem> {
  const ns = createTestNamespace(prefix);
  const suffix = ns.split('-').pop() ?? ns;
  const nodes = options.nodeNames
    ? options.nodeNames.map((name, i) => ({ name: `${prefix}-${suffix}-${name}`, labels: options.nodeLabels?.(i) }))
    : Array.from({ length: options.nodes }, (_, i) => ({ name: `${prefix}-${suffix}-node-${i + 1}`, labels: options.nodeLabels?.(i) }));
  const workDir = mkdtempSync(join(tmpdir(), 'live-migration-system-'));
  const control = readControlPlaneState();
  // On a failed start the system stops what it started; the work dir (its logs) is ours to remove,
  // after printing where the failing component's log was.
  const state = await startLocalSystem({
    kubeconfig: control.kubeconfig,
    workDir,
    namespace: ns,
    watchNamespace: ns,
    configLocation: { namespace: ns, name: 'kubevirt-config' },
    configData: { 'feature-gates': options.featureGates ?? 'LiveMigration', ...(options.migrations ? { migrations: options.migrations } : {}), ...options.configData },
    nodes,
    reconcilers: options.reconcilers,
    ...(options.agents ? { agents: options.agents(nodes.map((n) => n.name)) } : {}),
    ...(options.env ? { env: options.env } : {}),
    leaderElection: options.leaderElection ?? { leaseDurationSeconds: 4, renewDeadlineMs: 3000, retryPeriodMs: 500 },
    ...(options.webhook
      ? { webhook: { suffix, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } }
      : {}),
  }).catch((error: unknown) => {
    const logs = readdirSync(workDir).filter((f) => f.endsWith('.log'));
    const tails = logs.map((f) => `--- ${f}\n${readFileSync(join(workDir, f), 'utf8').split('\n').slice(-5).join('\n')}`);
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails.join('\n')}`);
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(control.kubeconfig);
  return {
    ns,
    nodes: nodes.map((n) => n.name),
    state,
    kubeConfig,
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    core: kubeConfig.makeApiClient(CoreV1Api),
    async stop() {
      await stopLocalSystem(state);
      // LIVE_MIGRATION_KEEP_LOGS=dir keeps the components' logs of a run for a post-mortem.
      const keep = process.env.LIVE_MIGRATION_KEEP_LOGS;
      if (keep) for (const f of readdirSync(workDir).filter((n) => n.endsWith('.log'))) cpSync(join(workDir, f), join(keep, `${prefix}-${f}`));
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export interface VmiSpec {
  node: string;
  memory?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  volumes?: Array<Record<string, unknown>>;
  nodeSelector?: Record<string, string>;
  evictionStrategy?: string;
  /** Status extras (conditions); by default the VMI is Running and LiveMigratable. */
  conditions?: Array<Record<string, unknown>>;
}

/** A VMI as KubeVirt's virt-handler would report it: Running on `node`. */
export async function createRunningVmi(system: TestSystem, name: string, spec: VmiSpec): Promise<void> {
  await system.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: system.ns,
    plural: 'virtualmachineinstances',
    body: {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      // Placed by this harness (it plays virt-handler), not by the product's placement.
      metadata: { name, annotations: { ...spec.annotations, 'live-migration.io/placement': 'external' }, labels: spec.labels },
      spec: {
        domain: { resources: { requests: { memory: spec.memory ?? '64Mi' } }, devices: {} },
        volumes: spec.volumes ?? [],
        ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
        ...(spec.evictionStrategy ? { evictionStrategy: spec.evictionStrategy } : {}),
      },
    },
  });
  await system.custom.patchNamespacedCustomObjectStatus(
    {
      group: GROUP,
      version: VERSION,
      namespace: system.ns,
      plural: 'virtualmachineinstances',
      name,
      body: { status: { phase: 'Running', nodeName: spec.node, ...(spec.conditions ? { conditions: spec.conditions } : {}) } },
    },
    mergePatch,
  );
}

/** Merge-patches a VMI's status, as virt-handler would (e.g. the guest stopped). */
export async function patchVmiStatus(system: TestSystem, name: string, status: Record<string, unknown>): Promise<void> {
  await system.custom.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: system.ns, plural: 'virtualmachineinstances', name, body: { status } }, mergePatch);
}

/** Waits until the VMI controller has published LiveMigratable (a migration of a VMI not yet evaluated waits for it). */
export async function waitEvaluated(system: TestSystem, name: string): Promise<void> {
  await eventually(`${name} to be evaluated`, async () => {
    const vmi = await getVmi(system, name);
    return vmi.status?.conditions?.some((c) => c.type === 'LiveMigratable') ? true : undefined;
  }, 30_000, 100);
}

export async function createMigration(system: TestSystem, name: string, vmiName: string, extraSpec: Record<string, unknown> = {}): Promise<void> {
  await system.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: system.ns,
    plural: 'virtualmachineinstancemigrations',
    body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName, ...extraSpec } },
  });
}

export async function listMigrations(system: TestSystem): Promise<VirtualMachineInstanceMigration[]> {
  const list = (await system.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: system.ns, plural: 'virtualmachineinstancemigrations' })) as { items: VirtualMachineInstanceMigration[] };
  return list.items;
}

export async function getMigration(system: TestSystem, name: string): Promise<VirtualMachineInstanceMigration | undefined> {
  try {
    return (await system.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: system.ns, plural: 'virtualmachineinstancemigrations', name })) as VirtualMachineInstanceMigration;
  } catch (error) {
    // Only NotFound means gone: any other error (a timeout, a 500) must not pass for a deletion.
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

export async function getVmi(system: TestSystem, name: string): Promise<VirtualMachineInstance> {
  return (await system.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: system.ns, plural: 'virtualmachineinstances', name })) as VirtualMachineInstance;
}

/** Waits until the VMI is gone from the API server: only NotFound counts, any other error fails. */
export async function waitForVmiGone(system: TestSystem, name: string, ms = 60_000): Promise<void> {
  await eventually(`${name} gone`, async () => {
    try {
      await getVmi(system, name);
      return undefined;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return true;
      throw error;
    }
  }, ms, 200);
}

export async function deleteMigration(system: TestSystem, name: string): Promise<void> {
  await system.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: system.ns, plural: 'virtualmachineinstancemigrations', name });
}

/** Changes the migrations block and waits until every reconciler and webhook decides under it. */
export async function setMigrationsConfig(system: TestSystem, migrations: string): Promise<void> {
  const stored = await system.core.patchNamespacedConfigMap(
    { name: 'kubevirt-config', namespace: system.ns, body: { data: { 'feature-gates': 'LiveMigration', migrations } } },
    mergePatch,
  );
  await waitConfigInForce(system.state, stored.metadata?.resourceVersion ?? '');
}

/** Polls until `check` returns a value; fails with the last observation after `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`);
}

const SLOT_PHASES = new Set(['Scheduled', 'PreparingTarget', 'TargetReady', 'Running']);

export interface LimitSample {
  cluster: number;
  outbound: Map<string, number>;
  inbound: Map<string, number>;
}

/** Counts migrations holding a slot, as the API server holds them. */
export function sampleLimits(migrations: readonly VirtualMachineInstanceMigration[]): LimitSample {
  const sample: LimitSample = { cluster: 0, outbound: new Map(), inbound: new Map() };
  for (const m of migrations) {
    if (!SLOT_PHASES.has(m.status?.phase ?? '')) continue;
    sample.cluster++;
    const source = m.status?.migrationState?.sourceNode ?? '?';
    const target = m.status?.migrationState?.targetNode ?? '?';
    sample.outbound.set(source, (sample.outbound.get(source) ?? 0) + 1);
    sample.inbound.set(target, (sample.inbound.get(target) ?? 0) + 1);
  }
  return sample;
}

/** Samples limits continuously until stopped; returns the maxima seen. */
export function watchLimits(system: TestSystem, everyMs = 100) {
  let running = true;
  const max = { cluster: 0, outbound: 0, inbound: 0, samples: 0 };
  const loop = (async () => {
    while (running) {
      const sample = sampleLimits(await listMigrations(system));
      max.samples++;
      max.cluster = Math.max(max.cluster, sample.cluster);
      max.outbound = Math.max(max.outbound, ...sample.outbound.values(), 0);
      max.inbound = Math.max(max.inbound, ...sample.inbound.values(), 0);
      await sleep(everyMs);
    }
  })();
  return {
    max,
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}
