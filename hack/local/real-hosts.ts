// The local environment's real hypervisors: the two libvirt "hosts" of the test harness (network
// namespaces, a libvirtd each with TLS, QEMU under TCG) and one libvirt agent per host, as
// test/integration/libvirt-vms.test.ts runs them. They live as long as the local control plane
// (their reaper watches kube-apiserver), so the demo can exit and `npm run local -- down` ends them.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { libvirtAgentArgs, startTestHosts, stopTestHostsRecord, type TestHost, type TestHostsRecord } from '../../test/hosts/index.js';
import type { SimulatedNode } from '../system/simulated-nodes.js';
import type { AgentSpec } from '../system/local-system.js';

export interface LocalHosts {
  record: TestHostsRecord;
  hosts: TestHost[];
  /** The agents' state dirs, one per host below it. */
  stateDir: string;
}

/** Memory each host's agent offers to guests (placement reads it). */
const GUEST_MEMORY = '1Gi';

export function nodeName(host: TestHost): string {
  return `host-${host.name}`;
}

export async function startLocalHosts(ownerPid: number, localDir: string): Promise<LocalHosts> {
  const run = await startTestHosts({ hosts: ['a', 'b'], ownerPid });
  const stateDir = join(localDir, 'agent-state');
  rmSync(stateDir, { recursive: true, force: true });
  for (const host of run.hosts) mkdirSync(join(stateDir, host.name), { recursive: true });
  return { record: run.record, hosts: run.hosts, stateDir };
}

/** Node objects for the hosts: no kubelet here either, so the local system reports them Ready. */
export function hostNodes(local: LocalHosts): SimulatedNode[] {
  return local.hosts.map((host) => ({ name: nodeName(host), labels: { 'live-migration.io/simulated': 'false' } }));
}

/** One libvirt agent per host, pointed at its libvirtd; its node identity is issued by the local system. */
export function hostAgents(local: LocalHosts): AgentSpec[] {
  return local.hosts.map((host) => ({
    nodes: [nodeName(host)],
    driver: 'libvirt',
    extraArgs: [
      ...libvirtAgentArgs(host, join(local.stateDir, host.name)),
      '--domain-type=qemu',
      `--guest-memory=${GUEST_MEMORY}`,
      `--console-read-dir=${join(host.dir, 'log', 'qemu')}`,
    ],
  }));
}

export function hostOfNode(local: LocalHosts, node: string): TestHost | undefined {
  return local.hosts.find((host) => nodeName(host) === node);
}

/** Every libvirtd and QEMU guest, the namespaces and the run dir, then the agents' state. */
export async function stopLocalHosts(local: LocalHosts): Promise<void> {
  await stopTestHostsRecord(local.record);
  rmSync(local.stateDir, { recursive: true, force: true });
}
