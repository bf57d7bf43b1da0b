// The demo on real QEMU (root, libvirt and QEMU from hack/install-test-hosts.sh): the two libvirt
// test hosts as nodes, a libvirt agent each. A VMI applied with kubectl is placed by the reconciler
// and booted by that node's agent; its serial console counts; a migration moves it live to the
// other host, where the console counts on (same guest, no boot); then the RWO refusal.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../api/generated-files.js';
import { phaseStamps } from '../../api/vmi-status.js';
import { consolePath, guestImage, heartbeats, readConsole, waitForHeartbeat } from '../../test/hosts/index.js';
import { KUBECONFIG, upLocalEnvironment, type LocalEnvironment } from '../local/environment.js';
import { hostOfNode } from '../local/real-hosts.js';
import { closing, customApi, freshNamespace, getVmi, kubectl, migrateWithProgress, NS, rwoRefusal, say, show, waitFor } from './story.js';

const VMI = 'vm-demo';
const DOMAIN = `${NS}_${VMI}`;
const PLUGIN = join(REPO_ROOT, 'cli', 'bin', 'kubectl-migrate.js');

function vmiYaml(): string {
  const image = guestImage();
  // 160 MiB of the guest's memory filled with data, so the progress bar has something to show.
  return `apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: ${VMI}
  annotations:
    live-migration.io/kernel: ${image.kernel}
    live-migration.io/initrd: ${image.initrd}
    live-migration.io/kernel-args: console=ttyS0 panic=-1 quiet acpi=off lm.fill_mib=160 lm.dirty=0
spec:
  terminationGracePeriodSeconds: 3
  domain:
    memory: {guest: 256Mi}
    devices: {}
`;
}

/** What a user exports to run `kubectl migrate console`: a client certificate the agents allow (the reconciler's, locally). */
function consoleEnv(env: LocalEnvironment): Record<string, string> {
  const pki = env.system?.pki;
  if (!pki) throw new Error('the local system has no PKI');
  return { KUBECONFIG, LIVE_MIGRATION_AGENT_CERT: pki.reconcilerCert, LIVE_MIGRATION_AGENT_KEY: pki.reconcilerKey, LIVE_MIGRATION_AGENT_CA: pki.caCert };
}

function consoleOf(env: LocalEnvironment): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [PLUGIN, 'console', VMI, '-n', NS], { env: { ...process.env, ...consoleEnv(env) }, timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`kubectl migrate console: ${stderr.trim() || String(error)}`)) : resolve(stdout),
    );
  });
}

/** The console as the user sees it, shortened: its first lines and its last. */
function showConsole(text: string, head: number, tail: number): void {
  const lines = text.trimEnd().split('\n');
  console.log(`$ kubectl migrate console ${VMI} -n ${NS}`);
  if (lines.length <= head + tail) console.log(lines.join('\n'));
  else console.log([...lines.slice(0, head), `  … ${lines.length - head - tail} lines …`, ...lines.slice(-tail)].join('\n'));
}

async function nodeOf(env: LocalEnvironment, custom: ReturnType<typeof customApi>): Promise<{ node: string; host: NonNullable<ReturnType<typeof hostOfNode>> }> {
  const node = (await getVmi(custom, VMI)).status?.nodeName ?? '';
  const host = env.hosts ? hostOfNode(env.hosts, node) : undefined;
  if (!host) throw new Error(`${VMI} is on ${node || 'no node'}, not one of the libvirt hosts`);
  return { node, host };
}

/** Tells the story; resolves with the exit code (0: migrated with the count going on, and the RWO migration refused). */
export async function realHostsDemo(): Promise<number> {
  const started = Date.now();
  say('Starting the local control plane, the webhook, the reconciler, two libvirt hosts (network namespaces, libvirtd with TLS, QEMU/TCG) and a libvirt agent each');
  const { env, reused } = await upLocalEnvironment({ nodes: 0, realHosts: true });
  console.log(reused ? 'Already running; reusing it.' : `Up in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  show('kubectl get nodes', kubectl(['get', 'nodes']));

  const custom = customApi();
  freshNamespace();
  // An earlier run's guest is shut down (the finalizer waits for its node) before this one boots.
  kubectl(['delete', 'vmi', '--all', '-n', NS, '--wait=true', '--timeout=120s']);
  // Its console files too: libvirt appends to them, and this story starts with a fresh boot.
  for (const host of env.hosts?.hosts ?? []) rmSync(consolePath(host, DOMAIN), { force: true });

  say('A VMI applied with kubectl: the reconciler places it, that node\'s agent boots the test guest (kernel + initrd, 256 MiB, TCG)');
  console.log(vmiYaml().trimEnd());
  show(`kubectl apply -n ${NS} -f ${VMI}.yaml`, kubectl(['apply', '-n', NS, '-f', '-'], vmiYaml()));
  const running = await waitFor(`${VMI} Running`, async () => {
    const vmi = await getVmi(custom, VMI);
    return vmi.status?.phase === 'Running' ? vmi : undefined;
  }, 180_000);
  console.log(`Phases: ${phaseStamps(running).map((t) => t.phase).join(' → ')}`);
  show(`kubectl get vmi -n ${NS} -o wide`, kubectl(['get', 'vmi', '-n', NS, '-o', 'wide']));

  const source = await nodeOf(env, custom);
  say(`Its serial console on ${source.node}, read through that node's agent: the guest boots, fills memory and counts`);
  const before = await waitForHeartbeat(source.host, DOMAIN, 2, 300_000);
  showConsole(await consoleOf(env), 1, 3);

  say(`Migrating it live to the other host with the seed's VirtualMachineInstanceMigration`);
  const final = await migrateWithProgress(custom, 'migration-job', VMI);
  show(`kubectl get vmi -n ${NS} -o wide`, kubectl(['get', 'vmi', '-n', NS, '-o', 'wide']));

  const target = await nodeOf(env, custom);
  // The source host's console file ends where the guest left it.
  const last = Math.max(before, ...heartbeats(readConsole(source.host, DOMAIN)));
  say(`The console on ${target.node}: the same guest counting on from ${source.node}'s last heartbeat ${last}, never rebooted`);
  await waitForHeartbeat(target.host, DOMAIN, last, 60_000);
  await waitFor('a few heartbeats on the target', async () => (heartbeats(await consoleOf(env)).length >= 3 ? true : undefined), 60_000, 1_000);
  const after = await consoleOf(env);
  showConsole(after, 2, 2);
  const boots = (after.match(/lm-booted/g) ?? []).length;
  const counts = heartbeats(after);
  const continued = target.node !== source.node && boots === 0 && counts.length > 0 && Math.min(...counts) > last;
  console.log(continued ? `No boot line on ${target.node}; its first heartbeat ${Math.min(...counts)} follows ${source.node}'s last, ${last}.` : `NOT continued: ${boots} boot lines, heartbeats ${counts.join(',')}`);

  const rejected = await rwoRefusal(custom, target.node);
  console.log('(vmi-rwo is reported Running by the demo itself, as KubeVirt\'s virt-handler would: no guest needed to be refused.)');
  const envLines = Object.entries(consoleEnv(env)).filter(([k]) => k !== 'KUBECONFIG').map(([k, v]) => `export ${k}=${v}`);
  closing([...envLines, `npx kubectl-migrate console ${VMI} -n ${NS} -f    # the guest's console, following it across migrations`]);
  return final.status?.phase === 'Succeeded' && continued && rejected.code !== 0 ? 0 : 1;
}
