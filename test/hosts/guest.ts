// The test guest: Debian's kernel + the busybox initramfs of guest/init.sh, booted directly (no disk)
// under TCG, its serial console written to a file in the host's log dir.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestImage } from './paths.js';
import type { TestHost } from './test-hosts.js';
import { VirshError, virsh } from './virsh.js';

export interface GuestSpec {
  /** Domain name; also names its console file. */
  name: string;
  /** Guest RAM; 128–256 MiB keeps TCG boots and migrations quick. */
  memoryMiB: number;
  /** MiB of non-zero data the guest writes into its memory after boot (0: an idle, mostly empty guest); at most memoryMiB - 80. */
  fillMiB?: number;
  /** Keep rewriting the filled memory, so a migration has to chase dirty pages. */
  dirty?: boolean;
  /** Fill with this word repeated instead of random data (letters, digits, `-`; 8–64): a known pattern. */
  pattern?: string;
}

/** RAM the guest cannot fill: its kernel's own use plus room for busybox. */
export const GUEST_OVERHEAD_MIB = 80;

export interface TestGuest extends Required<GuestSpec> {
  xml: string;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/** Domain XML; the console path is the same inside every host's namespace, so it follows the guest. */
export function guestXml(spec: Required<GuestSpec>): string {
  const image = guestImage();
  const name = escapeXml(spec.name);
  const consoleFile = `/var/log/libvirt/qemu/${name}-console.log`;
  // acpi=off: the domain has no ACPI tables (nothing here needs them), so the kernel need not look.
  const cmdline = `console=ttyS0 panic=-1 quiet acpi=off lm.fill_mib=${spec.fillMiB} lm.dirty=${spec.dirty ? 1 : 0}${spec.pattern ? ` lm.pattern=${spec.pattern}` : ''}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>${spec.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${escapeXml(image.kernel)}</kernel>
    <initrd>${escapeXml(image.initrd)}</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>
  <!-- A named CPU model both hosts have: migration compatibility must not depend on the machine. -->
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='${consoleFile}' append='on'/><target port='0'/></serial>
    <console type='file'><source path='${consoleFile}' append='on'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** Defines (persistently) the guest on a host; start it with startGuest. */
export async function defineGuest(host: TestHost, spec: GuestSpec): Promise<TestGuest> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(spec.name)) throw new Error(`guest name ${JSON.stringify(spec.name)}: letters, digits, _ . - only`);
  const full: Required<GuestSpec> = { fillMiB: 0, dirty: false, pattern: '', ...spec };
  if (full.pattern !== '' && !/^[A-Za-z0-9-]{8,64}$/.test(full.pattern)) throw new Error(`guest ${spec.name}: pattern ${JSON.stringify(full.pattern)}: 8–64 letters, digits or -`);
  // Debian's kernel keeps ~67 MiB of guest RAM to itself (60 MiB "reserved" at boot); a fill beyond
  // the rest, less room for the shell, ends in the OOM killer and a panic.
  if (full.fillMiB > full.memoryMiB - GUEST_OVERHEAD_MIB) {
    throw new Error(`guest ${spec.name}: fillMiB ${full.fillMiB} needs memoryMiB >= ${full.fillMiB + GUEST_OVERHEAD_MIB}`);
  }
  const xml = guestXml(full);
  const file = join(host.dir, `${spec.name}.xml`);
  writeFileSync(file, xml);
  await virsh(host, ['define', file]);
  return { ...full, xml };
}

export async function startGuest(host: TestHost, guest: Pick<TestGuest, 'name'>): Promise<void> {
  await virsh(host, ['start', guest.name], { timeoutMs: 60_000 });
}

/** `virsh domstate`: "running", "paused", "shut off"…, or undefined when the host has no such domain. */
export async function domainState(host: TestHost, name: string): Promise<string | undefined> {
  try {
    return (await virsh(host, ['domstate', name])).trim();
  } catch (error) {
    if (error instanceof VirshError && /failed to get domain|Domain not found/.test(error.libvirtMessage)) return undefined;
    throw error;
  }
}

/** Names of all domains on the host, defined or running. */
export async function listDomains(host: TestHost): Promise<string[]> {
  return (await virsh(host, ['list', '--all', '--name'])).split('\n').map((line) => line.trim()).filter(Boolean);
}
