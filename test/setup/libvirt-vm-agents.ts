// The product's libvirt agents on the two-host harness, set up to run VMIs: one agent per node named
// `…-<host name>`, booting guests with TCG, offering `guestMemory` to guests, reading consoles from
// the host's QEMU log dir (for `kubectl migrate console`). Shared by the real-QEMU VM tests.
import { join } from 'node:path';
import type { AgentSpec } from '../../hack/system/local-system.js';
import { libvirtAgentArgs, type TestHost } from '../hosts/index.js';

export interface VmAgents {
  /** For startTestSystem's `agents`. */
  agents: (nodes: string[]) => AgentSpec[];
  /** Node name → the test host its agent drives (filled when the system starts). */
  hostOf: Map<string, TestHost>;
}

export function libvirtVmAgents(hosts: readonly TestHost[], stateDir: string, guestMemory = '1Gi'): VmAgents {
  const hostOf = new Map<string, TestHost>();
  const agents = (nodes: string[]): AgentSpec[] =>
    nodes.map((node) => {
      const host = hosts.find((h) => node.endsWith(`-${h.name}`));
      if (!host) throw new Error(`node ${node} names no test host (${hosts.map((h) => h.name).join(', ')})`);
      hostOf.set(node, host);
      return {
        nodes: [node],
        driver: 'libvirt',
        extraArgs: [...libvirtAgentArgs(host, join(stateDir, host.name)), '--domain-type=qemu', `--guest-memory=${guestMemory}`, `--console-read-dir=${join(host.dir, 'log', 'qemu')}`],
      };
    });
  return { agents, hostOf };
}
