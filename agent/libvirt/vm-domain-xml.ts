// The libvirt domain for a VMI (pure): KubeVirt's name `<namespace>_<name>`, the VMI's UID in our
// own metadata element (so the agent only ever touches its own domains), memory and CPU topology,
// a direct kernel boot from the node paths the annotations give (or the first disk), disks from
// hostDisk and emptyDisk volumes, and the serial console written to a file.
//
// Choices: machine `pc`; under TCG (`domainType: qemu`) the named CPU model qemu64 (migration
// compatibility must not depend on the machine), under KVM host-model as KubeVirt; ACPI on, so a
// shutdown request reaches a guest that listens; on_poweroff/on_crash destroy (the domain stays
// defined, "shut off (shutdown)" or "(crashed)", until the agent reported it); on_reboot restart.
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { readGuestMemoryBytes } from '../../api/guest-memory.js';

export const VMI_METADATA_URI = 'https://live-migration.io/agent/vmi/v1';
export const KERNEL_ANNOTATION = 'live-migration.io/kernel';
export const INITRD_ANNOTATION = 'live-migration.io/initrd';
export const KERNEL_ARGS_ANNOTATION = 'live-migration.io/kernel-args';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface DomainDisk {
  /** The volume's name. */
  name: string;
  file: string;
  format: 'raw' | 'qcow2';
  bus: 'virtio' | 'sata';
  /** On storage every node sees (a ReadWriteMany claim): `<shareable/>`, never copied by a migration. */
  shared?: boolean;
}

export interface VmDomainOptions {
  domainType: 'kvm' | 'qemu';
  consoleFile: string;
  disks: readonly DomainDisk[];
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

export function vmDomainName(vmi: VirtualMachineInstance): string {
  return `${vmi.metadata.namespace ?? ''}_${vmi.metadata.name ?? ''}`;
}

function topology(vmi: VirtualMachineInstance): { sockets: number; cores: number; threads: number } {
  const domain = isObject(vmi.spec?.domain) ? vmi.spec.domain : {};
  const cpu = isObject(domain.cpu) ? domain.cpu : {};
  const n = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 1);
  return { sockets: n(cpu.sockets), cores: n(cpu.cores), threads: n(cpu.threads) };
}

/** Parses our element's uid from `virsh metadata DOM VMI_METADATA_URI`; undefined when absent. */
export function parseVmiUid(text: string): string | undefined {
  const match = /<(?:[A-Za-z_][\w.-]*:)?vmi\b[^<>]*\buid\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(text);
  const uid = match?.[1] ?? match?.[2];
  return uid ? uid : undefined;
}

export function vmDomainXml(vmi: VirtualMachineInstance, options: VmDomainOptions): string {
  const memory = readGuestMemoryBytes(vmi.spec) ?? 0;
  if (memory <= 0) throw new Error('the VMI has no guest memory (spec.domain.memory.guest or resources.requests.memory)');
  const { sockets, cores, threads } = topology(vmi);
  const annotations = vmi.metadata.annotations ?? {};
  const kernel = annotations[KERNEL_ANNOTATION];
  const initrd = annotations[INITRD_ANNOTATION];
  const args = annotations[KERNEL_ARGS_ANNOTATION];
  const boot = kernel
    ? [`<kernel>${escapeXml(kernel)}</kernel>`, ...(initrd ? [`<initrd>${escapeXml(initrd)}</initrd>`] : []), ...(args ? [`<cmdline>${escapeXml(args)}</cmdline>`] : [])]
    : ["<boot dev='hd'/>"];
  const cpuModel =
    options.domainType === 'qemu'
      ? `<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model><topology sockets='${sockets}' cores='${cores}' threads='${threads}'/></cpu>`
      : `<cpu mode='host-model'><topology sockets='${sockets}' cores='${cores}' threads='${threads}'/></cpu>`;
  let virtio = 0;
  let sata = 0;
  const disks = options.disks.map((d) => {
    const dev = d.bus === 'virtio' ? `vd${String.fromCharCode(97 + virtio++)}` : `sd${String.fromCharCode(97 + sata++)}`;
    return `<disk type='file' device='disk'><driver name='qemu' type='${d.format}' cache='none'/><source file='${escapeXml(d.file)}'/><target dev='${dev}' bus='${d.bus}'/><alias name='ua-${escapeXml(d.name)}'/>${d.shared ? '<shareable/>' : ''}</disk>`;
  });
  const console = escapeXml(options.consoleFile);
  return `<domain type='${options.domainType}'>
  <name>${escapeXml(vmDomainName(vmi))}</name>
  <metadata><lmvm:vmi xmlns:lmvm='${VMI_METADATA_URI}' uid='${escapeXml(vmi.metadata.uid ?? '')}'/></metadata>
  <memory unit='b'>${memory}</memory>
  <vcpu placement='static'>${sockets * cores * threads}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    ${boot.join('\n    ')}
  </os>
  <features><acpi/></features>
  ${cpuModel}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    ${disks.join('\n    ')}
    <serial type='file'><source path='${console}' append='on'/><target port='0'/></serial>
    <console type='file'><source path='${console}' append='on'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
