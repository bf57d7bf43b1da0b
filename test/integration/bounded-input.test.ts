// `1e300000000` (a quantity whose exact value has 300 million digits) where a user can write one —
// a VMI's memory, a VMIM's setting, kubevirt-config — is refused at the API server or the webhook,
// naming the field, and the components that would have parsed it keep answering (issue 11).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl } from '../setup/environment.js';
import { createRunningVmi, startTestSystem, type TestSystem } from '../setup/system.js';

const HUGE = '1e300000000';
let system: TestSystem;

beforeAll(async () => {
  system = await startTestSystem('bounded', { nodes: 2, webhook: true });
  await createRunningVmi(system, 'vm', { node: system.nodes[0] ?? '' });
}, 180_000);

afterAll(async () => {
  await system?.stop();
});

const apply = (object: Record<string, unknown>) => kubectl(['apply', '-n', system.ns, '-f', '-'], JSON.stringify(object));

function vmi(name: string, domain: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: { domain: { devices: {}, ...domain } } };
}

async function healthy(component: string): Promise<number> {
  const port = system.state.processes.find((p) => p.name.startsWith(component))?.port;
  return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
}

describe('a quantity with a huge exponent', () => {
  it.each([
    ['spec.domain.resources.requests.memory', { resources: { requests: { memory: HUGE } } }],
    ['spec.domain.resources.limits.memory', { resources: { limits: { memory: HUGE } } }],
    ['spec.domain.memory.guest', { memory: { guest: HUGE } }],
  ])('in a VMI’s %s is refused by the API server naming the field', (field, domain) => {
    const result = apply(vmi('vm-huge', domain));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${field}: Invalid value: "${HUGE}"`);
    const tooLong = apply(vmi('vm-long', { resources: { requests: { memory: `${'9'.repeat(65)}` } } }));
    expect(tooLong.stderr).toContain('spec.domain.resources.requests.memory: Too long');
  });

  it('in a VMIM’s spec.migrationConfiguration is refused naming the field', () => {
    const result = apply({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceMigration',
      metadata: { name: 'huge' },
      spec: { vmiName: 'vm', migrationConfiguration: { bandwidthPerMigration: HUGE } },
    });
    expect(result.code).toBe(1);
    // The mutating webhook answers first (without it the CRD's pattern refuses it: api-objects.test.ts).
    expect(result.stderr).toContain(`spec.migrationConfiguration.bandwidthPerMigration: must be a non-negative Kubernetes quantity such as 64Mi or 1Gi (got "${HUGE}")`);
  });

  it('in kubevirt-config is refused by the webhook naming the key, and the stored configuration stays', () => {
    const before = kubectl(['get', 'configmap', 'kubevirt-config', '-n', system.ns, '-o', 'jsonpath={.data.migrations}']).stdout;
    for (const value of [`"${HUGE}"`, HUGE]) {
      const result = apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubevirt-config' }, data: { 'feature-gates': 'LiveMigration', migrations: `bandwidthPerMigration: ${value}` } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('migrations.bandwidthPerMigration: must be a non-negative Kubernetes quantity');
    }
    expect(kubectl(['get', 'configmap', 'kubevirt-config', '-n', system.ns, '-o', 'jsonpath={.data.migrations}']).stdout).toBe(before);
  });

  it('leaves the reconciler and the agent answering (the webhook answered the refusals above)', async () => {
    expect(await healthy('reconciler')).toBe(200);
    expect(await healthy('agent')).toBe(200);
  });
});
