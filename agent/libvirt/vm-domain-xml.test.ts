import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { parseVmiUid, vmDomainXml } from './vm-domain-xml.js';

const vmi: VirtualMachineInstance = {
  metadata: {
    name: 'vm-small',
    namespace: 'demo',
    uid: '1111-2222',
    annotations: { 'live-migration.io/kernel': '/guest/vmlinux', 'live-migration.io/initrd': '/guest/initrd.img', 'live-migration.io/kernel-args': 'console=ttyS0 a=<b>' },
  },
  spec: { domain: { memory: { guest: '128Mi' }, cpu: { sockets: 1, cores: 2, threads: 1 } } },
};

describe('the domain of a VMI', () => {
  it("is named <namespace>_<name>, carries the VMI's UID, its memory, topology, kernel boot and console", () => {
    const xml = vmDomainXml(vmi, { domainType: 'qemu', consoleFile: '/var/log/c.log', disks: [] });
    expect(xml).toContain('<name>demo_vm-small</name>');
    expect(xml).toContain("<lmvm:vmi xmlns:lmvm='https://live-migration.io/agent/vmi/v1' uid='1111-2222'/>");
    expect(xml).toContain(`<memory unit='b'>${128 * 2 ** 20}</memory>`);
    expect(xml).toContain("<vcpu placement='static'>2</vcpu>");
    expect(xml).toContain("<topology sockets='1' cores='2' threads='1'/>");
    expect(xml).toContain('<kernel>/guest/vmlinux</kernel>');
    expect(xml).toContain('<cmdline>console=ttyS0 a=&lt;b&gt;</cmdline>');
    expect(xml).toContain("<serial type='file'><source path='/var/log/c.log' append='on'/>");
  });

  it('boots from the first disk without a kernel, and names disks per bus in order', () => {
    const plain = { ...vmi, metadata: { ...vmi.metadata, annotations: {} } };
    const xml = vmDomainXml(plain, {
      domainType: 'kvm',
      consoleFile: '/c',
      disks: [
        { name: 'root', file: '/d/root.img', format: 'raw', bus: 'virtio' },
        { name: 'data', file: '/d/data.img', format: 'raw', bus: 'sata', shared: true },
        { name: 'scratch', file: '/d/s.qcow2', format: 'qcow2', bus: 'virtio' },
      ],
    });
    expect(xml).toContain("<boot dev='hd'/>");
    expect(xml).toContain("<target dev='vda' bus='virtio'/><alias name='ua-root'/>");
    expect(xml).toContain("<target dev='sda' bus='sata'/><alias name='ua-data'/><shareable/></disk>");
    expect(xml).toContain("<alias name='ua-root'/></disk>");
    expect(xml).toContain("<driver name='qemu' type='qcow2' cache='none'/><source file='/d/s.qcow2'/><target dev='vdb' bus='virtio'/>");
    expect(xml).toContain("<cpu mode='host-model'>");
  });

  it('refuses a VMI without memory', () => {
    expect(() => vmDomainXml({ metadata: { name: 'x' }, spec: {} }, { domainType: 'qemu', consoleFile: '/c', disks: [] })).toThrow('no guest memory');
  });

  it('reads our UID back from virsh metadata', () => {
    expect(parseVmiUid("<lmvm:vmi xmlns:lmvm='https://live-migration.io/agent/vmi/v1' uid='1111-2222'/>")).toBe('1111-2222');
    expect(parseVmiUid('<vmi uid="abc"/>\n')).toBe('abc');
    expect(parseVmiUid('<other/>')).toBeUndefined();
  });
});
