// Parsing of virsh output, on outputs captured from this project's test hosts (libvirt 9.0.0,
// QEMU 7.2, Debian 12): a 192 MiB guest migrating at --bandwidth 8, and libvirt's error messages.
import { describe, expect, it } from '@jest/globals';
import { classifyLibvirtError, parseDomainState, parseJobStats, parseLocalDisks, parseShareableTargets, ParseError, toProgressSample } from './parse.js';
import { libvirtMessage } from './virsh.js';

// `virsh -q domjobinfo --rawstats ns_vm` 1.5 s into `migrate --live --p2p --bandwidth 8`.
const RUNNING = `Job type: 2

operation: 5
time_elapsed: 1530
downtime: 300
setup_time: 2
data_total: 201719808
data_processed: 10936857
data_remaining: 174219264
memory_total: 201719808
memory_processed: 10936857
memory_remaining: 174219264
memory_bps: 8413380
memory_constant: 4058
memory_normal: 2656
memory_normal_bytes: 10878976
memory_dirty_rate: 0
memory_iteration: 1
memory_postcopy_requests: 0
memory_page_size: 4096
disk_total: 0
disk_processed: 0
disk_remaining: 0

`;

// The same with no job on the domain.
const IDLE = 'Job type: 0\n\n\n';

describe('domjobinfo --rawstats', () => {
  it('reads a running outgoing migration as exact integers', () => {
    const stats = parseJobStats(RUNNING);
    expect(stats.type).toBe('Unbounded');
    expect(stats.operation).toBe(5);
    expect(stats.fields.data_processed).toBe(10936857);
    expect(stats.fields.memory_page_size).toBe(4096);
  });

  it('turns it into a progress sample: processed + remaining, bandwidth, ETA, expected downtime', () => {
    const sample = toProgressSample(parseJobStats(RUNNING), new Date('2026-11-28T08:31:04.808Z'));
    expect(sample).toEqual({
      dataProcessedBytes: 10936857,
      dataRemainingBytes: 174219264,
      dataTotalBytes: 10936857 + 174219264,
      bandwidthBytesPerSecond: 8413380,
      dirtyRateBytesPerSecond: 0,
      iteration: 1,
      etaSeconds: Math.ceil(174219264 / 8413380),
      expectedDowntimeMs: 300,
      sampledAt: '2026-11-28T08:31:04.808Z',
    });
  });

  it('computes the dirty rate as pages/s × page size; no ETA while the guest dirties faster than the link', () => {
    const dirty = RUNNING.replace('memory_dirty_rate: 0', 'memory_dirty_rate: 8000').replace('memory_iteration: 1', 'memory_iteration: 4');
    const sample = toProgressSample(parseJobStats(dirty), new Date(0));
    expect(sample?.dirtyRateBytesPerSecond).toBe(8000 * 4096);
    expect(sample?.iteration).toBe(4);
    expect(sample?.etaSeconds).toBeNull();
  });

  it('gives no sample while libvirt sets the job up (everything 0 for its first ~0.8 s)', () => {
    // As polled right after `virsh migrate` started: time_elapsed 9…772 ms with all data fields 0.
    const setup = 'Job type: 2\n\noperation: 5\ntime_elapsed: 9\ndata_total: 0\ndata_processed: 0\ndata_remaining: 0\nmemory_total: 0\nmemory_processed: 0\nmemory_remaining: 0\nmemory_iteration: 0\nmemory_dirty_rate: 0\n';
    expect(toProgressSample(parseJobStats(setup), new Date(0))).toBeUndefined();
    // The first real sample may come before libvirt has a bandwidth (no memory_bps yet).
    const first = 'Job type: 2\n\noperation: 5\ntime_elapsed: 772\ndata_total: 201719808\ndata_processed: 319713\ndata_remaining: 184811520\nmemory_iteration: 1\nmemory_dirty_rate: 0\nmemory_page_size: 4096\n';
    expect(toProgressSample(parseJobStats(first), new Date(0))).toMatchObject({ dataProcessedBytes: 319713, bandwidthBytesPerSecond: 0, etaSeconds: null });
  });

  it('reads "no job"', () => {
    expect(parseJobStats(IDLE)).toEqual({ type: 'None', fields: {} });
  });

  it('refuses anything else rather than guessing', () => {
    // The human format (without --rawstats) rounds to 0.001 MiB: refused.
    expect(() => parseJobStats('Job type:         Unbounded   \nOperation:        Outgoing migration\n')).toThrow(ParseError);
    expect(() => parseJobStats('')).toThrow(/first line is not "Job type: N"/);
    expect(() => parseJobStats('Job type: 9\n')).toThrow(/unknown job type 9/);
    expect(() => parseJobStats(`${RUNNING}data_processed: 1\n`)).toThrow(/given twice/);
    expect(() => parseJobStats('Job type: 2\noperation: five\n')).toThrow(/unexpected line/);
    // A running job without the fields a sample needs is an error too.
    expect(() => toProgressSample(parseJobStats('Job type: 2\noperation: 5\ndata_total: 5\n'), new Date(0))).toThrow(/no data_processed/);
  });
});

describe('domstate --reason', () => {
  it.each([
    ['running (booted)\n\n', { state: 'running', reason: 'booted' }],
    ['running (migrated)\n\n', { state: 'running', reason: 'migrated' }],
    ['paused (migrating)\n\n', { state: 'paused', reason: 'migrating' }],
    ['shut off (unknown)\n', { state: 'shut off', reason: 'unknown' }],
    ['running\n', { state: 'running' }],
  ])('%j', (text, expected) => {
    expect(parseDomainState(text)).toEqual(expected);
  });

  it('refuses an unknown state or extra lines', () => {
    expect(() => parseDomainState('levitating (booted)\n')).toThrow(ParseError);
    expect(() => parseDomainState('running (booted)\nrunning (booted)\n')).toThrow(/exactly one line/);
  });
});

describe('domblklist --details', () => {
  it('lists file and block disks (what --copy-storage-all copies); a guest without disks prints nothing', () => {
    expect(parseLocalDisks('')).toEqual([]);
    expect(parseLocalDisks(' file   disk   vda   /var/lib/libvirt/images/vm.qcow2\n file   cdrom  sda   -\n network disk vdb pool/img\n')).toEqual([
      { type: 'file', target: 'vda', source: '/var/lib/libvirt/images/vm.qcow2' },
    ]);
  });
});

describe('libvirt error messages', () => {
  // virsh's stderr as captured: the "error: " lines are libvirt's message.
  it('keeps libvirt\'s own words', () => {
    expect(libvirtMessage("error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/tmp/nonexistent-sock': No such file or directory\n")).toBe(
      "failed to connect to the hypervisor; Failed to connect socket to '/tmp/nonexistent-sock': No such file or directory",
    );
  });

  it.each([
    ["failed to get domain 'nosuch'", 'domain-not-found'],
    ["Domain not found: no domain with matching name 'vm'", 'domain-not-found'],
    ['Requested operation is not valid: no job is active on the domain', 'no-job'],
    ["operation aborted: job 'migration out' canceled by client", 'aborted-by-client'],
    ["failed to connect to the hypervisor; Failed to connect socket to '/tmp/nonexistent-sock': No such file or directory", 'unreachable'],
    ["unable to connect to server at '10.200.0.99:16509': No route to host", 'unreachable'],
    ['Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainMigratePerform3Params)', 'busy'],
    ['internal error: unable to execute QEMU command', 'other'],
  ])('%s → %s', (message, kind) => {
    expect(classifyLibvirtError(message)).toBe(kind);
  });
});

describe('parseShareableTargets', () => {
  it('names the target of every shareable disk and no other', () => {
    const xml = `<domain><devices>
      <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='/pv/shared/disk.img'/><target dev='vda' bus='virtio'/><shareable/></disk>
      <disk type='file' device='disk'>
        <source file='/var/lib/empty/x.qcow2'/>
        <target dev='vdb' bus='virtio'/>
      </disk>
      <disk type='file' device='disk'>
        <source file='/pv/other/disk.img'/>
        <target dev='sda' bus='sata'/>
        <shareable/>
      </disk>
    </devices></domain>`;
    expect([...parseShareableTargets(xml)].sort()).toEqual(['sda', 'vda']);
    expect(parseShareableTargets('<domain><devices></devices></domain>').size).toBe(0);
  });
});
