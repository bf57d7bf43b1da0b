// Which demo `npm run demo` (hack/dev up) tells: on real QEMU where the machine can run the two
// libvirt test hosts, the simulation elsewhere, with the reason in one line. Pure: the facts come
// from machine.ts.

/** `LIVE_MIGRATION_DEMO`: force one demo; unset chooses by the machine. */
export const DEMO_OVERRIDE = 'LIVE_MIGRATION_DEMO';
export type DemoMode = 'qemu' | 'simulation';

export interface MachineFacts {
  /** The override's value, as set (undefined or '' = choose). */
  override?: string;
  /** Why this machine cannot run the real hosts, in the order they were checked; empty = it can. */
  problems: string[];
}

export interface DemoChoice {
  mode: DemoMode;
  /** One line for the user: why this demo. */
  why: string;
}

export function chooseDemo(facts: MachineFacts): DemoChoice {
  const override = facts.override ?? '';
  if (override !== '' && override !== 'qemu' && override !== 'simulation') {
    throw new Error(`${DEMO_OVERRIDE}=${override}: must be "qemu" or "simulation" (or unset to choose by the machine)`);
  }
  const [problem] = facts.problems;
  if (override === 'simulation') return { mode: 'simulation', why: `simulated nodes: ${DEMO_OVERRIDE}=simulation` };
  if (override === 'qemu') {
    if (problem) throw new Error(`${DEMO_OVERRIDE}=qemu, but this machine cannot run the libvirt hosts: ${problem}`);
    return { mode: 'qemu', why: `real QEMU: ${DEMO_OVERRIDE}=qemu` };
  }
  if (problem) return { mode: 'simulation', why: `simulated nodes, not real QEMU: ${problem} (${DEMO_OVERRIDE}=qemu to insist)` };
  return { mode: 'qemu', why: `real QEMU: root, libvirt and QEMU installed, network namespaces work (${DEMO_OVERRIDE}=simulation for the simulation)` };
}
