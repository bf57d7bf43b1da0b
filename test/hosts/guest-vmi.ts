// The test guest as a VMI the product's libvirt agent boots (direct kernel boot of the guest image,
// named by annotations), the domain name the agent gives it, and its boot count across hosts: a
// guest that live-migrated boots once, whatever number of hosts it ran on.
import { readConsole } from './console.js';
import type { TestHost } from './test-hosts.js';

export interface GuestVmiOptions {
  namespace: string;
  image: { kernel: string; initrd: string };
  /** spec.domain.memory.guest; 128Mi fits the TCG guest with room to spare. */
  memory?: string;
  /** MiB of random data the guest writes into its memory before its heartbeats (a slower migration). */
  fillMiB?: number;
  /** Keep rewriting the filled memory (lm.dirty=1): a migration must chase dirty pages. */
  dirty?: boolean;
  /** ACPI on in the guest (default off): it can power itself off and receives shutdown requests (and ignores them: no acpid). */
  acpi?: boolean;
  /** More `lm.*` switches for the guest's init (test/hosts/guest/init.sh), e.g. `lm.poweroff_after=3`. */
  guestArgs?: string;
  /** spec.terminationGracePeriodSeconds (default 3). */
  grace?: number;
  /** Extra spec fields (nodeSelector, evictionStrategy, tolerations, volumes, …). */
  spec?: Record<string, unknown>;
}

export function guestVmi(name: string, options: GuestVmiOptions): Record<string, unknown> {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name,
      namespace: options.namespace,
      annotations: {
        'live-migration.io/kernel': options.image.kernel,
        'live-migration.io/initrd': options.image.initrd,
        'live-migration.io/kernel-args': `console=ttyS0 panic=-1 quiet${options.acpi ? '' : ' acpi=off'} lm.fill_mib=${options.fillMiB ?? 0} lm.dirty=${options.dirty ? 1 : 0}${options.guestArgs ? ` ${options.guestArgs}` : ''}`,
      },
    },
    spec: { terminationGracePeriodSeconds: options.grace ?? 3, domain: { memory: { guest: options.memory ?? '128Mi' }, devices: {} }, ...options.spec },
  };
}

/** The libvirt domain the agent defines for a VMI (agent/libvirt/vm-domain-xml.ts vmDomainName). */
export function vmiDomain(namespace: string, name: string): string {
  return `${namespace}_${name}`;
}

/** Boot lines of the guest across the hosts' consoles: 1 for a guest that only ever migrated. */
export function bootCount(hosts: Iterable<TestHost>, guestName: string): number {
  let count = 0;
  for (const host of hosts) count += (readConsole(host, guestName).match(/lm-booted/g) ?? []).length;
  return count;
}
