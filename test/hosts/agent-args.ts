// The flags that point a libvirt agent at one test host: its libvirtd (and admin socket), the
// address peers dial, its migration TLS files and a state dir of its own. Tests and benchmarks add
// their own flags after these.
import type { TestHost } from './test-hosts.js';

export function libvirtAgentArgs(host: TestHost, stateDir: string): string[] {
  return [
    `--libvirt-uri=${host.uri}`,
    `--libvirt-admin-uri=${host.adminUri}`,
    `--migration-address=${host.address}`,
    `--migration-tls-dir=${host.tlsDir}`,
    `--state-dir=${stateDir}`,
  ];
}
