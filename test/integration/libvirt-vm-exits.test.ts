// How a VM ends on real libvirt + QEMU (TCG, the two-host harness), as a user sees it through the
// API: a guest that powers itself off → VMI Succeeded, Ready False saying so; QEMU dying under the
// guest (a crash) → Failed with the reason; either way no domain stays defined and a delete
// afterwards drops the finalizer at once. And the grace period of a delete survives an agent killed
// with SIGKILL mid-grace: the guest (which ignores ACPI) is destroyed at deletionTimestamp + grace,
// by the restarted agent, never left running.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { agentComponentName, startAgentComponent, stopComponent } from '../../hack/system/local-system.js';
import { guestImage, guestVmi, heartbeats, listDomains, readConsole, waitForConsole, waitForHeartbeat, type TestHost } from '../hosts/index.js';
import { kubectl } from '../setup/environment.js';
import { HOST_LABEL, startLibvirtVmSystem, type LibvirtVmSystem } from '../setup/libvirt-vm-agents.js';
import { eventually, getVmi, waitForVmiGone, type TestSystem } from '../setup/system.js';

let vm: LibvirtVmSystem | undefined;
let system: TestSystem | undefined;
let hostOf = new Map<string, TestHost>();
let image: { kernel: string; initrd: string };
/** Where the power-off test's guest ran (the next test makes a VMI of the same name there). */
let offHost: TestHost | undefined;

const sys = (): TestSystem => system ?? (() => { throw new Error('system not started'); })();
const domain = (vmi: string) => `${sys().ns}_${vmi}`;

beforeAll(async () => {
  image = guestImage();
  vm = await startLibvirtVmSystem('lvx');
  ({ system, hostOf } = vm);
}, 240_000);

afterAll(async () => {
  await vm?.stop();
}, 90_000);

/** ACPI on in the guest (no acpi=off): it can power itself off, and it gets (and ignores: no acpid) a shutdown request. */
function manifest(name: string, options: { grace: number; poweroffAfter?: number }): string {
  return JSON.stringify(guestVmi(name, { namespace: sys().ns, image, acpi: true, grace: options.grace, guestArgs: `lm.poweroff_after=${options.poweroffAfter ?? 0}` }));
}

function host(node: string): TestHost {
  const h = hostOf.get(node);
  if (!h) throw new Error(`no host for ${node}`);
  return h;
}

async function running(name: string): Promise<{ vmi: VirtualMachineInstance; on: TestHost }> {
  const vmi = await eventually(`${name} Running`, async () => {
    const v = await getVmi(sys(), name);
    return v.status?.phase === 'Running' ? v : undefined;
  }, 90_000, 200);
  return { vmi, on: host(vmi.status?.nodeName ?? '') };
}

async function phase(name: string, want: string): Promise<VirtualMachineInstance> {
  return eventually(`${name} ${want}`, async () => {
    const v = await getVmi(sys(), name);
    return v.status?.phase === want ? v : undefined;
  }, 120_000, 200);
}

const gone = (name: string): Promise<void> => waitForVmiGone(sys(), name);

const ready = (vmi: VirtualMachineInstance) => vmi.status?.conditions?.find((c) => c.type === 'Ready');

/** A final VMI's domain is undefined once the phase is written; a delete then needs no guest shutdown. */
async function expectUndefinedThenDeletable(name: string, on: TestHost): Promise<void> {
  await eventually(`${name}'s domain undefined`, async () => ((await listDomains(on)).includes(domain(name)) ? undefined : true), 30_000, 200);
  expect(kubectl(['delete', 'vmi', name, '-n', sys().ns, '--wait=false']).code).toBe(0);
  await gone(name);
}

describe('a VM that ends on libvirt', () => {
  it('a guest that powers itself off: Succeeded, Ready False saying it shut off, no domain left, deletable', async () => {
    expect(kubectl(['apply', '-f', '-'], manifest('off', { grace: 30, poweroffAfter: 3 })).code).toBe(0);
    const { on } = await running('off');
    offHost = on;
    await waitForConsole(on, domain('off'), /lm-poweroff/, 120_000);
    const vmi = await phase('off', 'Succeeded');
    expect(ready(vmi)).toMatchObject({ status: 'False', reason: 'GuestNotRunning', message: 'the guest is shut off (shutdown)' });
    expect(vmi.status?.reason).toBeUndefined();
    expect(vmi.metadata.finalizers).toContain('live-migration.io/vm-shutdown');
    await expectUndefinedThenDeletable('off', on);
  }, 240_000);

  it('a VMI made again under the name of one that ended, on the same node: its console shows the new guest only', async () => {
    const earlier = offHost ?? (() => { throw new Error('the power-off test ran first'); })();
    expect(readConsole(earlier, domain('off'))).toMatch(/lm-poweroff/); // the first guest's lines, in the file libvirt appends to
    const pinned = guestVmi('off', { namespace: sys().ns, image, grace: 0, spec: { nodeSelector: { [HOST_LABEL]: earlier.name } } });
    expect(kubectl(['apply', '-f', '-'], JSON.stringify(pinned)).code).toBe(0);
    const { on } = await running('off');
    expect(on).toBe(earlier);
    await waitForHeartbeat(on, domain('off'), 1, 120_000);
    const text = readConsole(on, domain('off'));
    expect(text.match(/lm-booted/g)).toHaveLength(1);
    expect(text).not.toMatch(/lm-poweroff/);
    expect(kubectl(['delete', 'vmi', 'off', '-n', sys().ns, '--wait=false']).code).toBe(0);
    await gone('off');
  }, 240_000);

  it('QEMU killed under a running guest (a crash): Failed with the reason, no domain left, deletable', async () => {
    expect(kubectl(['apply', '-f', '-'], manifest('crash', { grace: 30 })).code).toBe(0);
    const { on } = await running('crash');
    await waitForHeartbeat(on, domain('crash'), 1, 120_000);
    // The host's /run is a bind mount of <host dir>/run: libvirt's pid file of the domain's QEMU.
    const pid = Number(readFileSync(join(on.dir, 'run', 'libvirt', 'qemu', `${domain('crash')}.pid`), 'utf8').trim());
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL');
    const vmi = await phase('crash', 'Failed');
    expect(vmi.status?.reason).toBe('the domain is shut off (crashed)');
    expect(ready(vmi)).toMatchObject({ status: 'False', reason: 'GuestNotRunning', message: 'the domain is shut off (crashed)' });
    await expectUndefinedThenDeletable('crash', on);
  }, 240_000);

  it('delete, agent SIGKILLed mid-grace and back after the deadline: the guest ignored ACPI and is destroyed at deletionTimestamp + grace, not a fresh grace', async () => {
    const grace = 4;
    expect(kubectl(['apply', '-f', '-'], manifest('grace', { grace })).code).toBe(0);
    const { vmi: before, on } = await running('grace');
    await waitForHeartbeat(on, domain('grace'), 1, 120_000);
    const node = before.status?.nodeName ?? '';
    const index = sys().nodes.indexOf(node);
    const agent = sys().state.processes.find((p) => p.name === agentComponentName(sys().state.options, index));
    if (!agent) throw new Error(`no agent for ${node}`);

    expect(kubectl(['delete', 'vmi', 'grace', '-n', sys().ns, '--wait=false']).code).toBe(0);
    const deleting = await getVmi(sys(), 'grace');
    const deadline = Date.parse(deleting.metadata.deletionTimestamp ?? '') + grace * 1000;
    // The agent records the deadline before it asks the guest (ACPI): then it is killed.
    const record = join(vm?.stateDir ?? '', on.name, 'shutdowns', domain('grace'));
    const recorded = await eventually('the shutdown deadline recorded', async () => (existsSync(record) ? readFileSync(record, 'utf8').trim() : undefined), 30_000, 50);
    expect(Date.parse(recorded)).toBe(deadline);
    await stopComponent(agent, 'SIGKILL');

    // No agent: the guest runs on through the deadline (it ignores ACPI; nothing destroys it): it
    // prints a heartbeat after the deadline has passed.
    await eventually('the deadline passed', async () => (Date.now() > deadline ? true : undefined), 60_000, 100);
    await waitForHeartbeat(on, domain('grace'), Math.max(...heartbeats(readConsole(on, domain('grace')))), 30_000);
    expect(await listDomains(on)).toContain(domain('grace'));
    expect((await getVmi(sys(), 'grace')).metadata.finalizers).toContain('live-migration.io/vm-shutdown');

    const logFrom = statSync(agent.logFile).size;
    await startAgentComponent(sys().state, index);
    await gone('grace');
    expect(await listDomains(on)).not.toContain(domain('grace'));
    expect(existsSync(record)).toBe(false);
    // The restarted agent destroyed it at the original deadline (past: at once), asking the guest nothing again.
    const lines = readFileSync(agent.logFile, 'utf8').slice(logFrom).split('\n').filter((l) => l.includes(domain('grace')));
    const destroyed = lines.find((l) => l.includes('shutdown deadline reached'));
    expect(destroyed && (JSON.parse(destroyed) as { deadline?: string }).deadline).toBe(new Date(deadline).toISOString());
    expect(lines.some((l) => l.includes('guest asked to shut down'))).toBe(false);
    expect(readConsole(on, domain('grace')).match(/lm-booted/g)).toHaveLength(1);
  }, 240_000);
});
