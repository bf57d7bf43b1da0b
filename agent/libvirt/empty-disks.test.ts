import { describe, expect, it } from '@jest/globals';
import { parseVolumeNames } from './empty-disks.js';

describe('parseVolumeNames', () => {
  it('takes our volumes from `virsh -q vol-list` (and from a table with its header)', () => {
    const quiet = ' ns_vm_data.qcow2   /var/lib/libvirt/live-migration-empty-disks/ns_vm_data.qcow2\n ns_b_x.qcow2  /p/ns_b_x.qcow2\n';
    expect(parseVolumeNames(quiet)).toEqual(['ns_vm_data.qcow2', 'ns_b_x.qcow2']);
    expect(parseVolumeNames(` Name   Path\n------------\n${quiet}`)).toEqual(['ns_vm_data.qcow2', 'ns_b_x.qcow2']);
    expect(parseVolumeNames(' other.img  /p/other.img\n\n')).toEqual([]);
  });
});
