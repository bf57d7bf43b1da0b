// Test hosts: two libvirt "hosts" on one machine and a tiny guest that live-migrates between them.
// See README.md beside this file.
export { peerUri, startTestHosts, stopTestHostsRecord, type StartTestHostsOptions, type TestHost, type TestHosts, type TestHostsRecord } from './test-hosts.js';
export { defineGuest, domainState, guestXml, listDomains, startGuest, GUEST_OVERHEAD_MIB, type GuestSpec, type TestGuest } from './guest.js';
export { consolePath, heartbeats, readConsole, waitForConsole, waitForHeartbeat } from './console.js';
export { virsh, VirshError, libvirtMessage, type LibvirtEndpoint, type VirshOptions } from './virsh.js';
export { findLeftovers, type LeftoverQuery } from './leftovers.js';
export { LIBVIRTD_TLS_PORT, MIGRATION_PORTS } from './host-config.js';
export { writeHostTls, TLS_FILES, LIBVIRT_CLIENT_ALIASES, HOST_CERT_ORGANIZATION } from './host-tls.js';
export { TEMP_PREFIX, NETNS_PREFIX, assertHostPrerequisites, guestImage } from './paths.js';
export { startCapture, type Capture, type CaptureResult } from './capture.js';
export { libvirtAgentArgs } from './agent-args.js';
export { bootCount, guestVmi, vmiDomain, type GuestVmiOptions } from './guest-vmi.js';
