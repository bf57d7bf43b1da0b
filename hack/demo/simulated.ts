// The demo on simulated nodes (any machine): the demo plays KubeVirt's virt-handler for its VMIs —
// it creates them and reports them Running on a simulated node, whose driver moves their memory at
// the configured cap. No hypervisor involved.
import { upLocalEnvironment } from '../local/environment.js';
import { closing, customApi, freshNamespace, kubectl, migrateWithProgress, NS, reportedRunningVmi, rwoRefusal, say, show, waitEvaluated } from './story.js';

/** Tells the story; resolves with the exit code (0: migrated, and the RWO migration refused). */
export async function simulatedDemo(): Promise<number> {
  const started = Date.now();
  say('Starting the local control plane, the webhook, the reconciler and 3 simulated nodes');
  const { env, reused } = await upLocalEnvironment({ nodes: 3 });
  console.log(reused ? 'Already running; reusing it.' : `Up in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  show('kubectl get nodes', kubectl(['get', 'nodes']));

  const custom = customApi();
  freshNamespace();
  const source = env.system?.options.nodes[0]?.name ?? 'node-01';
  say(`A VMI with 1 GiB of memory and a containerDisk runs on ${source} (the demo reports it Running)`);
  await reportedRunningVmi(
    custom,
    'vmi-fedora',
    source,
    { domain: { resources: { requests: { memory: '1Gi' } }, devices: {} }, volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora' } }] },
    { 'simulation.live-migration.io/dirty-rate': '8Mi' },
  );
  await waitEvaluated(custom, 'vmi-fedora');
  show(`kubectl get vmi -n ${NS}`, kubectl(['get', 'vmi', '-n', NS]));

  say("Migrating it with the seed's VirtualMachineInstanceMigration (64Mi/s cap from kubevirt-config)");
  const final = await migrateWithProgress(custom, 'migration-job', 'vmi-fedora');
  show(`kubectl get vmi -n ${NS}`, kubectl(['get', 'vmi', '-n', NS]));

  const rejected = await rwoRefusal(custom, source);
  closing();
  return final.status?.phase === 'Succeeded' && rejected.code !== 0 ? 0 : 1;
}
