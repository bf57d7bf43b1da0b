// The admission webhook as a user meets it: a real API server calls it over TLS, and every
// rejection, mutation and config change is seen through `kubectl apply`.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../hack/control-plane/ports.js';
import { createServingCertificate, httpsRequest, type ServingCertificate } from '../setup/https-client.js';
import { ApiException, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';
import { DEFAULT_SYSTEM_SERVICE_ACCOUNT } from '../../webhook/app.js';
import { reconcilerUpdatesExempt } from '../../webhook/registration.js';

const TEST_LABEL = 'live-migration.test/webhook-admission';
const CONFIG = 'kubevirt-config';
let ns: string;
let configNs: string;
let suffix: string;
let cert: ServingCertificate;
let webhook: ChildProcess;
let port: number;
let logFile: string;
const configurations: Array<[string, string]> = [];

function apply(manifest: string, namespace = ns) {
  return kubectl(['apply', '-n', namespace, '-f', '-'], manifest);
}

function vmimManifest(name: string, vmiName: string | undefined, extraSpec = ''): string {
  return [
    'apiVersion: kubevirt.io/v1',
    'kind: VirtualMachineInstanceMigration',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    ...(vmiName ? [`  vmiName: ${vmiName}`] : []),
    ...(extraSpec ? [extraSpec] : []),
    '',
  ].join('\n');
}

/** Creates a VMI and sets its status the way virt-handler would. */
function createVmi(name: string, status: Record<string, unknown>): void {
  const manifest = `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: ${name}
spec:
  domain:
    devices: {}
    resources: {requests: {memory: 1Gi}}
`;
  expect(apply(manifest).code).toBe(0);
  const patched = kubectl(['patch', 'vmi', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
  expect(patched.stderr).toBe('');
}

const MIGRATABLE = { phase: 'Running', nodeName: 'node01', conditions: [{ type: 'LiveMigratable', status: 'True' }] };

function setConfig(data: Record<string, string>) {
  const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CONFIG, namespace: configNs }, data });
  return kubectl(['apply', '-f', '-'], manifest);
}

interface Vmim {
  metadata: { labels?: Record<string, string>; finalizers?: string[] };
  spec: { migrationConfiguration?: Record<string, unknown> };
}

function readVmim(name: string): Vmim {
  const result = kubectl(['get', 'vmim', name, '-n', ns, '-o', 'json']);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Vmim;
}

/** A server-side dry run of a migration create: the webhooks decide, nothing is stored. */
function dryRunCreate(vmiName: string) {
  return kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], vmimManifest(`probe-${Date.now()}`, vmiName));
}

interface RefusedStatus {
  code: number;
  reason?: string;
  message: string;
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

/** A create through the API as a client library sends it: the HTTP code and the Status body of a refusal. */
async function createRefused(body: Record<string, unknown>): Promise<RefusedStatus> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(readControlPlaneState().kubeconfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    await custom.createNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: ns, plural: 'virtualmachineinstancemigrations', body, dryRun: 'All' });
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const status = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as Omit<RefusedStatus, 'code'>;
    return { ...status, code: error.code };
  }
  throw new Error('the create was admitted');
}

const vmimObject = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec });

/** Polls with kubectl until `done` holds; returns the ms from the start to the answer that held. */
async function msUntil(done: () => boolean, deadlineMs = 15_000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (done()) return Date.now() - start;
    await sleep(20);
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

/**
 * Runs cmd/webhook.ts as its own process, as it runs in a cluster. (In-process would deadlock:
 * the kubectl helper blocks this process's event loop while the API server calls the webhook.)
 */
async function startWebhookProcess(): Promise<void> {
  port = await freePort();
  logFile = join(cert.dir, 'webhook.log');
  const log = openSync(logFile, 'a');
  webhook = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cmd/webhook.ts',
      `--port=${port}`,
      '--host=127.0.0.1',
      `--tls-cert-file=${cert.certFile}`,
      `--tls-key-file=${cert.keyFile}`,
      `--config-namespace=${configNs}`,
      `--config-name=${CONFIG}`,
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, KUBECONFIG: process.env.KUBECONFIG } },
  );
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (webhook.exitCode !== null) throw new Error(`webhook exited with ${webhook.exitCode}; see ${logFile}`);
    const ready = await httpsRequest(`https://127.0.0.1:${port}/readyz`, { ca: cert.caPem, timeoutMs: 1000 }).catch(() => undefined);
    if (ready?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`webhook not ready within 60 s; see ${logFile}`);
}

function registerWebhooks(port: number, caBundle: string): void {
  const url = (path: string) => `https://127.0.0.1:${port}${path}`;
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    timeoutSeconds: 5,
    failurePolicy: 'Fail',
    // Only this file's labelled namespaces; never our own namespace nor kube-system.
    namespaceSelector: {
      matchLabels: { [TEST_LABEL]: suffix },
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'live-migration'] }],
    },
  };
  const vmimRule = (operations: string[]) => ({
    apiGroups: ['kubevirt.io'],
    apiVersions: ['v1', 'v1alpha3'],
    resources: ['virtualmachineinstancemigrations'],
    operations,
    scope: 'Namespaced',
  });
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: `webhook-admission-${suffix}` },
    webhooks: [
      { ...common, name: `mutate.vmim.${suffix}.live-migration.test`, clientConfig: { url: url('/mutate-migration'), caBundle }, rules: [vmimRule(['CREATE'])] },
    ],
  };
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: `webhook-admission-${suffix}` },
    webhooks: [
      {
        ...common,
        name: `validate.vmim.${suffix}.live-migration.test`,
        clientConfig: { url: url('/validate-migration'), caBundle },
        rules: [vmimRule(['CREATE', 'UPDATE'])],
        // As in every registration: the reconciler's own updates never wait on the webhook.
        matchConditions: [reconcilerUpdatesExempt(DEFAULT_SYSTEM_SERVICE_ACCOUNT)],
      },
      {
        ...common,
        name: `validate.config.${suffix}.live-migration.test`,
        clientConfig: { url: url('/validate-config'), caBundle },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }],
        matchConditions: [{ name: 'only-kubevirt-config', expression: `object.metadata.name == '${CONFIG}'` }],
      },
    ],
  };
  for (const configuration of [mutating, validating]) {
    const result = kubectl(['apply', '-f', '-'], JSON.stringify(configuration));
    expect(result.stderr).toBe('');
    configurations.push([configuration.kind, configuration.metadata.name]);
  }
}

beforeAll(async () => {
  ns = createTestNamespace('webhook');
  configNs = createTestNamespace('webhook-config');
  suffix = ns.split('-').pop() as string;
  for (const namespace of [ns, configNs]) expect(kubectl(['label', 'namespace', namespace, `${TEST_LABEL}=${suffix}`]).code).toBe(0);

  cert = createServingCertificate('webhook-admission');
  await startWebhookProcess();
  registerWebhooks(port, Buffer.from(cert.caPem).toString('base64'));
  // The API server picks the configurations up asynchronously; wait until ours answers.
  await msUntil(() => dryRunCreate('vm-none').stderr.includes('feature gate is not enabled'));
});

afterAll(async () => {
  for (const [kind, name] of configurations) kubectl(['delete', kind, name, '--ignore-not-found']);
  if (webhook && webhook.exitCode === null) {
    const exited = new Promise((resolve) => webhook.once('exit', resolve));
    webhook.kill('SIGTERM');
    await exited;
  }
  // The certificate and the webhook's log; the tests have read what they need from it.
  if (cert) rmSync(cert.dir, { recursive: true, force: true });
});

const BASE_MIGRATIONS = 'bandwidthPerMigration: 128Mi\nprogressTimeout: 30\n';

/** The progressTimeout the webhook would stamp now on a migration of `vmiName`, from a server-side dry run. */
function stampedProgressTimeout(vmiName: string): unknown {
  const probe = kubectl(['create', '--dry-run=server', '-o', 'json', '-n', ns, '-f', '-'], vmimManifest(`probe-${Date.now()}`, vmiName));
  return probe.code === 0 ? (JSON.parse(probe.stdout) as Vmim).spec.migrationConfiguration?.progressTimeout : undefined;
}

/** Sets kubevirt-config and waits until the webhook stamps its progressTimeout (the gate on). */
async function configInForce(migrations: string, progressTimeout: number): Promise<void> {
  expect(setConfig({ 'feature-gates': 'LiveMigration', migrations }).stderr).toBe('');
  createVmi('vm-config-probe', MIGRATABLE);
  await msUntil(() => stampedProgressTimeout('vm-config-probe') === progressTimeout);
}

describe('the LiveMigration gate', () => {
  it('refuses a migration while the LiveMigration gate is off, says how to enable it, and turns around with the gate, without a restart', async () => {
    createVmi('vm-gate', MIGRATABLE);
    expect(setConfig({ 'feature-gates': 'Snapshot', migrations: BASE_MIGRATIONS }).stderr).toBe('');
    await msUntil(() => dryRunCreate('vm-gate').stderr.includes('LiveMigration feature gate is not enabled in kubevirt-config'));
    const result = apply(vmimManifest('gate-off', 'vm-gate'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `Error from server (BadRequest): error when creating "STDIN": admission webhook "validate.vmim.${suffix}.live-migration.test" denied the request: ` +
        `LiveMigration feature gate is not enabled in kubevirt-config: cannot migrate VMI ${ns}/vm-gate. ` +
        `To enable it, add LiveMigration to the comma-separated list in data.feature-gates of ConfigMap ${configNs}/${CONFIG}.`,
    );
    expect(setConfig({ 'feature-gates': 'LiveMigration', migrations: BASE_MIGRATIONS }).code).toBe(0);
    await msUntil(() => dryRunCreate('vm-gate').code === 0);
  });
});

describe('admission webhook with the gate on, through kubectl', () => {
  beforeAll(async () => {
    await configInForce(BASE_MIGRATIONS, 30);
  });

  it('admits a migration and stamps label, finalizer and the configuration in force', () => {
    createVmi('vm-ok', MIGRATABLE);
    const result = apply(vmimManifest('mig-ok', 'vm-ok'));
    expect(result.stderr).toBe('');
    const vmim = readVmim('mig-ok');
    expect(vmim.metadata.labels).toEqual({ 'kubevirt.io/vmi-name': 'vm-ok' });
    expect(vmim.metadata.finalizers).toEqual(['kubevirt.io/migrationJobFinalize']);
    expect(vmim.spec.migrationConfiguration).toEqual({
      bandwidthPerMigration: '128Mi',
      completionTimeoutPerGiB: 800,
      progressTimeout: 30,
      allowAutoConverge: false,
      allowPostCopy: false,
      unschedulableTimeout: 300,
      targetReadyTimeout: 300,
      maxDowntimeMs: 900,
    });
  });

  it('refuses a second migration of the same VMI, naming the one in flight', () => {
    createVmi('vm-twice', MIGRATABLE);
    expect(apply(vmimManifest('mig-first', 'vm-twice')).stderr).toBe('');
    const uid = (readVmim('mig-first') as Vmim & { metadata: { uid: string } }).metadata.uid;
    const result = apply(vmimManifest('mig-again', 'vm-twice'));
    expect(result.stderr).toContain(
      `Error from server (BadRequest): error when creating "STDIN": admission webhook "validate.vmim.${suffix}.live-migration.test" denied the request: ` +
        `in-flight migration detected. Active migration job (${uid}) is currently already in progress for VMI vm-twice. ` +
        `It is migration ${ns}/mig-first (phase not started yet) of VMI ${ns}/vm-twice: wait until it ends, or delete it to cancel it.`,
    );
  });

  it('refuses a change of the spec and the removal of the vmi-name label while in flight', () => {
    createVmi('vm-upd', MIGRATABLE);
    expect(apply(vmimManifest('mig-upd', 'vm-upd')).stderr).toBe('');
    // A 422 with causes: kubectl prints "The request is invalid:" and the causes, KubeVirt's text first.
    const changed = apply(vmimManifest('mig-upd', 'vm-upd', '  addedNodeSelector: {zone: b}'));
    expect(changed.stderr).toContain(
      `The request is invalid: spec: update of Migration object's spec is restricted: migration ${ns}/mig-upd of VMI ${ns}/vm-upd runs as it was requested; delete it and create a new one`,
    );
    const unlabelled = kubectl(['label', 'vmim', 'mig-upd', '-n', ns, 'kubevirt.io/vmi-name-']);
    expect(unlabelled.stderr).toBe(
      `The request is invalid: metadata.labels[kubevirt.io/vmi-name]: selector label can't be removed from an in-flight migration: label kubevirt.io/vmi-name=vm-upd of migration ${ns}/mig-upd (VMI ${ns}/vm-upd) stays until the migration has ended\n`,
    );
    const relabelled = kubectl(['label', 'vmim', 'mig-upd', '-n', ns, '--overwrite', 'kubevirt.io/vmi-name=other']);
    expect(relabelled.stderr).toMatch(/^The request is invalid: metadata.labels\[kubevirt.io\/vmi-name\]: selector label can't be modified on an in-flight migration: /);
    expect(readVmim('mig-upd').metadata.labels).toEqual({ 'kubevirt.io/vmi-name': 'vm-upd' });
  });

  it('refuses a VMI that does not exist, is finished, or is not live-migratable (400), and admits one not running or evaluated yet', () => {
    createVmi('vm-done', { phase: 'Succeeded' });
    createVmi('vm-pending', { phase: 'Scheduling' });
    createVmi('vm-rwo', {
      ...MIGRATABLE,
      conditions: [
        {
          type: 'LiveMigratable',
          status: 'False',
          reason: 'DisksNotLiveMigratable',
          message: 'PVC rootdisk is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)',
        },
      ],
    });
    createVmi('vm-new', { phase: 'Running', nodeName: 'node01' });
    const expectations: Array<[string, string]> = [
      ['vm-ghost', `the VMI "${ns}/vm-ghost" does not exist`],
      ['vm-done', `Cannot migrate VMI in finalized state. VMI ${ns}/vm-done has finished (phase Succeeded); only a VMI that has not finished can be migrated.`],
      [
        'vm-rwo',
        `Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: PVC rootdisk is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode) (VMI ${ns}/vm-rwo)`,
      ],
    ];
    for (const [vmi, message] of expectations) {
      const result = apply(vmimManifest(`mig-${vmi}`, vmi));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`Error from server (BadRequest): error when creating "STDIN": admission webhook "validate.vmim.${suffix}.live-migration.test" denied the request: ${message}`);
    }
    // Not running yet, or not yet evaluated: admitted (the reconciler holds the migration until the VMI is ready).
    for (const vmi of ['vm-pending', 'vm-new']) expect(dryRunCreate(vmi)).toMatchObject({ code: 0, stderr: '' });
  });

  it('answers a client library with HTTP 400 for a refusal and 422 Invalid with the field for a bad field, as KubeVirt', async () => {
    createVmi('vm-api', MIGRATABLE);
    expect(await createRefused(vmimObject('api-ghost', { vmiName: 'vm-ghost' }))).toMatchObject({
      code: 400,
      reason: 'BadRequest',
      message: `admission webhook "validate.vmim.${suffix}.live-migration.test" denied the request: the VMI "${ns}/vm-ghost" does not exist`,
    });
    const missing = await createRefused(vmimObject('api-no-vmi', { vmiName: '' }));
    expect(missing).toMatchObject({
      code: 422,
      reason: 'Invalid',
      details: { causes: [{ reason: 'FieldValueRequired', message: 'vmiName is missing', field: 'spec.vmiName' }] },
    });
    expect(missing.message).toMatch(/denied the request: vmiName is missing: /);
    expect(await createRefused(vmimObject('api-prio', { vmiName: 'vm-api', priority: 'system-critical' }))).toMatchObject({
      code: 422,
      reason: 'Invalid',
      details: { causes: [{ reason: 'FieldValueForbidden', message: 'Migration priority queue, only virt-controller is allowed to set priority field', field: 'spec.priority' }] },
    });
  });

  it('refuses a schema violation, a missing vmiName, a user-set priority and bad node selector labels (422, field by field)', () => {
    createVmi('vm-2', MIGRATABLE);
    // kubectl shows a 422's causes, each after its field, as it does for KubeVirt's own answers.
    const cases: Array<[string, string]> = [
      [vmimManifest('bad-timeout', 'vm-2', '  migrationConfiguration: {progressTimeout: 0}'), 'spec.migrationConfiguration.progressTimeout: must be at least 1 (got 0)'],
      [vmimManifest('no-vmi', undefined, '  addedNodeSelector: {zone: a}'), 'spec.vmiName: vmiName is missing'],
      [vmimManifest('prio', 'vm-2', '  priority: system-critical'), 'spec.priority: Migration priority queue, only virt-controller is allowed to set priority field'],
      [vmimManifest('selector', 'vm-2', '  addedNodeSelector: {"-zone": "a b"}'), '* spec.addedNodeSelector[-zone]: key "-zone": '],
    ];
    for (const [manifest, message] of cases) {
      const result = apply(manifest);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/^The request is invalid: /);
      expect(result.stderr).toContain(message);
    }
  });

  it("lets the user's own per-migration values win over the cluster's", () => {
    createVmi('vm-3', MIGRATABLE);
    expect(apply(vmimManifest('mig-own', 'vm-3', '  migrationConfiguration: {progressTimeout: 9, allowPostCopy: true}')).stderr).toBe('');
    expect(readVmim('mig-own').spec.migrationConfiguration).toMatchObject({ progressTimeout: 9, allowPostCopy: true, bandwidthPerMigration: '128Mi' });
  });

  it('refuses a bad kubevirt-config edit with the key and the reason, and keeps the old config in force', () => {
    const storedMigrations = () => (JSON.parse(kubectl(['get', 'configmap', CONFIG, '-n', configNs, '-o', 'json']).stdout) as { data: Record<string, string> }).data.migrations;
    const before = storedMigrations();
    createVmi('vm-4', MIGRATABLE);
    const inForce = stampedProgressTimeout('vm-4');
    const bad = setConfig({ 'feature-gates': 'LiveMigration', migrations: 'progressTimeout: 0\nparallelMigrationsPerCluster: "x"\n' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`denied the request: ConfigMap ${configNs}/${CONFIG} is invalid, the configuration in force is unchanged:`);
    expect(bad.stderr).toContain('data.migrations.progressTimeout: must be at least 1 (got 0)');
    expect(bad.stderr).toContain('data.migrations.parallelMigrationsPerCluster: must be a positive integer (got "x")');
    expect(storedMigrations()).toBe(before);
    expect(apply(vmimManifest('mig-4', 'vm-4')).stderr).toBe('');
    expect(readVmim('mig-4').spec.migrationConfiguration?.progressTimeout).toBe(inForce);
  });

  it('applies a config edit to later migrations only', async () => {
    createVmi('vm-before-edit', MIGRATABLE);
    createVmi('vm-5', MIGRATABLE);
    try {
      await configInForce(BASE_MIGRATIONS, 30);
      expect(apply(vmimManifest('mig-before-edit', 'vm-before-edit')).stderr).toBe('');
      await configInForce('bandwidthPerMigration: 128Mi\nprogressTimeout: 45\n', 45);
      expect(apply(vmimManifest('mig-5', 'vm-5')).stderr).toBe('');
      expect(readVmim('mig-5').spec.migrationConfiguration?.progressTimeout).toBe(45);
      expect(readVmim('mig-before-edit').spec.migrationConfiguration?.progressTimeout).toBe(30);
    } finally {
      await configInForce(BASE_MIGRATIONS, 30);
    }
  });
});

describe('shutdown', () => {
  it('logged every request once as JSON, and drains and exits 0 on SIGTERM', async () => {
    // Requests of its own, whatever the gate: each is logged once, decided or refused.
    const probes = ['log-probe-1', 'log-probe-2', 'log-probe-3'];
    for (const name of probes) kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], vmimManifest(name, 'vm-log'));
    const exited = new Promise<number | null>((resolve) => webhook.once('exit', (code) => resolve(code)));
    webhook.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const admissions = lines.filter((line) => line.msg === 'admission');
    for (const entry of admissions) {
      expect(entry).toMatchObject({ uid: expect.any(String), kind: expect.any(String), namespace: expect.any(String), allowed: expect.any(Boolean), reason: expect.any(String), latencyMs: expect.any(Number) });
    }
    const uids = admissions.map((entry) => `${String(entry.path)} ${String(entry.uid)}`);
    expect(new Set(uids).size).toBe(uids.length);
    for (const name of probes) {
      // Mutating and validating each saw it once (or only the mutating one, if it refused).
      const seen = admissions.filter((entry) => entry.name === name && entry.namespace === ns);
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(new Set(seen.map((entry) => entry.path)).size).toBe(seen.length);
    }
    expect(lines.map((line) => line.msg).slice(-2)).toEqual(['draining', 'stopped']);
  });
});
