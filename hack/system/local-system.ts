// The whole system on a local control plane, each component its own process as in a cluster:
// the webhook (registered with the API server by URL + caBundle), the reconciler, and by default one
// agent process hosting N simulated nodes (or the agent processes `agents` lists, e.g. one libvirt
// agent per test host). Used by `npm run local -- up --nodes N`, the demo and the integration tests.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../api/generated-files.js';
import { isAlive } from '../control-plane/control-plane.js';
import { freePort } from '../control-plane/ports.js';
import { agentCertificatePaths, createComponentPki, issueAgentCertificate, RECONCILER_CALLER, type ComponentPki } from './component-pki.js';
import { createSimulatedNodes, deleteSimulatedNodes, type SimulatedNode } from './simulated-nodes.js';
import { createReconcilerIdentity, deleteReconcilerIdentity, type ReconcilerIdentity } from './reconciler-identity.js';
import { agentNodeKubeconfigs, createAgentScope, deleteAgentScope, type AgentScope } from './agent-scope.js';
import { webhookConfigurations } from './webhook-configurations.js';

export interface ComponentProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Plain-HTTP health port (reconciler, agent) or the webhook's HTTPS port. */
  port: number;
}

export interface LocalSystemOptions {
  kubeconfig: string;
  /** Certificates, logs. */
  workDir: string;
  /** Leases of the reconciler and the agents. */
  namespace: string;
  /** Only this namespace's migrations and VMIs are reconciled (tests); all when absent. */
  watchNamespace?: string;
  configLocation: { namespace: string; name: string };
  /** Data of the kubevirt-config ConfigMap to create (left alone when undefined). */
  configData?: Record<string, string>;
  nodes: SimulatedNode[];
  webhook?: { namespaceSelector?: Record<string, unknown>; suffix: string };
  reconcilers?: number;
  /** Shorter leader-election timings for tests (seconds / ms). */
  leaderElection?: { leaseDurationSeconds: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** Extra environment for the components (e.g. LOG_LEVEL). */
  env?: Record<string, string>;
  /** Run the compiled components from dist/ (`npm run build`), as the image does; TypeScript via tsx otherwise. */
  compiled?: boolean;
  /** Agent processes; default one simulation agent hosting every node of `nodes`. */
  agents?: AgentSpec[];
}

export interface AgentSpec {
  /** Nodes this agent hosts (one for the libvirt driver). */
  nodes: string[];
  driver: 'simulation' | 'libvirt';
  /** Further flags, e.g. --libvirt-uri=…, --migration-address=…, --state-dir=…. */
  extraArgs?: string[];
}

export interface LocalSystemState {
  options: LocalSystemOptions;
  pki: ComponentPki;
  processes: ComponentProcess[];
  webhookConfigurations: Array<{ kind: string; name: string }>;
  /** The reconcilers' ServiceAccount (their kubeconfig, and the username the webhooks exempt). */
  reconcilerIdentity?: ReconcilerIdentity;
  /** The agents' ServiceAccount, RBAC and ValidatingAdmissionPolicy, as the chart installs them. */
  agentScope?: AgentScope;
}

function spawnComponent(options: LocalSystemOptions, name: string, args: string[], port: number, kubeconfig = options.kubeconfig): ComponentProcess {
  const logFile = join(options.workDir, `${name}.log`);
  const log = openSync(logFile, 'a');
  const command = name.replace(/-\d+$/, '');
  const entry = options.compiled ? [join(REPO_ROOT, 'dist', 'cmd', `${command}.js`)] : ['--import', 'tsx', join(REPO_ROOT, 'cmd', `${command}.ts`)];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, KUBECONFIG: kubeconfig, ...options.env },
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return { name, pid: child.pid, logFile, port };
}


async function waitHealthy(component: ComponentProcess, url: string, ca?: string, deadlineMs = 90_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (!isAlive(component.pid)) throw new Error(`${component.name} exited during start-up; see ${component.logFile}`);
    const ok = await new Promise<boolean>((resolve) => {
      if (url.startsWith('https:')) {
        const req = request(url, { ca, timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.end();
      } else {
        fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => resolve(r.ok), () => resolve(false));
      }
    });
    if (ok) return;
    await sleep(150);
  }
  throw new Error(`${component.name} not ready within ${deadlineMs} ms; see ${component.logFile}`);
}

async function applyObject(kubeConfig: KubeConfig, object: KubernetesObject): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  try {
    await api.create(object);
  } catch {
    const existing = await api.read(object as KubernetesObject & { metadata: { name: string } });
    await api.replace({ ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata?.resourceVersion } });
  }
}

async function ensureNamespace(kubeConfig: KubeConfig, name: string): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } }).catch(() => undefined);
}

export async function startReconcilerProcess(state: LocalSystemState, index: number): Promise<ComponentProcess> {
  const { options, pki } = state;
  const port = await freePort();
  const le = options.leaderElection;
  if (!state.reconcilerIdentity) throw new Error('the local system has no reconciler identity');
  const reconciler = spawnComponent(options, `reconciler-${index}`, [
    `--namespace=${options.namespace}`,
    ...(options.watchNamespace ? [`--watch-namespace=${options.watchNamespace}`] : []),
    `--config-namespace=${options.configLocation.namespace}`,
    `--config-name=${options.configLocation.name}`,
    `--agent-ca-file=${pki.caCert}`,
    `--agent-client-cert-file=${pki.reconcilerCert}`,
    `--agent-client-key-file=${pki.reconcilerKey}`,
    `--health-port=${port}`,
    `--identity=reconciler-${index}`,
    ...(le ? [`--lease-duration-seconds=${le.leaseDurationSeconds}`, `--renew-deadline-ms=${le.renewDeadlineMs}`, `--retry-period-ms=${le.retryPeriodMs}`] : []),
  ], port, state.reconcilerIdentity.kubeconfig);
  state.processes.push(reconciler);
  await waitHealthy(reconciler, `http://127.0.0.1:${port}/readyz`);
  return reconciler;
}

function agentSpecs(options: LocalSystemOptions): AgentSpec[] {
  return options.agents ?? [{ nodes: options.nodes.map((n) => n.name), driver: 'simulation' }];
}

/** Name of the agent process of `agents[index]`: "agent" for the default single agent. */
export function agentComponentName(options: LocalSystemOptions, index: number): string {
  return options.agents === undefined ? 'agent' : `agent-${index}`;
}

/** Starts (or restarts, after stopComponent) the agent process of `agents[index]` and waits until it is ready. */
export async function startAgentComponent(state: LocalSystemState, index: number): Promise<ComponentProcess> {
  const { options, pki } = state;
  const spec = agentSpecs(options)[index];
  if (!spec) throw new Error(`no agent ${index}`);
  const name = agentComponentName(options, index);
  state.processes = state.processes.filter((p) => p.name !== name);
  for (const node of spec.nodes) issueAgentCertificate(pki, node);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfig);
  // Each node registers as the agents' ServiceAccount with a token bound to that node, as in a cluster.
  const agentKubeconfig = await agentNodeKubeconfigs(kubeConfig, options.namespace, spec.nodes, options.workDir);
  const agentPort = await freePort();
  const agent = spawnComponent(options, name, [
    `--driver=${spec.driver}`,
    `--nodes=${spec.nodes.join(',')}`,
    `--namespace=${options.namespace}`,
    ...(options.watchNamespace ? [`--watch-namespace=${options.watchNamespace}`] : []),
    `--tls-cert=${agentCertificatePaths(pki).cert}`,
    `--tls-key=${agentCertificatePaths(pki).key}`,
    `--client-ca=${pki.caCert}`,
    `--allowed-callers=${RECONCILER_CALLER}`,
    `--health-port=${agentPort}`,
    '--health-address=127.0.0.1',
    ...(spec.extraArgs ?? []),
  ], agentPort, agentKubeconfig);
  state.processes.push(agent);
  await waitHealthy(agent, `http://127.0.0.1:${agentPort}/readyz`);
  return agent;
}

export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystemState> {
  mkdirSync(options.workDir, { recursive: true });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfig);
  const pki = createComponentPki(join(options.workDir, 'pki'));
  const state: LocalSystemState = { options, pki, processes: [], webhookConfigurations: [] };
  try {
    await ensureNamespace(kubeConfig, options.namespace);
    await ensureNamespace(kubeConfig, options.configLocation.namespace);
    state.reconcilerIdentity = await createReconcilerIdentity(kubeConfig, options.namespace, options.workDir);
    const reconcilerUsername = state.reconcilerIdentity.username;
    // The agents' ServiceAccount, RBAC and policy, as the chart installs them; each agent node
    // registers under it with a token bound to its node (startAgentComponent).
    state.agentScope = await createAgentScope(kubeConfig, options.namespace);
    if (options.configData) {
      await applyObject(kubeConfig, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: options.configLocation.name, namespace: options.configLocation.namespace, labels: { 'kubevirt.io': '' } },
        data: options.configData,
      } as KubernetesObject);
    }
    await createSimulatedNodes(kubeConfig, options.nodes);

    for (let i = 0; i < agentSpecs(options).length; i++) await startAgentComponent(state, i);

    if (options.webhook) {
      const port = await freePort();
      const webhook = spawnComponent(options, 'webhook', [
        `--port=${port}`,
        '--host=127.0.0.1',
        `--tls-cert-file=${pki.webhookCert}`,
        `--tls-key-file=${pki.webhookKey}`,
        `--config-namespace=${options.configLocation.namespace}`,
        `--config-name=${options.configLocation.name}`,
        `--system-service-account=${reconcilerUsername}`,
      ], port);
      state.processes.push(webhook);
      const caPem = readFileSync(pki.caCert, 'utf8');
      await waitHealthy(webhook, `https://127.0.0.1:${port}/readyz`, caPem);
      for (const configuration of webhookConfigurations(options, port, Buffer.from(caPem).toString('base64'), reconcilerUsername)) {
        await applyObject(kubeConfig, configuration);
        state.webhookConfigurations.push({ kind: configuration.kind ?? '', name: configuration.metadata?.name ?? '' });
      }
    }

    for (let i = 0; i < (options.reconcilers ?? 1); i++) await startReconcilerProcess(state, i);
    return state;
  } catch (error) {
    await stopLocalSystem(state);
    throw error;
  }
}

/** SIGTERM to a component (it stops gracefully), SIGKILL after a grace period. */
export async function stopComponent(component: ComponentProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  try {
    process.kill(-component.pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(component.pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(component.pid)) {
    try {
      process.kill(-component.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export async function stopLocalSystem(state: LocalSystemState): Promise<void> {
  // Reconcilers first (no new dispatches), then the agents and the webhook.
  const order = [...state.processes].sort((a, b) => Number(b.name.startsWith('reconciler')) - Number(a.name.startsWith('reconciler')));
  for (const component of order) await stopComponent(component);
  state.processes = [];
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(state.options.kubeconfig);
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  for (const { kind, name } of state.webhookConfigurations) {
    await api.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind, metadata: { name } }).catch(() => undefined);
  }
  if (state.reconcilerIdentity) await deleteReconcilerIdentity(kubeConfig, state.reconcilerIdentity);
  if (state.agentScope) await deleteAgentScope(kubeConfig, state.agentScope);
  await deleteSimulatedNodes(kubeConfig, state.options.nodes.map((n) => n.name));
}
