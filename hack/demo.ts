// `npm run demo` (hack/dev up): the whole system on a local control plane, then the seed's story
// told through kubectl — a migration with live progress, and one the webhook rejects with its reason.
// On a machine that can run the two libvirt test hosts (root, libvirt + QEMU, network namespaces) a
// real guest boots and migrates (demo/real-hosts.ts); elsewhere simulated nodes (demo/simulated.ts).
// LIVE_MIGRATION_DEMO=simulation|qemu forces one.
import { readMachineFacts } from './demo/machine.js';
import { chooseDemo } from './demo/mode.js';
import { realHostsDemo } from './demo/real-hosts.js';
import { simulatedDemo } from './demo/simulated.js';

try {
  const choice = chooseDemo(readMachineFacts());
  console.log(`Demo on ${choice.why}`);
  process.exit(choice.mode === 'qemu' ? await realHostsDemo() : await simulatedDemo());
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  console.error('What did start keeps running; stop it with: hack/dev down');
  process.exit(1);
}
