// Finalizers are never held hostage by the webhook: with failurePolicy Fail and the webhook gone,
// the reconciler's identity can still remove its finalizer from a VMIM and write its status, while
// anyone else's update of a VMIM is still refused. Checked for both places the configurations come
// from: the local system (hack/system) and the Helm chart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../api/generated-files.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { stopComponent } from '../../hack/system/local-system.js';
import { createTestNamespace, helm, kubectl, readControlPlaneState } from '../setup/environment.js';
import { createMigration, createRunningVmi, eventually, getMigration, startTestSystem, type TestSystem } from '../setup/system.js';

const FINALIZER = 'kubevirt.io/migrationJobFinalize';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const LIVE_MIGRATABLE = [{ type: 'LiveMigratable', status: 'True' }];

function customApi(kubeconfig: string): CustomObjectsApi {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  return kubeConfig.makeApiClient(CustomObjectsApi);
}

const vmimPath = (namespace: string, name: string) => ({ group: 'kubevirt.io', version: 'v1', namespace, plural: 'virtualmachineinstancemigrations', name });

/** What the reconciler does when a migration is done: writes its status, then lets the object go. */
async function finishAs(api: CustomObjectsApi, namespace: string, name: string): Promise<void> {
  await api.patchNamespacedCustomObjectStatus({ ...vmimPath(namespace, name), body: { status: { phase: 'Failed' } } }, mergePatch);
  await api.patchNamespacedCustomObject({ ...vmimPath(namespace, name), body: { metadata: { finalizers: [] } } }, mergePatch);
}

/** An ordinary user's spec update, through kubectl (a server-side dry run: webhooks are called, nothing is stored). */
function userSpecUpdate(namespace: string, name: string, dryRun = false) {
  const patch = JSON.stringify({ spec: { addedNodeSelector: { zone: 'b' } } });
  return kubectl(['patch', 'vmim', name, '-n', namespace, '--type=merge', '-p', patch, ...(dryRun ? ['--dry-run=server'] : [])]);
}

function userFinalizerRemoval(namespace: string, name: string) {
  return kubectl(['patch', 'vmim', name, '-n', namespace, '--type=merge', '-p', JSON.stringify({ metadata: { finalizers: [] } })]);
}

async function readMigration(api: CustomObjectsApi, namespace: string, name: string): Promise<VirtualMachineInstanceMigration> {
  return (await api.getNamespacedCustomObject(vmimPath(namespace, name))) as VirtualMachineInstanceMigration;
}

describe('local system: the reconciler is exempt from the webhook for its own VMIM updates', () => {
  let system: TestSystem;
  let reconciler: CustomObjectsApi;

  beforeAll(async () => {
    system = await startTestSystem('webhook-fin', { nodes: 0, agents: () => [], reconcilers: 0, webhook: true });
    const identity = system.state.reconcilerIdentity;
    if (!identity) throw new Error('the local system made no reconciler identity');
    reconciler = customApi(identity.kubeconfig);
    await createRunningVmi(system, 'vm-1', { node: 'node-a', conditions: LIVE_MIGRATABLE });
    await createRunningVmi(system, 'vm-2', { node: 'node-a', conditions: LIVE_MIGRATABLE });
    await createMigration(system, 'mig-1', 'vm-1');
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('stamps the finalizer while the webhook is up', async () => {
    expect((await getMigration(system, 'mig-1'))?.metadata.finalizers).toEqual([FINALIZER]);
  });

  it('with the webhook stopped, refuses a user but lets the reconciler write status and remove its finalizer', async () => {
    const webhook = system.state.processes.find((p) => p.name === 'webhook');
    if (!webhook) throw new Error('no webhook process');
    await stopComponent(webhook);

    const spec = userSpecUpdate(system.ns, 'mig-1');
    expect(spec.code).not.toBe(0);
    expect(spec.stderr).toContain('failed calling webhook');
    const finalizer = userFinalizerRemoval(system.ns, 'mig-1');
    expect(finalizer.stderr).toContain('failed calling webhook');
    // The exemption is for updates only: the reconciler's identity cannot create past a dead webhook.
    await expect(
      reconciler.createNamespacedCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        namespace: system.ns,
        plural: 'virtualmachineinstancemigrations',
        body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'mig-2' }, spec: { vmiName: 'vm-2' } },
      }),
    ).rejects.toThrow(/failed calling webhook/);

    await finishAs(reconciler, system.ns, 'mig-1');
    const after = await readMigration(reconciler, system.ns, 'mig-1');
    expect(after.metadata.finalizers ?? []).toEqual([]);
    expect(after.status?.phase).toBe('Failed');
    expect(after.spec.addedNodeSelector).toBeUndefined();
  });
});

describe("chart: the rendered webhook configurations exempt the chart's reconciler ServiceAccount", () => {
  const fullname = 'lmfin';
  let releaseNs: string;
  let ns: string;
  let workDir: string;
  let reconciler: CustomObjectsApi;
  const created: Array<[string, string]> = [];

  beforeAll(async () => {
    releaseNs = createTestNamespace('webhook-fin-release');
    ns = createTestNamespace('webhook-fin-chart');
    workDir = mkdtempSync(join(tmpdir(), 'live-migration-webhook-fin-'));
    // A migration with the finalizer, stored before any webhook applies to its namespace.
    const vmim = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'mig-1', finalizers: [FINALIZER] }, spec: { vmiName: 'vm-1' } };
    expect(kubectl(['create', '-n', ns, '-f', '-'], JSON.stringify(vmim)).stderr).toBe('');

    // The chart's reconciler ServiceAccount, allowed what the reconciler does to VMIMs here.
    const sa = `${fullname}-reconciler`;
    expect(kubectl(['create', 'serviceaccount', sa, '-n', releaseNs]).stderr).toBe('');
    expect(kubectl(['create', 'role', 'vmims', '-n', ns, '--verb=get,patch,create', '--resource=virtualmachineinstancemigrations.kubevirt.io,virtualmachineinstancemigrations.kubevirt.io/status']).stderr).toBe('');
    expect(kubectl(['create', 'rolebinding', 'vmims', '-n', ns, '--role=vmims', `--serviceaccount=${releaseNs}:${sa}`]).stderr).toBe('');
    const token = kubectl(['create', 'token', sa, '-n', releaseNs, '--duration=1h']);
    expect(token.stderr).toBe('');
    const control = readControlPlaneState();
    const kubeconfig = join(workDir, 'reconciler.kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: { server: control.server, 'certificate-authority': control.caCert } }],
        users: [{ name: 'reconciler', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'local', context: { cluster: 'local', user: 'reconciler' } }],
        'current-context': 'local',
      }),
      { mode: 0o600 },
    );
    reconciler = customApi(kubeconfig);

    // The chart's configurations as rendered; their Service does not exist, so the webhook is unreachable.
    const rendered = helm(
      [
        'template', fullname, join(REPO_ROOT, 'charts/live-migration'), '-n', releaseNs,
        '--show-only', 'templates/webhook-configurations.yaml',
        '--set', 'certManager.enabled=true', '--set', `fullnameOverride=${fullname}`, '--set', `kubevirtConfig.namespace=${releaseNs}`,
        '--set-json', `webhook.namespaceSelector=${JSON.stringify({ matchLabels: { 'kubernetes.io/metadata.name': ns } })}`,
      ],
      workDir,
    );
    expect(rendered.stderr).toBe('');
    for (const document of parseAllDocuments(rendered.stdout)) {
      const object = document.toJS() as { kind: string; metadata: { name: string } } | null;
      if (!object) continue;
      expect(object.metadata.name).toBe(`${releaseNs}-${fullname}`);
      expect(kubectl(['apply', '-f', '-'], JSON.stringify(object)).stderr).toBe('');
      created.push([object.kind, object.metadata.name]);
    }
    expect(created.map(([kind]) => kind).sort()).toEqual(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    // The API server picks configurations up asynchronously: wait until a user's update is refused.
    await eventually('the configuration in effect', async () => (userSpecUpdate(ns, 'mig-1', true).stderr.includes('failed calling webhook') ? true : undefined), 30_000);
  });

  afterAll(() => {
    for (const [kind, name] of created) kubectl(['delete', kind, name, '--ignore-not-found']);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("refuses a user's finalizer removal but lets the reconciler write status and remove its finalizer", async () => {
    expect(userFinalizerRemoval(ns, 'mig-1').stderr).toContain('failed calling webhook');
    await finishAs(reconciler, ns, 'mig-1');
    const after = await readMigration(reconciler, ns, 'mig-1');
    expect(after.metadata.finalizers ?? []).toEqual([]);
    expect(after.status?.phase).toBe('Failed');
  });
});
