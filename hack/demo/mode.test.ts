import { describe, expect, it } from '@jest/globals';
import { chooseDemo } from './mode.js';

describe('chooseDemo', () => {
  it('runs real QEMU when nothing is missing', () => {
    expect(chooseDemo({ problems: [] }).mode).toBe('qemu');
  });

  it('falls back to the simulation and names the first problem', () => {
    const choice = chooseDemo({ problems: ['test hosts need root', 'no guest image'] });
    expect(choice.mode).toBe('simulation');
    expect(choice.why).toContain('test hosts need root');
    expect(choice.why).not.toContain('no guest image');
  });

  it('LIVE_MIGRATION_DEMO=simulation wins on a capable machine', () => {
    expect(chooseDemo({ override: 'simulation', problems: [] })).toEqual({ mode: 'simulation', why: 'simulated nodes: LIVE_MIGRATION_DEMO=simulation' });
  });

  it('LIVE_MIGRATION_DEMO=qemu on a machine that cannot is an error with the reason, not a silent fallback', () => {
    expect(() => chooseDemo({ override: 'qemu', problems: ['/usr/sbin/libvirtd is missing'] })).toThrow('LIVE_MIGRATION_DEMO=qemu, but this machine cannot run the libvirt hosts: /usr/sbin/libvirtd is missing');
    expect(chooseDemo({ override: 'qemu', problems: [] }).mode).toBe('qemu');
  });

  it('an unknown override names the variable and the values it takes', () => {
    expect(() => chooseDemo({ override: 'kvm', problems: [] })).toThrow('LIVE_MIGRATION_DEMO=kvm: must be "qemu" or "simulation"');
  });
});
