import { describe, expect, it } from '@jest/globals';
import { agentDialTarget, agentServerName } from './node-identity.js';

const node = { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'InternalIP', address: 'fd00::5' }, { type: 'Hostname', address: 'node-a' }] } };

describe('agentDialTarget', () => {
  it('dials the announced port on an address of the Node', () => {
    expect(agentDialTarget('node-a', node, 'https://10.0.0.5:8443')).toEqual({ ok: true, url: 'https://10.0.0.5:8443' });
    expect(agentDialTarget('node-a', node, 'https://[fd00::5]:8443/')).toEqual({ ok: true, url: 'https://[fd00::5]:8443' });
  });

  it.each([
    ['an address the Node does not have', 'https://10.0.0.66:8443', 'is not on an address of the Node (status.addresses: 10.0.0.5, fd00::5)'],
    ['a host name, even the Node’s own', 'https://node-a:8443', 'names a host, not an IP address'],
    ['plain http', 'http://10.0.0.5:8443', 'is not https'],
    ['no port', 'https://10.0.0.5', 'has no port number'],
    ['a path', 'https://10.0.0.5:8443/x', 'has more than scheme, host and port'],
    ['credentials', 'https://u:p@10.0.0.5:8443', 'has more than scheme, host and port'],
    ['not a URL', 'nonsense', 'is not a URL'],
  ])('refuses %s, saying why', (_what, endpoint, why) => {
    const target = agentDialTarget('node-a', node, endpoint);
    expect(target).toEqual({ ok: false, reason: expect.stringContaining(why) });
    expect(target.ok ? '' : target.reason).toContain('of node node-a');
  });

  it('refuses everything for a Node without addresses', () => {
    expect(agentDialTarget('node-a', { status: {} }, 'https://127.0.0.1:1')).toMatchObject({ ok: false, reason: expect.stringContaining('status.addresses: none') });
  });
});

describe('agentServerName', () => {
  it('is the node name under our identity domain', () => {
    expect(agentServerName('worker-3.example')).toBe('worker-3.example.agent.live-migration.io');
  });
});
