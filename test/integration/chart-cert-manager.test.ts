// The chart's cert-manager path on the local control plane: cert-manager's own controller and
// cainjector (built from the Go module proxy by hack/build-binaries.sh with the other control-plane
// binaries, see hack/cert-manager/) run as local processes; `helm install` with certManager.enabled=true gets
// its CA chain and certificates issued, cainjector fills the webhook configurations' caBundle from
// the annotation, and the API server then calls the webhook (a local process serving the issued
// certificate) trusting that CA. Never skipped: the global set-up builds the binaries when missing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART_DIR, REPO_ROOT } from '../../api/generated-files.js';
import { freePort } from '../../hack/control-plane/ports.js';
import { stopComponent, type ComponentProcess } from '../../hack/system/local-system.js';
import { createTestNamespace, helm as runHelm, kubectl, readControlPlaneState } from '../setup/environment.js';
import { eventually } from '../setup/system.js';

const control = readControlPlaneState();
const CACHE = process.env.LIVE_MIGRATION_CACHE ?? join(homedir(), '.cache', 'live-migration');
const VERSION = /^CERT_MANAGER_VERSION=(\S+)$/m.exec(readFileSync(join(REPO_ROOT, 'hack/versions.env'), 'utf8'))?.[1] ?? '';
const binary = (name: string) => join(CACHE, 'bin', name);
const built = (name: string) => existsSync(binary(name)) && existsSync(`${binary(name)}.version`) && readFileSync(`${binary(name)}.version`, 'utf8').trim() === VERSION;
const CRDS = join(CACHE, `cert-manager-crds-${VERSION}`);

let workDir = '';
const processes: ComponentProcess[] = [];
let releaseNs = '';
let vmNs = '';
let release = '';
let fullname = '';
let webhookPort = 0;
/** The node the release runs an agent on (set explicitly: other test files' Nodes share the API server). */
const AGENT_NODE = 'cm-worker-1';
let installed = false;

function helm(args: string[]) {
  return runHelm(args, workDir);
}

function startProcess(name: string, command: string, args: string[], env: Record<string, string> = {}): ComponentProcess {
  const logFile = join(workDir, `${name}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', log, log], env: { ...process.env, KUBECONFIG: control.kubeconfig, ...env } });
  child.unref();
  const component = { name, pid: child.pid ?? 0, logFile, port: 0 };
  processes.push(component);
  return component;
}

function jsonpath(args: string[], path: string): string {
  return kubectl([...args, '-o', `jsonpath=${path}`]).stdout;
}

function secretFile(secret: string, key: string): string {
  const file = join(workDir, `${secret}-${key}`);
  writeFileSync(file, Buffer.from(jsonpath(['get', 'secret', secret, '-n', releaseNs], `{.data.${key.replace('.', '\\.')}}`), 'base64'), { mode: 0o600 });
  return file;
}

beforeAll(() => {
  // A missing build is a failure, not a skip: every run proves the chart's certificates.
  for (const name of ['cert-manager-controller', 'cert-manager-cainjector']) expect({ name, built: built(name) }).toEqual({ name, built: true });
  expect(existsSync(CRDS)).toBe(true);
  workDir = mkdtempSync(join(tmpdir(), 'live-migration-chart-cm-'));
  releaseNs = createTestNamespace('chart-cm');
  vmNs = createTestNamespace('chart-cm-vms');
  release = `cm-${releaseNs.split('-').pop()}`;
  fullname = `${release}-live-migration`;
  expect(kubectl(['apply', '--server-side', '-f', CRDS]).code).toBe(0);
  for (const crd of ['certificates.cert-manager.io', 'issuers.cert-manager.io', 'certificaterequests.cert-manager.io']) {
    expect(kubectl(['wait', '--for=condition=Established', `crd/${crd}`, '--timeout=30s']).code).toBe(0);
  }
  startProcess('cert-manager-controller', binary('cert-manager-controller'), [`--namespace=${releaseNs}`]);
  startProcess('cert-manager-cainjector', binary('cert-manager-cainjector'), []);
}, 60_000);

afterAll(async () => {
  if (installed) helm(['uninstall', release, '-n', releaseNs]);
  for (const p of processes) await stopComponent(p);
  if (releaseNs) {
    // cert-manager's Secrets are not part of the release (see the chart README).
    kubectl(['delete', 'secret', '-n', releaseNs, '-l', 'controller.cert-manager.io/fao=true', '--ignore-not-found']);
    kubectl(['delete', 'secret', '-n', releaseNs, `${fullname}-ca`, `${fullname}-webhook-tls`, `${fullname}-agent-${AGENT_NODE}-tls`, `${fullname}-reconciler-tls`, `${fullname}-node-migration-ca`, '--ignore-not-found']);
    kubectl(['delete', 'certificaterequests', '--all', '-n', releaseNs, '--ignore-not-found']);
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 60_000);

describe('the chart with cert-manager', () => {
  it('gets its certificates issued through the CA chain, the CA injected into the webhook configurations, and the API server calls the webhook trusting it', async () => {
    webhookPort = await freePort();
    const values = join(workDir, 'values.json');
    writeFileSync(values, JSON.stringify({
      certManager: { enabled: true },
      kubevirtConfig: { namespace: releaseNs },
      agent: { nodes: [AGENT_NODE] },
      webhook: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': vmNs } }, service: { externalName: 'localhost', port: webhookPort }, timeoutSeconds: 5 },
    }));
    const install = helm(['install', release, CHART_DIR, '-n', releaseNs, '--skip-crds', '-f', values]);
    expect(install.stderr).toBe('');
    installed = true;

    for (const certificate of ['ca', 'webhook', `agent-${AGENT_NODE}`, 'reconciler-client', 'node-migration-ca']) {
      await eventually(`Certificate ${fullname}-${certificate} Ready (logs in ${workDir})`, async () =>
        jsonpath(['get', 'certificate', `${fullname}-${certificate}`, '-n', releaseNs], '{.status.conditions[?(@.type=="Ready")].status}') === 'True' ? true : undefined,
      60_000, 500);
    }
    const ca = jsonpath(['get', 'secret', `${fullname}-ca`, '-n', releaseNs], '{.data.tls\\.crt}');
    expect(ca).not.toBe('');
    // Every leaf is signed by the chart's CA (its ca.crt is the CA certificate).
    for (const secret of ['webhook-tls', `agent-${AGENT_NODE}-tls`, 'reconciler-tls']) {
      expect(jsonpath(['get', 'secret', `${fullname}-${secret}`, '-n', releaseNs], '{.data.ca\\.crt}')).toBe(ca);
    }
    // The nodes' migration CA (the reconciler's signer signs with it) is a CA of its own.
    const nodeCa = new X509Certificate(readFileSync(secretFile(`${fullname}-node-migration-ca`, 'tls.crt')));
    expect(nodeCa.ca).toBe(true);
    expect(jsonpath(['get', 'secret', `${fullname}-node-migration-ca`, '-n', releaseNs], '{.data.tls\\.crt}')).not.toBe(ca);
    const reconcilerSubject = execFileSync('openssl', ['x509', '-noout', '-subject', '-in', secretFile(`${fullname}-reconciler-tls`, 'tls.crt')], { encoding: 'utf8' });
    expect(reconcilerSubject).toContain('CN = live-migration-reconciler');
    // The agent's certificate names its node and nothing else: the identity the reconciler checks.
    const agentNames = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', secretFile(`${fullname}-agent-${AGENT_NODE}-tls`, 'tls.crt')], { encoding: 'utf8' });
    expect(agentNames.split('\n').slice(1).join('').trim()).toBe(`DNS:${AGENT_NODE}.agent.live-migration.io`);

    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      await eventually(`${kind} caBundle injected`, async () => {
        const bundles = jsonpath(['get', kind, `${releaseNs}-${fullname}`], '{.webhooks[*].clientConfig.caBundle}').split(' ').filter(Boolean);
        return bundles.length > 0 && bundles.every((b) => b === ca) ? true : undefined;
      }, 60_000, 500).catch((error: unknown) => {
        throw new Error(`${String(error)}\ncainjector log:\n${readFileSync(join(workDir, 'cert-manager-cainjector.log'), 'utf8').slice(-4000)}`);
      });
    }

    // The webhook serves the certificate cert-manager issued; the API server must trust it through
    // the injected caBundle, or every request fails (failurePolicy Fail) with a TLS error instead.
    const webhook = startProcess('webhook', process.execPath, [
      '--import', 'tsx', join(REPO_ROOT, 'cmd/webhook.ts'),
      `--port=${webhookPort}`, '--host=127.0.0.1',
      `--tls-cert-file=${secretFile(`${fullname}-webhook-tls`, 'tls.crt')}`,
      `--tls-key-file=${secretFile(`${fullname}-webhook-tls`, 'tls.key')}`,
      `--config-namespace=${releaseNs}`, '--config-name=kubevirt-config',
    ]);
    const caPem = Buffer.from(ca, 'base64');
    await eventually(`webhook ready (${webhook.logFile})`, () => new Promise<true | undefined>((resolve) => {
      const req = request({ host: '127.0.0.1', port: webhookPort, path: '/readyz', ca: caPem, servername: `${fullname}-webhook.${releaseNs}.svc`, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? true : undefined);
      });
      req.on('error', () => resolve(undefined));
      req.end();
    }), 60_000, 250);
    const manifest = JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'to-nowhere', namespace: vmNs }, spec: { vmiName: 'no-such-vmi' } });
    const refused = kubectl(['apply', '-f', '-'], manifest);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/admission webhook "validate\.vmim\..*" denied the request: the VMI ".*\/no-such-vmi" does not exist/);
    expect(refused.stderr).not.toMatch(/x509|certificate/);
  }, 180_000);
});
