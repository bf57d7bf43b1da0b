// Strict parsers for what the libvirt driver reads from virsh, and the mapping of libvirt's error
// messages to what the driver does about them. Every parser throws a ParseError on anything it
// does not recognise: a misread job is worse than a failed call.
import type { ProgressSample } from '../contract.js';

export class ParseError extends Error {
  constructor(what: string, detail: string, text: string) {
    super(`cannot parse ${what}: ${detail} (output: ${JSON.stringify(text.length > 400 ? `${text.slice(0, 400)}…` : text)})`);
    this.name = 'ParseError';
  }
}

/** libvirt's virDomainJobType. */
export const JOB_TYPES = ['None', 'Bounded', 'Unbounded', 'Completed', 'Failed', 'Cancelled'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** libvirt's virDomainJobOperation (the ones the driver tells apart). */
export const JOB_OPERATION_MIGRATION_IN = 4;
export const JOB_OPERATION_MIGRATION_OUT = 5;

/** `virsh domjobinfo --rawstats DOM`: the job type and libvirt's typed parameters, as integers. */
export interface JobStats {
  type: JobType;
  /** virDomainJobOperation; undefined when no job runs. */
  operation?: number;
  fields: Readonly<Record<string, number>>;
}

/**
 * Parses `domjobinfo --rawstats`. Its shape (libvirt 9.0):
 *
 *   Job type: 2
 *   <blank>
 *   operation: 5
 *   time_elapsed: 1530
 *   data_processed: 10936857
 *   ...
 *
 * "Job type: 0" and nothing else when no job runs. Every field of a migration job is an integer.
 */
export function parseJobStats(text: string): JobStats {
  const lines = text.split('\n').map((line) => line.trimEnd()).filter((line) => line.trim() !== '');
  const first = lines[0];
  const typeMatch = first === undefined ? null : /^Job type:\s*(\d+)$/.exec(first.trim());
  if (!typeMatch) throw new ParseError('domjobinfo --rawstats', 'first line is not "Job type: N"', text);
  const typeIndex = Number(typeMatch[1]);
  const type = JOB_TYPES[typeIndex];
  if (type === undefined) throw new ParseError('domjobinfo --rawstats', `unknown job type ${typeIndex}`, text);
  const fields: Record<string, number> = {};
  for (const line of lines.slice(1)) {
    const match = /^\s*([a-z][a-z0-9_.]*):\s*(-?\d+)$/.exec(line);
    if (!match) throw new ParseError('domjobinfo --rawstats', `unexpected line ${JSON.stringify(line)}`, text);
    const [, key, value] = match as unknown as [string, string, string];
    if (key in fields) throw new ParseError('domjobinfo --rawstats', `field ${key} given twice`, text);
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new ParseError('domjobinfo --rawstats', `field ${key} is out of range`, text);
    fields[key] = n;
  }
  const operation = fields.operation;
  return { type, ...(operation !== undefined ? { operation } : {}), fields };
}

function field(stats: JobStats, key: string): number {
  const value = stats.fields[key];
  if (value === undefined) throw new Error(`domjobinfo has no ${key} for a ${stats.type} job`);
  return value;
}

/**
 * A running outgoing migration's statistics as the contract's ProgressSample. Dirty rate is
 * libvirt's pages/s × page size; ETA is remaining ÷ (bandwidth − dirty rate) when that is positive.
 *
 * Undefined while libvirt sets the job up: for its first ~0.8 s (measured under TCG) the job
 * reports data_total, data_processed and data_remaining all 0. Passing that on as "0 bytes
 * remaining" would look like a finished copy, and every later sample like lost progress.
 */
export function toProgressSample(stats: JobStats, sampledAt: Date): ProgressSample | undefined {
  if ((stats.fields.data_total ?? 0) === 0) return undefined;
  const processed = field(stats, 'data_processed');
  const remaining = field(stats, 'data_remaining');
  const bandwidth = stats.fields.memory_bps ?? 0;
  const pageSize = stats.fields.memory_page_size ?? 4096;
  const dirtyRate = (stats.fields.memory_dirty_rate ?? 0) * pageSize;
  const net = bandwidth - dirtyRate;
  return {
    dataProcessedBytes: processed,
    dataRemainingBytes: remaining,
    // libvirt's data_total is the guest's RAM (+ disks), not processed + remaining; the contract's
    // total "grows when the guest dirties memory", so it is processed + remaining.
    dataTotalBytes: processed + remaining,
    bandwidthBytesPerSecond: bandwidth,
    dirtyRateBytesPerSecond: dirtyRate,
    iteration: Math.max(1, stats.fields.memory_iteration ?? 1),
    etaSeconds: remaining === 0 ? 0 : net > 0 ? Math.ceil(remaining / net) : null,
    expectedDowntimeMs: stats.fields.downtime ?? 0,
    sampledAt: sampledAt.toISOString(),
  };
}

export const DOMAIN_STATES = ['running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended', 'no state'] as const;
export type DomainStateName = (typeof DOMAIN_STATES)[number];

export interface DomainState {
  state: DomainStateName;
  /** libvirt's reason ("booted", "migrated", "migrating", "post-copy"…), when asked with --reason. */
  reason?: string;
}

/** Parses `virsh domstate --reason DOM`: "running (booted)", "paused (migrating)", "shut off (destroyed)". */
export function parseDomainState(text: string): DomainState {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines[0];
  if (lines.length !== 1 || line === undefined) throw new ParseError('domstate', 'expected exactly one line', text);
  const match = /^([a-z ]+?)(?: \(([a-z -]+)\))?$/.exec(line);
  const state = match?.[1] as DomainStateName | undefined;
  if (!match || state === undefined || !DOMAIN_STATES.includes(state)) throw new ParseError('domstate', `unknown state ${JSON.stringify(line)}`, text);
  return { state, ...(match[2] !== undefined ? { reason: match[2] } : {}) };
}

/** Parses `virsh domblklist --details DOM` into the disks a block migration must copy. */
export function parseLocalDisks(text: string): Array<{ type: string; target: string; source: string }> {
  const disks: Array<{ type: string; target: string; source: string }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || /^Type\s+Device\s+Target\s+Source$/.test(line) || /^-+$/.test(line)) continue;
    const parts = line.split(/\s+/);
    if (parts.length < 4) throw new ParseError('domblklist --details', `unexpected line ${JSON.stringify(line)}`, text);
    const [type, device, target, ...source] = parts as [string, string, string, ...string[]];
    if (device === 'disk' && (type === 'file' || type === 'block') && source.join(' ') !== '-') disks.push({ type, target, source: source.join(' ') });
  }
  return disks;
}

/** The target devices of a domain's `<shareable/>` disks (`virsh dumpxml`): on shared storage, never copied. */
export function parseShareableTargets(xml: string): Set<string> {
  const targets = new Set<string>();
  for (const [block] of xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    if (!/<shareable\s*\/>/.test(block)) continue;
    const dev = /<target\b[^>]*\bdev=['"]([^'"]+)['"]/.exec(block)?.[1];
    if (dev) targets.add(dev);
  }
  return targets;
}

/** What a libvirt error message means to the driver. */
export type LibvirtErrorKind =
  | 'domain-not-found'
  | 'no-job'
  | 'aborted-by-client'
  | 'unreachable'
  | 'busy'
  | 'no-metadata'
  | 'other';

export function classifyLibvirtError(message: string): LibvirtErrorKind {
  if (/failed to get domain '|Domain not found/.test(message)) return 'domain-not-found';
  if (/no job is active on the domain/.test(message)) return 'no-job';
  if (/operation aborted: .*canceled by client/.test(message)) return 'aborted-by-client';
  if (/failed to connect to the hypervisor|Failed to connect socket|unable to connect to server|End of file while reading data|Cannot recv data|Broken pipe/.test(message)) {
    return 'unreachable';
  }
  if (/metadata not found|Requested metadata element is not present/.test(message)) return 'no-metadata';
  if (/cannot acquire state change lock|another migration job is already running/i.test(message)) return 'busy';
  return 'other';
}
