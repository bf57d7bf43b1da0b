import { describe, expect, it } from '@jest/globals';
import { V1MicroTime } from '@kubernetes/client-node';
import { agentIsLive, agentLeaseName } from './registration.js';

describe('agentIsLive', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');

  it('is live while the last renewal is younger than the lease duration', () => {
    const spec = { holderIdentity: 'node-1', leaseDurationSeconds: 40 };
    expect(agentIsLive({ spec: { ...spec, renewTime: new V1MicroTime(now - 39_000) } }, now)).toBe(true);
    expect(agentIsLive({ spec: { ...spec, renewTime: new V1MicroTime(now - 40_000) } }, now)).toBe(false);
  });

  it('reads renewTime as a watch delivers it: an RFC 3339 string with microseconds', () => {
    const lease = { spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:30.123456Z' } };
    expect(agentIsLive(lease, now)).toBe(true);
    expect(agentIsLive(lease, now + 11_000)).toBe(false);
  });

  it('is not live without a holder, a renewal or a duration, or with an unreadable time', () => {
    const renewTime = new V1MicroTime(now);
    expect(agentIsLive(undefined, now)).toBe(false);
    expect(agentIsLive({ spec: { holderIdentity: '', leaseDurationSeconds: 40, renewTime } }, now)).toBe(false);
    expect(agentIsLive({ spec: { holderIdentity: 'n', leaseDurationSeconds: 40 } }, now)).toBe(false);
    expect(agentIsLive({ spec: { holderIdentity: 'n', renewTime } }, now)).toBe(false);
    expect(agentIsLive({ spec: { holderIdentity: 'n', leaseDurationSeconds: 40, renewTime: 'yesterday' } }, now)).toBe(false);
  });

  it('names the lease after the node', () => {
    expect(agentLeaseName('node-7')).toBe('agent-node-7');
  });
});
