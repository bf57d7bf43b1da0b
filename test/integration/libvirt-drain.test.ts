// Node drain on real libvirt + QEMU (issue 13, the two-host harness and the product's agents): three
// guests kept off host B by the drain taint (placement never puts a new VMI on a draining node) run
// on A; `kubectl migrate drain A --wait`, as an operator runs it, exits 0 once A holds no VMI; every
// guest is then on B, moved by exactly one evacuation migration as KubeVirt makes them, its console
// counting on from where it was on A with no second boot.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EVACUATION_ANNOTATION } from '../../api/names.js';
import { bootCount, guestImage, guestVmi, heartbeats, listDomains, readConsole, vmiDomain, waitForHeartbeat, type TestHost } from '../hosts/index.js';
import { consolePluginEnv, runPlugin } from '../setup/console-plugin.js';
import { isEvacuation, removeDrainTaint, taintForDrain } from '../setup/drain.js';
import { kubectl } from '../setup/environment.js';
import { HOST_LABEL, startLibvirtVmSystem, type LibvirtVmSystem } from '../setup/libvirt-vm-agents.js';
import { eventually, getVmi, listMigrations, waitEvaluated, waitForVmiGone, type TestSystem } from '../setup/system.js';
import { recordVmis } from '../setup/vmi-recorder.js';

/** Three TCG guests of 128 MiB: several at once on one host, well within the 1Gi each agent offers. */
const GUESTS = ['guest-0', 'guest-1', 'guest-2'];
const log = (message: string) => process.stderr.write(`[libvirt-drain] ${message}\n`);
let vm: LibvirtVmSystem | undefined;
let system: TestSystem | undefined;
let hostOf = new Map<string, TestHost>();

const sys = (): TestSystem => system ?? (() => { throw new Error('system not started'); })();
const domain = (vmi: string) => vmiDomain(sys().ns, vmi);
function host(node: string): TestHost {
  const h = hostOf.get(node);
  if (!h) throw new Error(`no host for ${node}`);
  return h;
}

beforeAll(async () => {
  // With the webhook: evacuations go through admission as in a cluster (the reconciler's account sets spec.priority).
  vm = await startLibvirtVmSystem('ldr');
  ({ system, hostOf } = vm);
  log(`up (namespace ${sys().ns})`);
}, 240_000);

afterAll(async () => {
  await vm?.stop();
}, 90_000);

describe('draining a host with guests running', () => {
  it('kubectl migrate drain A --wait: exit 0, every guest on B, each moved by one evacuation, consoles counting on with no boot', async () => {
    const [nodeA, nodeB] = sys().nodes as [string, string];
    const image = guestImage();

    // B carries the drain taint: placement puts every new VMI on A, none on the draining node. A
    // VMI that may only run on B waits, saying why (and shows the reconciler has seen the taint).
    await taintForDrain(sys(), nodeB);
    const probe = guestVmi('only-b', { namespace: sys().ns, image, spec: { nodeSelector: { [HOST_LABEL]: 'b' } } });
    expect(kubectl(['apply', '-f', '-'], JSON.stringify(probe)).code).toBe(0);
    const waiting = await eventually('only-b Unschedulable', async () => {
      const v = await getVmi(sys(), 'only-b');
      return v.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    }, 30_000, 200);
    expect(waiting.message).toBe('0/2 nodes are available: 1 node being drained, 1 node lacks label test.live-migration.io/host=b.');
    expect(kubectl(['delete', 'vmi', 'only-b', '-n', sys().ns]).code).toBe(0);
    for (const name of GUESTS) {
      const manifest = guestVmi(name, { namespace: sys().ns, image, spec: { evictionStrategy: 'LiveMigrate' } });
      expect(kubectl(['apply', '-f', '-'], JSON.stringify(manifest)).code).toBe(0);
    }
    const placed = await Promise.all(GUESTS.map((name) => eventually(`${name} Running`, async () => {
      const v = await getVmi(sys(), name);
      return v.status?.phase === 'Running' ? v.status.nodeName : undefined;
    }, 120_000, 250)));
    expect(placed).toEqual(GUESTS.map(() => nodeA));
    await removeDrainTaint(sys(), nodeB);
    for (const name of GUESTS) await waitEvaluated(sys(), name);
    await Promise.all(GUESTS.map((name) => waitForHeartbeat(host(nodeA), domain(name), 1, 180_000)));
    const moves = await recordVmis(sys());

    const drained = await runPlugin(consolePluginEnv(sys()), ['drain', nodeA, '--wait'], 300_000);
    log(`drain output:\n${drained.stdout}${drained.stderr}`);
    expect(drained.stderr).toBe('');
    expect(drained.code).toBe(0);
    expect(drained.stdout).toContain(`node/${nodeA} drained: it holds no VMI`);
    for (const name of GUESTS) expect(drained.stdout).toMatch(new RegExp(`${sys().ns}/${name}\\s+\\S+\\s+evacuated`));

    // Every guest on B, moved once (A then B, nothing in between), by one evacuation as KubeVirt makes it.
    for (const name of GUESTS) expect((await getVmi(sys(), name)).status?.nodeName).toBe(nodeB);
    const evacuations = (await listMigrations(sys())).filter((m) => isEvacuation(m, nodeA));
    expect(evacuations.map((m) => m.spec.vmiName).sort()).toEqual(GUESTS);
    for (const m of evacuations) {
      expect(m.metadata.name).toMatch(/^kubevirt-evacuation-/);
      expect(m.metadata.annotations?.[EVACUATION_ANNOTATION]).toBe(nodeA);
      expect(m.spec.priority).toBe('system-critical');
      expect(m.status?.phase).toBe('Succeeded');
    }
    for (const name of GUESTS) expect(moves.nodesOf(name)).toEqual([nodeA, nodeB]);
    moves.stop();

    // The same guests on B: their counters continue past the last number A printed, none booted again.
    const onA = await listDomains(host(nodeA));
    for (const name of GUESTS) {
      expect(onA).not.toContain(domain(name));
      const lastOnA = Math.max(...heartbeats(readConsole(host(nodeA), domain(name))));
      await waitForHeartbeat(host(nodeB), domain(name), lastOnA + 1, 60_000);
      const onB = readConsole(host(nodeB), domain(name));
      expect(onB).not.toContain('lm-booted');
      expect(Math.min(...heartbeats(onB))).toBeGreaterThan(lastOnA);
      expect(bootCount(hostOf.values(), domain(name))).toBe(1);
    }

    // Called off: A takes VMIs again; the guests go.
    expect((await runPlugin(consolePluginEnv(sys()), ['drain', nodeA, '--cancel'])).code).toBe(0);
    for (const name of GUESTS) expect(kubectl(['delete', 'vmi', name, '-n', sys().ns, '--wait=false']).code).toBe(0);
    await Promise.all(GUESTS.map((name) => waitForVmiGone(sys(), name)));
    expect(await listDomains(host(nodeB))).toEqual([]);
  }, 720_000);
});
