// The product's libvirt agents on the two-host harness, set up to run VMIs: one agent per node named
// `…-<host name>`, booting guests with TCG, offering `guestMemory` to guests, reading consoles from
// the host's QEMU log dir (for `kubectl migrate console`). Shared by the real-QEMU VM tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from '@jest/globals';
import type { AgentSpec } from '../../hack/system/local-system.js';
import { findLeftovers, libvirtAgentArgs, startTestHosts, type TestHost, type TestHosts } from '../hosts/index.js';
import { startTestSystem, type TestSystem, type TestSystemOptions } from './system.js';

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

/** Every node carries the name of its test host under this label (for a nodeSelector). */
export const HOST_LABEL = 'test.live-migration.io/host';

/** The two test hosts, a test system whose nodes `…-a`, `…-b` are their libvirt agents, and one stop for all. */
export interface LibvirtVmSystem {
  hosts: TestHosts;
  system: TestSystem;
  hostOf: Map<string, TestHost>;
  /** The agents' state dirs: `<stateDir>/<host name>`. */
  stateDir: string;
  /** Stops the system and the hosts, then expects nothing of the run left (namespace, daemon, QEMU, veth, temp dir). */
  stop: () => Promise<void>;
}

export async function startLibvirtVmSystem(prefix: string, options: Omit<TestSystemOptions, 'nodes' | 'nodeNames' | 'agents'> = {}): Promise<LibvirtVmSystem> {
  const hosts = await startTestHosts({ hosts: ['a', 'b'] });
  const stateDir = mkdtempSync(join(tmpdir(), 'live-migration-agent-state-'));
  const vmAgents = libvirtVmAgents([hosts.get('a'), hosts.get('b')], stateDir);
  const stopHosts = async () => {
    await hosts.stop();
    rmSync(stateDir, { recursive: true, force: true });
    expect(findLeftovers({ runId: hosts.runId, netnsInodes: hosts.netnsInodes })).toEqual([]);
  };
  let system: TestSystem;
  try {
    system = await startTestSystem(prefix, {
      nodeLabels: (i) => ({ 'live-migration.io/simulated': 'false', [HOST_LABEL]: i === 0 ? 'a' : 'b' }),
      webhook: true,
      ...options,
      nodes: 2,
      nodeNames: ['a', 'b'],
      agents: vmAgents.agents,
    });
  } catch (error) {
    await stopHosts();
    throw error;
  }
  return {
    hosts,
    system,
    hostOf: vmAgents.hostOf,
    stateDir,
    stop: async () => {
      await system.stop().catch((error: unknown) => process.stderr.write(`[${prefix}] system stop: ${String(error)}\n`));
      await stopHosts();
    },
  };
}
