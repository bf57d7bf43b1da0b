// The kubevirt.io API objects on a real API server, driven with kubectl as a user would.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createTestNamespace, kubectl } from '../setup/environment.js';

let ns: string;

beforeAll(() => {
  ns = createTestNamespace('api-objects');
});

function apply(manifest: string) {
  return kubectl(['apply', '-n', ns, '-f', '-'], manifest);
}

// The seed's example, verbatim.
const SEED_VMIM = `apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: migration-job
spec:
  vmiName: vmi-fedora
`;

describe('VirtualMachineInstanceMigration', () => {
  it('applies the seed example as v1alpha3 and reads it back as kubevirt.io/v1', () => {
    const applied = apply(SEED_VMIM);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('virtualmachineinstancemigration.kubevirt.io/migration-job created');
    const read = kubectl(['get', 'vmim', 'migration-job', '-n', ns, '-o', 'json']);
    const object = JSON.parse(read.stdout) as { apiVersion: string; spec: { vmiName: string } };
    expect(object.apiVersion).toBe('kubevirt.io/v1');
    expect(object.spec.vmiName).toBe('vmi-fedora');
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
  it('shows phase, node, live-migratable, method and age columns', () => {
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
        migrationMethod: 'BlockMigration',
        conditions: [{ type: 'LiveMigratable', status: 'True' }],
      },
    };
    expect(kubectl(['patch', 'vmi', 'vmi-fedora', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]).code).toBe(0);
    const table = kubectl(['get', 'vmi', 'vmi-fedora', '-n', ns]).stdout.split('\n');
    expect(table[0]?.split(/\s+/).filter(Boolean)).toEqual(['NAME', 'PHASE', 'NODE', 'LIVE-MIGRATABLE', 'METHOD', 'AGE']);
    expect(table[1]?.split(/\s+/).slice(0, 5)).toEqual(['vmi-fedora', 'Running', 'node02', 'True', 'BlockMigration']);
  });

  it('keeps spec fields it does not model (the domain) as given', () => {
    const read = JSON.parse(kubectl(['get', 'vmi', 'vmi-fedora', '-n', ns, '-o', 'json']).stdout) as {
      spec: { domain: { resources: { requests: { memory: string } } } };
    };
    expect(read.spec.domain.resources.requests.memory).toBe('1Gi');
  });
});
