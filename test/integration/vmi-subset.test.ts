// The VMI subset at `kubectl apply`: a VMI asking for anything this system cannot run yet is
// refused by the webhook with each field named; one inside the subset is admitted (with a warning
// when it has nothing to boot from), placed and Running.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl, kubectlWithWarnings } from '../setup/environment.js';
import { eventually, getVmi, startTestSystem, type TestSystem } from '../setup/system.js';

let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('vmi-subset', { nodes: 1, webhook: true });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

const apply = (manifest: string) => kubectlWithWarnings(['apply', '-n', system.ns, '-f', '-'], manifest);

describe('kubectl apply of a VMI', () => {
  it('refuses a bridge interface and a containerDisk, naming each field as not supported yet', () => {
    const result = apply(`apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: vm-fedora
spec:
  domain:
    resources: {requests: {memory: 1Gi}}
    devices:
      disks: [{name: root, disk: {bus: virtio}}]
      interfaces: [{name: default, bridge: {}}]
  networks: [{name: default, pod: {}}]
  volumes: [{name: root, containerDisk: {image: quay.io/containerdisks/fedora}}]
`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `admission webhook "validate.vmi.${system.ns.split('-').pop()}.live-migration.io" denied the request: VirtualMachineInstance ${system.ns}/vm-fedora: ` +
        'spec.networks: not supported yet; spec.domain.devices.interfaces: not supported yet; ' +
        'spec.volumes[0].containerDisk: not supported yet (supported volume sources: persistentVolumeClaim, hostDisk, emptyDisk)',
    );
    expect(kubectl(['get', 'vmi', 'vm-fedora', '-n', system.ns]).code).not.toBe(0);
  });

  it('admits a VMI inside the subset, warns that it has nothing to boot from, and it runs', async () => {
    const result = apply(`apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: vm-small
spec:
  terminationGracePeriodSeconds: 5
  domain:
    memory: {guest: 128Mi}
    cpu: {sockets: 1, cores: 1, threads: 1}
    devices: {}
`);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Warning: spec.domain.devices.disks: nothing to boot from (add a disk, or annotation live-migration.io/kernel)');
    const vmi = await eventually('vm-small Running', async () => {
      const v = await getVmi(system, 'vm-small');
      return v.status?.phase === 'Running' ? v : undefined;
    }, 30_000, 100);
    expect(vmi.status?.nodeName).toBe(system.nodes[0]);
  });
});
