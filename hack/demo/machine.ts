// The facts chooseDemo decides on, read from this machine: what the two-host harness needs (root,
// libvirtd, virsh, QEMU, unshare, ip; the guest image) and a network namespace really created and
// deleted (a container may forbid it even to root).
import { execFileSync } from 'node:child_process';
import { assertHostPrerequisites, guestImage, toolEnv } from '../../test/hosts/paths.js';
import { DEMO_OVERRIDE, type MachineFacts } from './mode.js';

function problemOf(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function netnsProblem(): string | undefined {
  const name = `lmprobe-${process.pid}`;
  const problem = problemOf(() => execFileSync('ip', ['netns', 'add', name], { env: toolEnv(), stdio: ['ignore', 'ignore', 'pipe'] }));
  if (problem) return `cannot create a network namespace (${problem.split('\n').find((l) => l.trim() && !l.startsWith('Command failed')) ?? problem})`;
  execFileSync('ip', ['netns', 'del', name], { env: toolEnv(), stdio: 'ignore' });
  return undefined;
}

export function readMachineFacts(): MachineFacts {
  const override = process.env[DEMO_OVERRIDE];
  // Probing takes a namespace; not worth it when the simulation was asked for.
  if (override === 'simulation') return { override, problems: [] };
  const basics = problemOf(assertHostPrerequisites) ?? problemOf(guestImage);
  return { override, problems: [basics ?? netnsProblem()].filter((p): p is string => p !== undefined) };
}
