// The configuration a migration runs under, fixed when it starts (Pending): as the webhook stamped
// it, or — admitted without the webhook — the MigrationPolicy that applies to the VMI now.
import { describe, expect, it } from '@jest/globals';
import { POLICY_ANNOTATION } from '../../../api/migration-configuration.js';
import { KEY, NS, World } from './testing-fakes.js';

function worldWithPolicy(): World {
  const world = new World({ completionTimeoutPerGiB: 800 });
  world.policies.push(
    { metadata: { name: 'db' }, spec: { selectors: { virtualMachineInstanceSelector: { tier: 'db' } }, completionTimeoutPerGiB: 5, bandwidthPerMigration: '1Gi' } },
    { metadata: { name: 'other' }, spec: { selectors: { virtualMachineInstanceSelector: { tier: 'web' } }, completionTimeoutPerGiB: 7 } },
  );
  const vmi = world.addVmi('vmi');
  world.vmis.server.set(`${NS}/vmi`, { ...vmi, metadata: { ...vmi.metadata, labels: { tier: 'db' } } });
  return world;
}

describe('configuration and policy at the start of a migration', () => {
  it('resolves an unstamped migration against the policy that selects its VMI and records the policy name', async () => {
    const world = worldWithPolicy();
    world.addVmim('mig', 'vmi');
    await world.controller().reconcile(KEY);
    const state = world.vmim('mig')?.status?.migrationState;
    expect(state?.migrationPolicyName).toBe('db');
    expect(state?.migrationConfiguration).toMatchObject({ completionTimeoutPerGiB: 5, bandwidthPerMigration: '1Gi', progressTimeout: 150 });
  });

  it('keeps what the webhook stamped, naming the policy from its annotation, whatever applies now', async () => {
    const world = worldWithPolicy();
    const vmim = world.addVmim('mig', 'vmi');
    world.vmims.server.set(`${NS}/mig`, {
      ...vmim,
      metadata: { ...vmim.metadata, annotations: { [POLICY_ANNOTATION]: 'other' } },
      spec: { ...vmim.spec, migrationConfiguration: { completionTimeoutPerGiB: 7 } },
    });
    await world.controller().reconcile(KEY);
    const state = world.vmim('mig')?.status?.migrationState;
    expect(state?.migrationPolicyName).toBe('other');
    expect(state?.migrationConfiguration).toMatchObject({ completionTimeoutPerGiB: 7, bandwidthPerMigration: '64Mi' });
  });

  it('records no policy when none applies', async () => {
    const world = new World();
    world.addVmi('vmi');
    world.addVmim('mig', 'vmi');
    await world.controller().reconcile(KEY);
    const state = world.vmim('mig')?.status?.migrationState;
    expect(state).toBeDefined();
    expect(state).not.toHaveProperty('migrationPolicyName');
  });
});
