import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { VM_FINALIZER } from '../../api/vmi-status.js';
import { decideVm } from './decide.js';
import type { VmInfo } from './vm-host.js';

const vmi = (status: VirtualMachineInstance['status'], meta: Partial<VirtualMachineInstance['metadata']> = {}): VirtualMachineInstance => ({
  metadata: { name: 'v', namespace: 'ns', uid: 'u1', ...meta },
  spec: {},
  status,
});
const running: VmInfo = { key: 'ns/v', uid: 'u1', state: 'Running' };
const withFinalizer = { finalizers: [VM_FINALIZER] };

describe('the agent decides per VMI', () => {
  it('adds the finalizer, then starts a VMI scheduled here, then reports it Running once', () => {
    expect(decideVm('a', vmi({ phase: 'Scheduled', nodeName: 'a' }), undefined, true)).toEqual({ kind: 'add-finalizer' });
    expect(decideVm('a', vmi({ phase: 'Scheduled', nodeName: 'a' }, withFinalizer), undefined, true)).toEqual({ kind: 'start' });
    // Restarted between the start and the status write: the VM is there, so no second start.
    expect(decideVm('a', vmi({ phase: 'Scheduled', nodeName: 'a' }, withFinalizer), running, false)).toEqual({ kind: 'report', phase: 'Running' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a', conditions: [{ type: 'Ready', status: 'True' }] }, withFinalizer), running, false)).toEqual({ kind: 'none' });
  });

  it('leaves VMIs of other nodes alone, releases a stale copy, never touches an incoming migration', () => {
    expect(decideVm('a', vmi({ phase: 'Scheduled', nodeName: 'b' }), undefined, true)).toEqual({ kind: 'none' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'b' }), running, true)).toEqual({ kind: 'release' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'b', migrationState: { targetNode: 'a' } }), running, true)).toEqual({ kind: 'none' });
  });

  it('adopts a VMI Running here with no VM only on a host that adopts; otherwise it failed', () => {
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }), undefined, true)).toEqual({ kind: 'adopt' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }), undefined, false)).toEqual({ kind: 'report', phase: 'Failed', reason: 'the VM is gone from node a' });
    // Gone because it is migrating away: the VMI moves to the target soon, nothing to report.
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a', migrationState: { sourceNode: 'a', targetNode: 'b' } }), undefined, false)).toEqual({ kind: 'none' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a', migrationState: { sourceNode: 'a', targetNode: 'b', failed: true } }), undefined, false)).toMatchObject({ phase: 'Failed' });
  });

  it('reports a guest that stopped on its own, and never leaves a final phase', () => {
    const off: VmInfo = { ...running, state: 'Succeeded' };
    const crashed: VmInfo = { ...running, state: 'Failed', reason: 'crashed (panicked)' };
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }), off, false)).toEqual({ kind: 'report', phase: 'Succeeded' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }), crashed, false)).toEqual({ kind: 'report', phase: 'Failed', reason: 'crashed (panicked)' });
    // Once the final phase is written (the cache has it), the stopped VM goes: no domain stays defined.
    expect(decideVm('a', vmi({ phase: 'Succeeded', nodeName: 'a' }), off, false)).toEqual({ kind: 'release' });
    expect(decideVm('a', vmi({ phase: 'Failed', nodeName: 'a' }, withFinalizer), crashed, false)).toEqual({ kind: 'release' });
    expect(decideVm('a', vmi({ phase: 'Succeeded', nodeName: 'a' }), undefined, true)).toEqual({ kind: 'none' });
    expect(decideVm('a', vmi({ phase: 'Failed', nodeName: 'a' }), running, true)).toEqual({ kind: 'shutdown' });
  });

  it('on delete: shuts the guest down, then drops the finalizer once it is gone', () => {
    const deleting = { ...withFinalizer, deletionTimestamp: 'T' };
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }, deleting), running, false)).toEqual({ kind: 'shutdown' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }, deleting), { ...running, state: 'Succeeded' }, false)).toEqual({ kind: 'release' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }, deleting), undefined, true)).toEqual({ kind: 'remove-finalizer' });
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }, { deletionTimestamp: 'T' }), undefined, true)).toEqual({ kind: 'none' });
  });

  it('leaves a VMI run by someone else alone', () => {
    const external = { annotations: { 'live-migration.io/placement': 'external' } };
    expect(decideVm('a', vmi({ phase: 'Running', nodeName: 'a' }, external), undefined, true)).toEqual({ kind: 'none' });
    expect(decideVm('a', vmi({ phase: 'Failed', nodeName: 'a' }, external), running, true)).toEqual({ kind: 'none' });
  });

  it('treats a VM whose VMI is gone, or of another UID, as an orphan', () => {
    expect(decideVm('a', undefined, running, true)).toEqual({ kind: 'shutdown-orphan' });
    expect(decideVm('a', vmi({ phase: 'Scheduled', nodeName: 'a' }, { uid: 'u2' }), running, true)).toEqual({ kind: 'shutdown-orphan' });
    expect(decideVm('a', undefined, { ...running, state: 'Succeeded' }, true)).toEqual({ kind: 'release' });
    expect(decideVm('a', undefined, undefined, true)).toEqual({ kind: 'none' });
  });
});
