// The kubevirt.io API objects on a real API server, driven with kubectl as a user would.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { DEPRECATED_VERSIONS } from '../../api/crds.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';

let ns: string;

beforeAll(() => {
  ns = createTestNamespace('api-objects');
});

function apply(manifest: string) {
  return kubectl(['apply', '-n', ns, '-f', '-'], manifest);
}

/** kubectl apply, keeping what it prints on stderr when it succeeds (warnings) too. */
function applyShowingWarnings(manifest: string) {
  const state = readControlPlaneState();
  const result = spawnSync(state.binaries.kubectl, ['--kubeconfig', state.kubeconfig, 'apply', '-n', ns, '-f', '-'], { input: manifest, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A GET straight to the API server as the admin: status and the response's Warning headers. */
function rawGet(path: string): Promise<{ status: number; warnings: string[] }> {
  const state = readControlPlaneState();
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, state.server),
      { ca: readFileSync(state.caCert), cert: readFileSync(state.adminCert), key: readFileSync(state.adminKey), agent: false },
      (res) => {
        res.resume();
        res.on('end', () => {
          const header = res.headers.warning;
          resolve({ status: res.statusCode ?? 0, warnings: header === undefined ? [] : [header].flat() });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const V1ALPHA3_WARNING = 'kubevirt.io/v1alpha3 is now deprecated and will be removed in a future release.';

// The seed's example, verbatim.
const SEED_VMIM = `apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: migration-job
spec:
  vmiName: vmi-fedora
`;

describe('VirtualMachineInstanceMigration', () => {
  it('applies the seed example as v1alpha3, warned as KubeVirt warns, and reads it back as kubevirt.io/v1', () => {
    expect(DEPRECATED_VERSIONS.v1alpha3).toBe(V1ALPHA3_WARNING);
    const applied = applyShowingWarnings(SEED_VMIM);
    expect(applied).toMatchObject({ code: 0, stderr: `Warning: ${V1ALPHA3_WARNING}\n` });
    expect(applied.stdout).toContain('virtualmachineinstancemigration.kubevirt.io/migration-job created');
    const read = kubectl(['get', 'vmim', 'migration-job', '-n', ns, '-o', 'json']);
    const object = JSON.parse(read.stdout) as { apiVersion: string; spec: { vmiName: string } };
    expect(object.apiVersion).toBe('kubevirt.io/v1');
    expect(object.spec.vmiName).toBe('vmi-fedora');
  });

  it('answers a v1alpha3 request with the deprecation Warning header, and v1 without one', async () => {
    const path = `/apis/kubevirt.io/%s/namespaces/${ns}/virtualmachineinstancemigrations`;
    expect(await rawGet(path.replace('%s', 'v1alpha3'))).toEqual({ status: 200, warnings: [`299 - "${V1ALPHA3_WARNING}"`] });
    expect(await rawGet(path.replace('%s', 'v1'))).toEqual({ status: 200, warnings: [] });
  });

  it('is served under its short names vmim and vmims, and in category all', () => {
    for (const resource of ['vmim', 'vmims', 'all']) {
      const names = kubectl(['get', resource, '-n', ns, '-o', 'name']);
      expect({ resource, stderr: names.stderr }).toEqual({ resource, stderr: '' });
      expect(names.stdout).toContain('virtualmachineinstancemigration.kubevirt.io/migration-job');
    }
  });

  it('shows phase, VMI, source, target, progress and age columns', () => {
    apply(SEED_VMIM.replace('migration-job', 'with-status'));
    const status = {
      status: { phase: 'Running', migrationState: { sourceNode: 'node02', targetNode: 'node01' }, progress: { percent: 42 } },
    };
    const patched = kubectl(['patch', 'vmim', 'with-status', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
    expect(patched.stderr).toBe('');
    const table = kubectl(['get', 'vmim', 'with-status', '-n', ns]).stdout.split('\n');
    expect(table[0]?.split(/\s+/).filter(Boolean)).toEqual(['NAME', 'PHASE', 'VMI', 'SOURCE', 'TARGET', 'PROGRESS', 'AGE']);
    expect(table[1]?.split(/\s+/).slice(0, 6)).toEqual(['with-status', 'Running', 'vmi-fedora', 'node02', 'node01', '42']);
  });

  it('rejects a migration without spec.vmiName, naming the field', () => {
    const result = apply(SEED_VMIM.replace('  vmiName: vmi-fedora\n', '  addedNodeSelector: {zone: a}\n').replace('migration-job', 'no-name'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('spec.vmiName: Required value');
  });

  it('rejects a wrong type in spec.vmiName, naming the field', () => {
    const result = apply(SEED_VMIM.replace('vmiName: vmi-fedora', 'vmiName: 42').replace('migration-job', 'bad-type'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/spec\.vmiName: Invalid value: "integer": spec\.vmiName in body must be of type string/);
  });

  it('rejects an out-of-range per-migration setting and an unknown one', () => {
    const zero = apply(SEED_VMIM.replace('migration-job', 'zero').concat('  migrationConfiguration:\n    progressTimeout: 0\n'));
    expect(zero.stderr).toContain('spec.migrationConfiguration.progressTimeout: Invalid value: 0');
    const unknown = apply(SEED_VMIM.replace('migration-job', 'unknown').concat('  migrationConfiguration:\n    progresTimeout: 10\n'));
    expect(unknown.stderr).toContain('unknown field "spec.migrationConfiguration.progresTimeout"');
  });

  it('refuses a quantity beyond the bounds (exponent, length) by the CRD schema alone, and takes one within', () => {
    const huge = apply(SEED_VMIM.replace('migration-job', 'huge').concat('  migrationConfiguration:\n    bandwidthPerMigration: "1e300000000"\n'));
    expect(huge.code).not.toBe(0);
    expect(huge.stderr).toContain('spec.migrationConfiguration.bandwidthPerMigration: Invalid value: "1e300000000"');
    const long = apply(SEED_VMIM.replace('migration-job', 'long').concat(`  migrationConfiguration:\n    bandwidthPerMigration: "${'0'.repeat(63)}1Mi"\n`));
    expect(long.stderr).toContain('spec.migrationConfiguration.bandwidthPerMigration: Too long: may not be');
    const within = apply(SEED_VMIM.replace('migration-job', 'within').concat('  migrationConfiguration:\n    bandwidthPerMigration: "64e6"\n    maxDowntimeMs: 300\n'));
    expect(within.stderr).toBe('');
    kubectl(['delete', 'vmim', 'within', '-n', ns]);
  });

  it('explains spec.vmiName', () => {
    const result = kubectl(['explain', 'vmim.spec.vmiName']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Name of the VirtualMachineInstance to migrate');
  });
});

describe('VirtualMachineInstance', () => {
  it("shows KubeVirt's columns: age, phase, IP, node name, ready; live-migratable and paused with -o wide", () => {
    const vmi = `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: vmi-fedora
spec:
  domain:
    devices: {}
    resources: {requests: {memory: 1Gi}}
  volumes:
  - name: root
    containerDisk: {image: quay.io/containerdisks/fedora}
`;
    expect(apply(vmi).code).toBe(0);
    const status = {
      status: {
        phase: 'Running',
        nodeName: 'node02',
        interfaces: [{ name: 'default', ipAddress: '10.244.1.7' }],
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'LiveMigratable', status: 'False' },
        ],
      },
    };
    expect(kubectl(['patch', 'vmi', 'vmi-fedora', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]).code).toBe(0);
    const words = (line: string | undefined) => line?.split(/\s+/).filter(Boolean);
    const table = kubectl(['get', 'vmi', 'vmi-fedora', '-n', ns]).stdout.split('\n');
    expect(words(table[0])).toEqual(['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY']);
    expect(words(table[1])?.filter((_, i) => i !== 1)).toEqual(['vmi-fedora', 'Running', '10.244.1.7', 'node02', 'True']);
    const wide = kubectl(['get', 'vmi', 'vmi-fedora', '-n', ns, '-o', 'wide']).stdout.split('\n');
    expect(words(wide[0])).toEqual(['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY', 'LIVE-MIGRATABLE', 'PAUSED']);
    expect(words(wide[1])?.slice(2)).toEqual(['Running', '10.244.1.7', 'node02', 'True', 'False']);
  });

  it('is served under its short names vmi and vmis, and in category all', () => {
    for (const resource of ['vmi', 'vmis', 'all']) {
      const names = kubectl(['get', resource, '-n', ns, '-o', 'name']);
      expect({ resource, stderr: names.stderr }).toEqual({ resource, stderr: '' });
      expect(names.stdout).toContain('virtualmachineinstance.kubevirt.io/vmi-fedora');
    }
  });

  it('keeps spec fields it does not model (the domain) as given', () => {
    const read = JSON.parse(kubectl(['get', 'vmi', 'vmi-fedora', '-n', ns, '-o', 'json']).stdout) as {
      spec: { domain: { resources: { requests: { memory: string } } } };
    };
    expect(read.spec.domain.resources.requests.memory).toBe('1Gi');
  });
});
