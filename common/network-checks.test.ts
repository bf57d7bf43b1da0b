import { describe, expect, it } from '@jest/globals';
import { checkIpAddress, checkMigrationDestination, checkVmiName, portOf } from './network-checks.js';

describe('checkMigrationDestination', () => {
  it('takes an IPv4 or IPv6 address and numeric ports with one stream port', () => {
    expect(checkMigrationDestination('10.0.0.2', { '16509': 0, '49152': 49152 })).toBeUndefined();
    expect(checkMigrationDestination('fd00::2', { '16509': 0 })).toBeUndefined();
  });

  it.each([
    ['a host name', 'evil.example', { '16509': 0 }, 'targetNodeAddress: must be an IPv4 or IPv6 address'],
    ['a URI fragment', '10.0.0.2/system?socket=/tmp/x', { '16509': 0 }, 'targetNodeAddress: must be an IPv4 or IPv6 address'],
    ['an address with a port', '10.0.0.2:22', { '16509': 0 }, 'targetNodeAddress: must be an IPv4 or IPv6 address'],
    ['a bracketed IPv6', '[fd00::2]', { '16509': 0 }, 'targetNodeAddress: must be an IPv4 or IPv6 address'],
    ['an IPv6 zone', 'fe80::1%eth0', { '16509': 0 }, 'targetNodeAddress: must be an IPv4 or IPv6 address'],
    ['no address', undefined, { '16509': 0 }, 'targetNodeAddress: must be an IPv4 or IPv6 address'],
    ['a port key that is text', '10.0.0.2', { '16509/system?x': 0 }, 'targetDirectMigrationNodePorts: key "16509/system?x" is not a port number'],
    ['port 0 as a key', '10.0.0.2', { '0': 0 }, 'targetDirectMigrationNodePorts: key "0" is not a port number'],
    ['a port over 65535', '10.0.0.2', { '70000': 0 }, 'targetDirectMigrationNodePorts: key "70000" is not a port number'],
    ['a negative value', '10.0.0.2', { '16509': 0, '49152': -1 }, 'targetDirectMigrationNodePorts.49152: must be 0 or a port number'],
    ['no stream port', '10.0.0.2', { '49152': 49152 }, 'targetDirectMigrationNodePorts: no port is mapped to 0'],
    ['no ports', '10.0.0.2', {}, 'targetDirectMigrationNodePorts: must list 1 to 16 ports'],
  ])('refuses %s, naming the field', (_what, address, ports, message) => {
    expect(checkMigrationDestination(address, ports)).toContain(message);
  });

  it('names the fields it is told (the agent API says destination.*)', () => {
    expect(checkMigrationDestination('x', {}, { address: 'destination.address', ports: 'destination.ports' })).toMatch(/^destination\.address: /);
  });
});

describe('portOf and checkIpAddress', () => {
  it('reads digits only', () => {
    expect(portOf('443')).toBe(443);
    expect(portOf('+443')).toBeUndefined();
    expect(portOf('0x1bb')).toBeUndefined();
    expect(portOf('443 ')).toBeUndefined();
  });

  it('takes only plain IPs', () => {
    expect(checkIpAddress('a', '127.0.0.1')).toBeUndefined();
    expect(checkIpAddress('a', 'localhost')).toMatch(/^a: must be an IPv4 or IPv6 address/);
  });
});

describe('checkVmiName', () => {
  it('takes DNS labels', () => {
    expect(checkVmiName({ namespace: 'demo', name: 'vmi-fedora-1' })).toBeUndefined();
  });

  it.each([
    [{ namespace: 'demo', name: '--help' }, 'vmi.name: must be a DNS label'],
    [{ namespace: 'demo', name: 'a b' }, 'vmi.name: must be a DNS label'],
    [{ namespace: 'demo', name: 'a.b' }, 'vmi.name: must be a DNS label'],
    [{ namespace: 'demo', name: 'x'.repeat(64) }, 'vmi.name: must be a DNS label'],
    [{ namespace: 'Demo', name: 'vmi' }, 'vmi.namespace: must be a DNS label'],
    [{ namespace: 'demo_x', name: 'vmi' }, 'vmi.namespace: must be a DNS label'],
  ])('refuses %j', (vmi, message) => {
    expect(checkVmiName(vmi)).toContain(message);
  });
});
