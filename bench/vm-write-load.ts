// The second half of `npm run bench -- vm`: a guest migrated while it rewrites its memory, beside
// an idle guest of the same size migrated in the same run, both at one bandwidth cap.
//
// Both guests fill FILL_MIB of memory with non-zero data; the loaded one then rewrites that buffer
// in a loop (test/hosts/guest: lm.dirty=1), so the migration must chase dirty pages. The physical
// bound is the filled memory at the cap (FILL_MIB ÷ cap): no migration can copy it faster. Measured
// per guest: the migration's Running → Succeeded from the VMIM's own phase stamps, the bytes the
// source reported sent (the VMIM's progress), and whether the guest kept counting on the target
// without a new boot. Reported as ratios: each against the bound, and loaded ÷ idle.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../api/schemas/vmi.js';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import { guestVmi, heartbeats, readConsole, waitForConsole, waitForHeartbeat, type TestHost } from '../test/hosts/index.js';

const FILL_MIB = Number(process.env.BENCH_LOAD_FILL_MIB ?? 96);
const CAP_MIB = Number(process.env.BENCH_LOAD_CAP_MIB ?? 64);
const MIB = 2 ** 20;

export interface WriteLoadContext {
  custom: CustomObjectsApi;
  namespace: string;
  byNode: Record<string, TestHost>;
  image: { kernel: string; initrd: string };
  log: (message: string) => void;
}

interface MigrationRun {
  outcome: string;
  runningToFinalMs?: number;
  sentMiB?: number;
  peakDirtyMiBPerSecond: number;
  iterations: number;
  ratioToBound?: number;
  keptCounting: boolean;
}

function group(ctx: WriteLoadContext, plural: string) {
  return { group: 'kubevirt.io', version: 'v1', namespace: ctx.namespace, plural };
}

async function createGuest(ctx: WriteLoadContext, name: string, dirty: boolean): Promise<void> {
  await ctx.custom.createNamespacedCustomObject({
    ...group(ctx, 'virtualmachineinstances'),
    body: guestVmi(name, { namespace: ctx.namespace, image: ctx.image, fillMiB: FILL_MIB, dirty, grace: 2, memory: `${FILL_MIB + 128}Mi` }),
  });
}

async function readVmi(ctx: WriteLoadContext, name: string): Promise<VirtualMachineInstance> {
  return (await ctx.custom.getNamespacedCustomObject({ ...group(ctx, 'virtualmachineinstances'), name })) as VirtualMachineInstance;
}

async function waitForNode(ctx: WriteLoadContext, name: string): Promise<TestHost> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const vmi = await readVmi(ctx, name);
    const host = ctx.byNode[vmi.status?.nodeName ?? ''];
    if (vmi.status?.phase === 'Running' && host) return host;
    await sleep(200);
  }
  throw new Error(`VMI ${name} did not run within 300 s`);
}

function stamp(vmim: VirtualMachineInstanceMigration, phase: string): number | undefined {
  const at = vmim.status?.phaseTransitionTimestamps?.find((s) => s.phase === phase)?.phaseTransitionTimestamp;
  return at ? Date.parse(at) : undefined;
}

async function migrate(ctx: WriteLoadContext, vmi: string, dirty: boolean): Promise<MigrationRun> {
  const domain = `${ctx.namespace}_${vmi}`;
  const source = await waitForNode(ctx, vmi);
  await waitForConsole(source, domain, dirty ? /lm-dirtying/ : /lm-filled/, 300_000);
  const beforeSeq = await waitForHeartbeat(source, domain, 0, 60_000);
  const name = `load-${vmi}`;
  await ctx.custom.createNamespacedCustomObject({
    ...group(ctx, 'virtualmachineinstancemigrations'),
    body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec: { vmiName: vmi, migrationConfiguration: { bandwidthPerMigration: `${CAP_MIB}Mi` } } },
  });
  let sent = 0;
  let dirtyRate = 0;
  let iterations = 0;
  let vmim: VirtualMachineInstanceMigration | undefined;
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    vmim = (await ctx.custom.getNamespacedCustomObject({ ...group(ctx, 'virtualmachineinstancemigrations'), name })) as VirtualMachineInstanceMigration;
    sent = Math.max(sent, vmim.status?.progress?.dataProcessedBytes ?? 0);
    dirtyRate = Math.max(dirtyRate, vmim.status?.progress?.dirtyRateBytesPerSecond ?? 0);
    iterations = Math.max(iterations, vmim.status?.progress?.iteration ?? 0);
    if (vmim.status?.phase === 'Succeeded' || vmim.status?.phase === 'Failed') break;
    await sleep(250);
  }
  const phase = vmim?.status?.phase ?? 'unknown';
  const running = vmim && stamp(vmim, 'Running');
  const final = vmim && stamp(vmim, phase);
  const runningToFinalMs = running !== undefined && final !== undefined ? final - running : undefined;
  const boundMs = (FILL_MIB / CAP_MIB) * 1000;
  let keptCounting = false;
  if (phase === 'Succeeded') {
    const target = await waitForNode(ctx, vmi);
    const after = await waitForHeartbeat(target, domain, beforeSeq, 60_000);
    keptCounting = target !== source && after > beforeSeq && !/lm-booted/.test(readConsole(target, domain)) && heartbeats(readConsole(target, domain)).length > 0;
  }
  const reason = vmim?.status?.migrationState?.failureReason;
  return {
    outcome: phase === 'Failed' && reason ? `Failed: ${reason}` : phase,
    ...(runningToFinalMs !== undefined ? { runningToFinalMs, ratioToBound: Math.round((runningToFinalMs / boundMs) * 100) / 100 } : {}),
    sentMiB: Math.round(sent / MIB),
    peakDirtyMiBPerSecond: Math.round(dirtyRate / MIB),
    iterations,
    keptCounting,
  };
}

/** Migrates an idle and a loaded guest (one at a time, so they never share the link) and reports both. */
export async function measureWriteLoad(ctx: WriteLoadContext): Promise<Record<string, unknown>> {
  await createGuest(ctx, 'load-idle', false);
  await createGuest(ctx, 'load-dirty', true);
  ctx.log(`write load: an idle and a dirtying guest (${FILL_MIB} MiB filled), each migrated at ${CAP_MIB} MiB/s`);
  const idle = await migrate(ctx, 'load-idle', false);
  ctx.log(`idle guest: ${JSON.stringify(idle)}`);
  const dirty = await migrate(ctx, 'load-dirty', true);
  ctx.log(`loaded guest: ${JSON.stringify(dirty)}`);
  for (const name of ['load-idle', 'load-dirty']) await ctx.custom.deleteNamespacedCustomObject({ ...group(ctx, 'virtualmachineinstances'), name });
  const loadedOverIdle = idle.runningToFinalMs && dirty.runningToFinalMs ? Math.round((dirty.runningToFinalMs / idle.runningToFinalMs) * 100) / 100 : undefined;
  return {
    filledMiB: FILL_MIB,
    capMiBPerSecond: CAP_MIB,
    physicalBoundMs: Math.round((FILL_MIB / CAP_MIB) * 1000),
    idle,
    loaded: dirty,
    loadedOverIdle,
    note: 'bound = filled memory ÷ cap; the loaded guest rewrites its buffer without pause (TCG), so its pages are sent more than once',
  };
}
