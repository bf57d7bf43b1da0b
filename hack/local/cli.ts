// `npm run local -- up [--nodes N] | down | status`: the whole system on a local control plane —
// kube-apiserver + etcd, the webhook, the reconciler and N simulated nodes with their agent.
import { parseArgs } from 'node:util';
import { downLocalEnvironment, isRunning, KUBECONFIG, readLocalEnvironment, upLocalEnvironment } from './environment.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { nodes: { type: 'string' } } });

async function up(): Promise<void> {
  const nodes = Number(values.nodes ?? 3);
  if (!Number.isInteger(nodes) || nodes < 0 || nodes > 500) throw new Error('--nodes must be a whole number from 0 to 500');
  const { env, reused } = await upLocalEnvironment({ nodes });
  const cp = env.controlPlane;
  if (reused) console.log(`Already up at ${cp.server}.`);
  else console.log(`Local control plane up at ${cp.server} in ${(cp.timings.totalMs / 1000).toFixed(1)} s.`);
  if (env.system) {
    console.log(`Running: ${env.system.processes.map((p) => p.name).join(', ')}; simulated nodes: ${env.system.options.nodes.map((n) => n.name).join(', ')}.`);
    console.log('kubevirt/kubevirt-config enables LiveMigration. Logs: .local/logs/');
  }
  console.log(`\nexport KUBECONFIG=${KUBECONFIG}\n`);
  console.log('Then try: kubectl get nodes; kubectl get vmi,vmim -A    Demo: npm run demo    Stop: npm run local -- down');
}

async function down(): Promise<void> {
  console.log((await downLocalEnvironment()) ? 'Stopped.' : 'Nothing is running.');
}

function status(): void {
  const env = readLocalEnvironment();
  if (!env) console.log('down');
  else console.log(isRunning(env) ? `up at ${env.controlPlane.server} (KUBECONFIG=${KUBECONFIG})` : 'partly down: run `npm run local -- down`');
}

const commands: Record<string, () => Promise<void> | void> = { up, down, status };
const run = commands[positionals[0] ?? ''];
if (!run) {
  console.error('usage: npm run local -- up [--nodes N] | down | status');
  process.exit(2);
}
try {
  await run();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
