// The VM lifecycle on real libvirt + QEMU (TCG, the two-host harness): a VMI applied with kubectl
// is placed by the reconciler, its domain defined and started by that host's agent from the VMI
// (KubeVirt's name, our UID in its metadata), reported Running and Ready; the guest migrates there
// and back and keeps counting (same guest, no second boot); an agent killed with SIGKILL leaves
// its guest running and the new agent owns it without starting it again; deleting the VMI shuts
// the guest down and undefines the domain before the VMI goes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { ApiException } from '@kubernetes/client-node';
import { agentComponentName, startAgentComponent, stopComponent } from '../../hack/system/local-system.js';
import { bootCount, domainState, guestVmi, guestImage, heartbeats, listDomains, readConsole, vmiDomain, waitForConsole, waitForHeartbeat, type TestHost } from '../hosts/index.js';
import { consolePluginEnv, PLUGIN, runPlugin } from '../setup/console-plugin.js';
import { kubectl } from '../setup/environment.js';
import { startLibvirtVmSystem, type LibvirtVmSystem } from '../setup/libvirt-vm-agents.js';
import { createMigration, eventually, getMigration, getVmi, waitForVmiGone, type TestSystem } from '../setup/system.js';

/** VMIs of the many-guests test: ten TCG guests of 128 MiB (feasible on this 2-core machine: ~4 min). */
const TEN = 10;
const log = (message: string) => process.stderr.write(`[libvirt-vms] ${message}\n`);
let vm: LibvirtVmSystem | undefined;
let system: TestSystem | undefined;
let hostOf = new Map<string, TestHost>();

const sys = (): TestSystem => system ?? (() => { throw new Error('system not started'); })();
const domain = (vmi: string) => vmiDomain(sys().ns, vmi);

beforeAll(async () => {
  image = guestImage();
  vm = await startLibvirtVmSystem('lvm', {
    // Slow enough that a delete lands while a migration of a filled guest runs.
    migrations: 'bandwidthPerMigration: 16Mi',
  });
  ({ system, hostOf } = vm);
  log(`up; guest kernel ${image.kernel}`);
}, 240_000);

afterAll(async () => {
  await vm?.stop();
}, 90_000);

/** Read once: the shared guest image may be rebuilt while a long run goes on. */
let image: { kernel: string; initrd: string };

function manifest(name: string, memory = '128Mi', fillMiB = 0): string {
  return JSON.stringify(guestVmi(name, { namespace: sys().ns, image, memory, fillMiB }));
}

async function nodeOf(name: string): Promise<string> {
  return (await getVmi(sys(), name)).status?.nodeName ?? '';
}

const pluginEnv = () => consolePluginEnv(sys());
const plugin = (args: string[]) => runPlugin(pluginEnv(), args);

function host(node: string): TestHost {
  const h = hostOf.get(node);
  if (!h) throw new Error(`no host for ${node}`);
  return h;
}

/** Boot lines across both hosts' consoles: a migrated guest boots once. */
const boots = (name: string): number => bootCount(hostOf.values(), domain(name));

async function migrate(vmim: string, vmi: string): Promise<void> {
  await createMigration(sys(), vmim, vmi);
  const done = await eventually(`${vmim} final`, async () => {
    const m = await getMigration(sys(), vmim);
    return m?.status?.phase === 'Succeeded' || m?.status?.phase === 'Failed' ? m : undefined;
  }, 180_000, 250);
  expect(done.status?.phase).toBe('Succeeded');
}

describe('a VMI on libvirt', () => {
  it('kubectl apply boots a real guest on the node placement chose: Running, Ready, the domain ours', async () => {
    expect(kubectl(['apply', '-f', '-'], manifest('vm-1')).code).toBe(0);
    const vmi = await eventually('vm-1 Running', async () => {
      const v = await getVmi(sys(), 'vm-1');
      return v.status?.phase === 'Running' ? v : undefined;
    }, 60_000, 200);
    expect(vmi.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const on = host(vmi.status?.nodeName ?? '');
    expect(await domainState(on, domain('vm-1'))).toBe('running');
    await waitForHeartbeat(on, domain('vm-1'), 2, 120_000);
    expect(boots('vm-1')).toBe(1);
  }, 180_000);

  it('migrates there and back and keeps counting: the same guest, no second boot; kubectl migrate console follows it', async () => {
    const first = await nodeOf('vm-1');
    const before = Math.max(...heartbeats(readConsole(host(first), domain('vm-1'))));
    await migrate('there', 'vm-1');
    const second = await nodeOf('vm-1');
    expect(second).not.toBe(first);
    const onSecond = await waitForHeartbeat(host(second), domain('vm-1'), before, 30_000);
    expect(onSecond).toBeGreaterThan(before);

    // The console from the VMI's current node, through its agent: counting on, no boot there.
    const shown = await plugin(['console', 'vm-1', '-n', sys().ns]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toContain('lm-booted');
    expect(Math.min(...heartbeats(shown.stdout))).toBeGreaterThan(before);

    // Followed (-f) across the way back: a marker, then the count goes on from the other node.
    const follower = spawn(process.execPath, [PLUGIN, 'console', 'vm-1', '-n', sys().ns, '-f'], { env: pluginEnv() });
    let followed = '';
    follower.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString('utf8')));
    try {
      await migrate('back', 'vm-1');
      expect(await nodeOf('vm-1')).toBe(first);
      const after = await waitForHeartbeat(host(first), domain('vm-1'), onSecond, 30_000);
      await eventually('the follower to show the count on the first node', async () => {
        const [, tail] = followed.split(`--- vm-1 now on ${first} ---\n`);
        return tail !== undefined && heartbeats(tail).some((n) => n >= after) ? true : undefined;
      }, 30_000, 200);
      const [head, tail] = followed.split(`--- vm-1 now on ${first} ---\n`) as [string, string];
      expect(Math.min(...heartbeats(tail))).toBeGreaterThan(Math.max(...heartbeats(head)));
    } finally {
      follower.kill('SIGTERM');
    }
    expect(boots('vm-1')).toBe(1);
    expect(await listDomains(host(second))).not.toContain(domain('vm-1'));
    expect((await getVmi(sys(), 'vm-1')).status?.phase).toBe('Running');
  }, 420_000);

  it('an agent killed with SIGKILL leaves its guest running; the new agent owns it and starts nothing twice', async () => {
    const node = await nodeOf('vm-1');
    const index = sys().nodes.indexOf(node);
    const name = agentComponentName(sys().state.options, index);
    const agent = sys().state.processes.find((p) => p.name === name);
    if (!agent) throw new Error(`no ${name}`);
    const before = Math.max(...heartbeats(readConsole(host(node), domain('vm-1'))));
    await stopComponent(agent, 'SIGKILL');
    await waitForHeartbeat(host(node), domain('vm-1'), before, 30_000); // runs on without its agent
    await startAgentComponent(sys().state, index);
    const rv = (await getVmi(sys(), 'vm-1')).metadata.resourceVersion;
    // The new agent has looked at its domains (its first resync) once it is ready; another resync later nothing changed.
    await waitForHeartbeat(host(node), domain('vm-1'), before + 5, 30_000);
    expect(boots('vm-1')).toBe(1);
    expect((await getVmi(sys(), 'vm-1')).metadata.resourceVersion).toBe(rv);
  }, 180_000);

  it('delete shuts the guest down and undefines the domain before the VMI goes', async () => {
    const node = await nodeOf('vm-1');
    expect(kubectl(['delete', 'vmi', 'vm-1', '-n', sys().ns, '--wait=false']).code).toBe(0);
    // The finalizer holds the VMI while its guest still runs.
    const deleting = await getVmi(sys(), 'vm-1');
    expect(deleting.metadata.finalizers).toContain('live-migration.io/vm-shutdown');
    await waitForVmiGone(sys(), 'vm-1');
    expect(await listDomains(host(node))).not.toContain(domain('vm-1'));
  }, 120_000);

  it('delete during a migration: never two guests running, never none while the VMI runs; then none and the VMI gone', async () => {
    expect(kubectl(['apply', '-f', '-'], manifest('vm-2', '256Mi', 160)).code).toBe(0);
    const node = await eventually('vm-2 Running', async () => {
      const v = await getVmi(sys(), 'vm-2');
      return v.status?.phase === 'Running' ? v.status.nodeName : undefined;
    }, 60_000, 200);
    await waitForConsole(host(node ?? ''), domain('vm-2'), /lm-filled mib=160/, 120_000);
    await createMigration(sys(), 'vm-2-away', 'vm-2');
    await eventually('vm-2-away Running', async () => ((await getMigration(sys(), 'vm-2-away'))?.status?.phase === 'Running' ? true : undefined), 60_000, 100);
    expect(kubectl(['delete', 'vmi', 'vm-2', '-n', sys().ns, '--wait=false']).code).toBe(0);
    const hostsList = [...hostOf.values()];
    let vmiGone = false;
    let samples = 0;
    while (!vmiGone) {
      const states = await Promise.all(hostsList.map((h) => domainState(h, domain('vm-2'))));
      const running = states.filter((st) => st === 'running').length;
      expect({ states, running: running <= 1 }).toEqual({ states, running: true });
      try {
        const v = await getVmi(sys(), 'vm-2');
        // While the VMI has not been confirmed shut down, its guest exists somewhere.
        if (!v.metadata.deletionTimestamp) expect(states.some((st) => st !== undefined)).toBe(true);
      } catch (error) {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
        vmiGone = true;
      }
      samples++;
      if (samples > 600) throw new Error('vm-2 still there after 600 samples');
    }
    await eventually('no vm-2 domain on any host', async () => {
      const lists = await Promise.all(hostsList.map((h) => listDomains(h)));
      return lists.every((l) => !l.includes(domain('vm-2'))) ? true : undefined;
    }, 60_000, 200);
  }, 300_000);

  it('an unsupported field is refused at kubectl apply, named', () => {
    const refused = kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vm-bad', namespace: sys().ns }, spec: { domain: { memory: { guest: '128Mi' }, devices: { interfaces: [{ name: 'default', bridge: {} }] } } } }));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('spec.domain.devices.interfaces: not supported yet');
  });

  it('ten VMIs: placed across both hosts (none where memory does not fit, none where the agent is gone), migrated there and back twice, all counting', async () => {
    const names = Array.from({ length: TEN }, (_, i) => `many-${i}`);
    for (const name of names) expect(kubectl(['apply', '-f', '-'], manifest(name)).code).toBe(0);
    const placed = await Promise.all(
      names.map((name) =>
        eventually(`${name} Running`, async () => {
          const v = await getVmi(sys(), name);
          return v.status?.phase === 'Running' ? (v.status.nodeName ?? '') : undefined;
        }, 120_000, 250),
      ),
    );
    const perNode = sys().nodes.map((n) => placed.filter((p) => p === n).length);
    expect(perNode).toEqual([TEN / 2, TEN / 2]); // least loaded first
    await Promise.all(names.map(async (name, i) => waitForHeartbeat(host(placed[i] ?? ''), domain(name), 0, 180_000)));

    // Each host offers 1Gi to guests and has 5 × 128Mi: a 512Mi guest fits nowhere.
    expect(kubectl(['apply', '-f', '-'], manifest('too-big', '512Mi')).code).toBe(0);
    const big = await eventually('too-big Unschedulable', async () => {
      const v = await getVmi(sys(), 'too-big');
      return v.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    }, 30_000, 200);
    expect(big.message).toBe('0/2 nodes are available: 2 nodes insufficient memory (needs 512Mi).');
    expect(kubectl(['delete', 'vmi', 'too-big', '-n', sys().ns]).code).toBe(0);

    // Four rounds of ten migrations under the default limits; every guest moves each time.
    for (let round = 0; round < 4; round++) {
      const from = await Promise.all(names.map((n) => nodeOf(n)));
      const beats = names.map((n, i) => Math.max(0, ...heartbeats(readConsole(host(from[i] ?? ''), domain(n)))));
      await Promise.all(names.map((n) => createMigration(sys(), `${n}-r${round}`, n)));
      await Promise.all(names.map((n) => eventually(`${n}-r${round} final`, async () => {
        const m = await getMigration(sys(), `${n}-r${round}`);
        return m?.status?.phase === 'Succeeded' || m?.status?.phase === 'Failed' ? m.status.phase : undefined;
      }, 300_000, 500).then((phase) => expect(phase).toBe('Succeeded'))));
      const to = await Promise.all(names.map((n) => nodeOf(n)));
      to.forEach((node, i) => expect(node).not.toBe(from[i]));
      await Promise.all(names.map((n, i) => waitForHeartbeat(host(to[i] ?? ''), domain(n), beats[i], 60_000)));
    }
    for (const n of names) expect(boots(n)).toBe(1);

    // A host whose agent is gone gets no new VMI.
    const index = 1;
    const name = agentComponentName(sys().state.options, index);
    const agent = sys().state.processes.find((p) => p.name === name);
    if (!agent) throw new Error(`no ${name}`);
    await stopComponent(agent, 'SIGTERM');
    expect(kubectl(['apply', '-f', '-'], manifest('late')).code).toBe(0);
    const late = await eventually('late placed', async () => (await getVmi(sys(), 'late')).status?.nodeName, 30_000, 200);
    expect(late).toBe(sys().nodes[0]);
    await startAgentComponent(sys().state, index);
    for (const n of [...names, 'late']) expect(kubectl(['delete', 'vmi', n, '-n', sys().ns, '--wait=false']).code).toBe(0);
  }, 900_000);
});
