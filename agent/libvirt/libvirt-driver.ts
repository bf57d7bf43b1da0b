// The libvirt driver: the MigrationDriver of a real node, talking to the node's libvirtd through
// virsh (virsh.ts says why). One driver, one node, one libvirt connection.
//
// How the contract maps to libvirt:
// - Domain naming: the VMI `<namespace>/<name>` is the libvirt domain `<namespace>_<name>`, as
//   KubeVirt's virt-launcher names it. Both parts are DNS labels, which never contain `_`, so the
//   mapping is one-to-one. A call about a VMI whose domain this node's libvirt does not have is
//   refused with NotFound: the agent never touches a domain that is not on its node.
// - prepareTarget, confirmArrival, releaseTarget: libvirt-target.ts.
// - startMigration: `virsh migrate --live --p2p --tls --persistent --undefinesource [--bandwidth MiB/s]
//   [--auto-converge] [--copy-storage-all] DOM qemu+tls://<target address>:<libvirt port>/system?pkipath=<TLS dir>`,
//   (libvirtd's peer connection is always TLS with this node's client certificate; `--tls` makes
//   QEMU's own stream TLS too, left out only when the start says disableTLS: kubevirt-config's
//   `migrations.disableTLS`. The TLS material is checked and libvirtd's listener reloaded first:
//   tls-reload.ts.)
//   spawned and tracked, never awaited: the call answers at once. Bandwidth: bytes/s rounded down
//   to whole MiB/s (libvirt's unit; never above the cap), at least 1; 0 = no --bandwidth
//   (unlimited). `--copy-storage-all` when the domain has file or block disks that are not
//   `<shareable/>` (BlockMigration).
//   maxDowntimeMs → `migrate-setmaxdowntime`: tried before the start (QEMU keeps its downtime-limit
//   parameter) and set again once the first sample sees the job running, as KubeVirt does (virsh
//   9.0's `migrate` has no downtime option; the command is documented for a domain being migrated).
//   Post-copy is not used (pre-copy only; allowPostCopy is accepted and ignored).
// - Progress: `domjobinfo --rawstats` every sampleIntervalMs (500 ms; KubeVirt samples every 400 ms)
//   while the job runs; the status call returns the latest sample. Dirty rate = pages/s × page size.
//   The job is SwitchingOver while libvirt has paused the source for the final copy.
// - Outcome: Completed only once the domain is gone from this node (--undefinesource removes it
//   after the target runs it); the reconciler then asks the target, whose confirmArrival checks
//   `domstate` is running. Aborted when libvirt says the job was cancelled (or ended after an abort
//   request) and the domain still runs here; Failed with libvirt's own message otherwise.
// - abortMigration: `domjobabort`, then waits (≤ abortWaitMs) for the job to end and answers from
//   what libvirt shows: aborted (domain still here), completed-first (it left). A job that has not
//   ended in time is an error, and the reconciler asks again.
// - Crash safety: a state file per migration (state-store.ts) names its domain before virsh
//   starts. After a restart, a migration without an outcome is watched again from libvirt: an
//   outgoing job on the domain is still running (libvirt's p2p job outlives the virsh that started
//   it); domain gone → Completed; domain here and no job → Aborted (abort had been asked) or Failed.
// - Agent replacement (state dir gone): the migration UID is also written into the domain's own
//   metadata before the job starts (domain-metadata.ts). A new agent scans its libvirt at start and
//   adopts every outgoing migration job on a domain whose element names this node; a call about a
//   UID it does not know looks for it there again. A domain found with the UID and no job means
//   the job ended unwatched: Failed (the guest is still here), never Completed.
// - One start per UID: prepare and start reserve the UID synchronously (SingleFlight) before their
//   first await, so concurrent calls share one outcome and one `virsh migrate`; a domain that
//   already has an outgoing job of the same UID (another agent instance started it) is adopted,
//   a job of anything else is a Conflict.
// - Bounded memory: records live in RecordTables; finished ones (and their state files) are kept
//   for an hour or the newest 1024, a prepared target for a day or an hour after its arrival.
import type {
  AbortResult,
  ArrivalStatus,
  MigrationDriver,
  MigrationJobState,
  MigrationJobStatus,
  PrepareTargetRequest,
  ProgressSample,
  StartMigrationRequest,
  TargetReady,
} from '../contract.js';
import { AgentCallError } from '../contract.js';
import {
  classifyLibvirtError,
  JOB_OPERATION_MIGRATION_OUT,
  parseJobStats,
  parseLocalDisks,
  parseShareableTargets,
  toProgressSample,
  type DomainState,
} from './parse.js';
import { RecordTable } from '../record-table.js';
import { SingleFlight } from '../single-flight.js';
import { readMetadata, scanDomains, writeMetadata, type MigrationMetadata } from './domain-metadata.js';
import { checkMigrationDestination } from '../../common/network-checks.js';
import { describe, domainName, isMigratedAway, readDomainState, silentLog, type DriverLog, type LibvirtDriverOptions } from './libvirt-common.js';
import { LibvirtTarget } from './libvirt-target.js';
import { StateStore, type OutcomeRecord, type OutgoingRecord } from './state-store.js';
import { MigrationTls } from './tls-reload.js';
import { spawnVirsh, virsh, VirshError, type VirshChild } from './virsh.js';

export { DEFAULT_LIBVIRT_PORT, DEFAULT_MIGRATION_PORT_MIN, domainName, type DriverLog, type LibvirtDriverOptions } from './libvirt-common.js';

const MIB = 1024 * 1024;
const FINISHED_KEPT = 1024;
const FINISHED_TTL_MS = 3600_000;

interface OutgoingJob {
  record: OutgoingRecord;
  child?: VirshChild;
  childResult?: { ok: true } | { ok: false; error: VirshError };
  state: MigrationJobState;
  sample?: ProgressSample;
  probing?: Promise<void>;
  probedOnce: boolean;
  timer?: NodeJS.Timeout;
  /** To set while the job runs; undefined once set (or after a restart: libvirt keeps what was set). */
  maxDowntimeMs?: number;
}

export class LibvirtDriver implements MigrationDriver {
  readonly name = 'libvirt';
  private readonly outgoing: RecordTable<OutgoingJob>;
  private readonly target: LibvirtTarget;
  private readonly starts = new SingleFlight<string, void>();
  private readonly lookups = new SingleFlight<string, OutgoingJob | undefined>();
  private readonly store: StateStore;
  private readonly log: DriverLog;
  private readonly now: () => Date;
  /** The first look at libvirt for jobs started by an earlier agent; calls wait for it. */
  private readonly discovery: Promise<void>;
  private readonly tls: MigrationTls;
  private closed = false;

  constructor(private readonly options: LibvirtDriverOptions) {
    this.log = options.log ?? silentLog;
    this.now = options.now ?? (() => new Date());
    this.store = new StateStore(options.stateDir);
    this.outgoing = new RecordTable({
      maxFinished: FINISHED_KEPT,
      finishedTtlMs: FINISHED_TTL_MS,
      onEvict: (_uid, job) => this.store.remove(job.record),
    });
    if (!/^\/[A-Za-z0-9._\/-]*$/.test(options.migrationTlsDir)) {
      throw new Error(`migration TLS dir ${JSON.stringify(options.migrationTlsDir)}: an absolute path of letters, digits, . _ - / (it goes into a libvirt URI)`);
    }
    this.tls = new MigrationTls({
      nodeName: options.nodeName,
      dir: options.migrationTlsDir,
      adminUri: options.adminUri ?? 'libvirtd:///system',
      address: options.migrationAddress,
      log: this.log,
      now: this.now,
      ...(options.tlsPollMs !== undefined ? { pollMs: options.tlsPollMs } : {}),
    });
    // libvirtd may hold older files than the disk: the first look tells it (logged if it fails; prepare and start look again).
    this.tls.ensureCurrent().catch((error: unknown) => this.log.warn({ node: options.nodeName, err: (error as Error).message }, 'migration TLS material not loaded'));
    this.target = new LibvirtTarget(options, this.store, this.log, this.now, () => this.tls.ensureCurrent());
    this.rediscover();
    this.discovery = this.discoverInLibvirt();
  }

  private get nowMs(): number {
    return this.now().getTime();
  }

  /** How many records the driver holds (for tests of its bound and for debugging). */
  get recordCounts(): { incoming: number; outgoing: number } {
    return { incoming: this.target.size, outgoing: this.outgoing.size };
  }

  private get node(): string {
    return this.options.nodeName;
  }

  /**
   * Stops watching (sampling timers) at shutdown. libvirt's jobs go on; the next agent finds them.
   */
  close(): void {
    this.closed = true;
    this.tls.close();
    for (const job of this.outgoing.values()) {
      if (job.timer) clearTimeout(job.timer);
      job.timer = undefined;
    }
  }

  // ---- target side (libvirt-target.ts) ----

  prepareTarget(request: PrepareTargetRequest): Promise<TargetReady> {
    return this.target.prepareTarget(request);
  }

  confirmArrival(migrationUid: string): Promise<ArrivalStatus> {
    return this.target.confirmArrival(migrationUid);
  }

  releaseTarget(migrationUid: string): Promise<void> {
    return this.target.releaseTarget(migrationUid);
  }

  // ---- source side ----

  startMigration(request: StartMigrationRequest): Promise<void> {
    if (this.outgoing.has(request.migrationUid)) return Promise.resolve();
    return this.starts.run(request.migrationUid, () => this.startOnce(request));
  }

  private async startOnce(request: StartMigrationRequest): Promise<void> {
    await this.discovery;
    if (this.outgoing.has(request.migrationUid)) return;
    const domain = domainName(request.vmi);
    const state = await this.domainState(domain);
    if (!state) throw new AgentCallError('NotFound', this.node, `domain ${domain} (VMI ${request.vmi.namespace}/${request.vmi.name}) is not on node ${this.node}`);
    if (state.state !== 'running') {
      throw new AgentCallError('Conflict', this.node, `domain ${domain} is ${describe(state)} on ${this.node}; only a running domain live-migrates`);
    }
    this.refuseIfMigrating(domain, request.migrationUid);
    // A job libvirt runs on the domain already: ours if it is this UID's outgoing migration
    // (started by an agent instance before this one), else someone else's.
    const stats = parseJobStats(await virsh(this.options.uri, ['domjobinfo', '--rawstats', domain], { timeoutMs: 4_000 }));
    if (stats.type === 'Bounded' || stats.type === 'Unbounded') {
      const metadata = await readMetadata(this.options.uri, domain);
      if (stats.operation === JOB_OPERATION_MIGRATION_OUT && metadata?.migrationUid === request.migrationUid && metadata.sourceNode === this.node) {
        if (!this.outgoing.has(request.migrationUid)) this.adopt(domain, metadata);
        return;
      }
      throw new AgentCallError('Conflict', this.node, `domain ${domain} has a libvirt job already (operation ${stats.operation ?? 'unknown'}${metadata ? `, migration ${metadata.migrationUid}` : ''})`);
    }
    // Checked again here, not only by the API's body check: this string becomes a URI libvirt dials.
    const badDestination = checkMigrationDestination(request.destination.address, request.destination.ports, { address: 'destination.address', ports: 'destination.ports' });
    if (badDestination) throw new AgentCallError('Conflict', this.node, badDestination);
    const portEntry = Object.entries(request.destination.ports).find(([, proxied]) => proxied === 0);
    if (!portEntry || !request.destination.address) {
      throw new AgentCallError('Conflict', this.node, `destination ${request.destination.nodeName} names no libvirt address and port (a port mapped to 0)`);
    }
    const host = request.destination.address.includes(':') ? `[${request.destination.address}]` : request.destination.address;
    const destinationUri = `qemu+tls://${host}:${portEntry[0]}/system?pkipath=${this.options.migrationTlsDir}`;
    // Rotated files reach libvirtd before this migration reads them.
    await this.tls.ensureCurrent();

    const args = ['migrate', '--live', '--p2p', '--persistent', '--undefinesource'];
    if (request.disableTLS !== true) args.push('--tls');
    if (request.bandwidthBytesPerSecond > 0) args.push('--bandwidth', String(Math.max(1, Math.floor(request.bandwidthBytesPerSecond / MIB))));
    if (request.allowAutoConverge) args.push('--auto-converge');
    // Shareable disks (a ReadWriteMany claim) are on storage both nodes see: copying one would write
    // it onto itself. libvirt skips them under --copy-storage-all; without a local disk, no copy.
    const shared = parseShareableTargets(await virsh(this.options.uri, ['dumpxml', domain]));
    const disks = parseLocalDisks(await virsh(this.options.uri, ['domblklist', '--details', domain])).filter((d) => !shared.has(d.target));
    if (disks.length > 0) args.push('--copy-storage-all');
    args.push(domain, destinationUri);
    if (request.maxDowntimeMs !== undefined) {
      // Refused by a libvirt that only takes it during a migration: set again once the job runs.
      await virsh(this.options.uri, ['migrate-setmaxdowntime', domain, String(request.maxDowntimeMs)]).catch((error: unknown) => {
        this.log.info({ node: this.node, domain, err: String(error) }, 'maximum downtime not taken before the start; set once the job runs');
      });
    }

    const record: OutgoingRecord = {
      kind: 'outgoing',
      migrationUid: request.migrationUid,
      domain,
      targetNode: request.destination.nodeName,
      destinationUri,
      startedAt: this.now().toISOString(),
    };
    // Both written before virsh starts: after a crash the job is found by its domain, from the
    // state file or, with the state dir gone, from the domain's own metadata.
    await writeMetadata(this.options.uri, domain, { migrationUid: record.migrationUid, sourceNode: this.node, targetNode: record.targetNode, startedAt: record.startedAt });
    this.refuseIfMigrating(domain, request.migrationUid);
    this.store.save(record);
    const job: OutgoingJob = { record, state: 'Running', probedOnce: false, maxDowntimeMs: request.maxDowntimeMs };
    this.outgoing.set(request.migrationUid, job, this.nowMs);
    const child = spawnVirsh(this.options.uri, args, this.options.maxMigrationMs ?? 24 * 3600_000);
    job.child = child;
    this.log.info({ node: this.node, uid: request.migrationUid, domain, args: args.join(' '), pid: child.pid, encrypted: request.disableTLS !== true }, 'migration started');
    if (request.disableTLS === true) this.log.warn({ node: this.node, uid: request.migrationUid, domain }, 'migration stream NOT encrypted (kubevirt-config migrations.disableTLS)');
    void child.done.then(async (result) => {
      job.childResult = result;
      if (!result.ok) this.log.info({ node: this.node, uid: request.migrationUid, domain, libvirt: result.error.libvirtMessage }, 'virsh migrate ended with an error');
      // A look that began before the exit cannot know it: settle with a fresh one right away,
      // not at the next sample (the reconciler polls fast during the switch-over).
      await job.probing;
      await this.probe(job);
    });
    this.scheduleSample(job);
  }

  private refuseIfMigrating(domain: string, migrationUid: string): void {
    for (const job of this.outgoing.values()) {
      if (job.record.domain === domain && job.record.outcome === undefined && job.record.migrationUid !== migrationUid) {
        throw new AgentCallError('Conflict', this.node, `domain ${domain} is already migrating (migration ${job.record.migrationUid})`);
      }
    }
  }

  async migrationStatus(migrationUid: string): Promise<MigrationJobStatus | undefined> {
    const job = await this.findOutgoing(migrationUid);
    if (!job) return undefined;
    if (job.record.outcome === undefined) {
      // The first call after a (re)start needs a full look; later ones a quick one, because the
      // sampler's domjobinfo can wait on libvirt's job lock for as long as the switch-over lasts.
      if (!job.probedOnce) await this.probe(job);
      else await this.quickLook(job);
    }
    const outcome = job.record.outcome;
    return {
      migrationUid,
      state: outcome?.state ?? job.state,
      ...(job.sample ? { progress: job.sample } : {}),
      ...(outcome?.failure !== undefined ? { failure: outcome.failure } : {}),
    };
  }

  async abortMigration(migrationUid: string): Promise<AbortResult> {
    const job = await this.findOutgoing(migrationUid);
    if (!job) return { result: 'not-found' };
    await this.probe(job);
    if (job.record.outcome) return abortResultOf(job.record.outcome);
    if (!job.record.abortRequested) {
      job.record.abortRequested = true;
      this.store.save(job.record);
    }
    try {
      await virsh(this.options.uri, ['domjobabort', job.record.domain]);
      this.log.info({ node: this.node, uid: migrationUid, domain: job.record.domain }, 'migration job abort requested');
    } catch (error) {
      if (!(error instanceof VirshError)) throw error;
      const kind = classifyLibvirtError(error.libvirtMessage);
      // No job (it just ended) or no domain (it just left): what happened is read below.
      if (kind !== 'no-job' && kind !== 'domain-not-found') {
        if (kind === 'unreachable' || error.timedOut) throw error;
        return { result: 'failed', message: error.libvirtMessage };
      }
    }
    const deadline = Date.now() + (this.options.abortWaitMs ?? 4_000);
    for (;;) {
      await this.probe(job);
      if (job.record.outcome) return abortResultOf(job.record.outcome);
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`abort of ${job.record.domain} requested; libvirt's migration job has not ended yet`);
  }

  // ---- finding a job this agent did not start ----

  /** The job of a UID: known, being started, or found in libvirt by the domain's metadata. */
  private async findOutgoing(migrationUid: string): Promise<OutgoingJob | undefined> {
    const known = this.outgoing.get(migrationUid);
    if (known) return known;
    const starting = this.starts.get(migrationUid);
    if (starting) await starting.catch(() => undefined);
    return this.outgoing.get(migrationUid) ?? this.lookups.run(migrationUid, () => this.lookUp(migrationUid));
  }

  private async lookUp(migrationUid: string): Promise<OutgoingJob | undefined> {
    await this.discovery;
    const found = (await scanDomains(this.options.uri)).find((d) => d.metadata.migrationUid === migrationUid && d.metadata.sourceNode === this.node);
    const starting = this.starts.get(migrationUid);
    if (starting) await starting.catch(() => undefined);
    const known = this.outgoing.get(migrationUid);
    if (known || !found) return known;
    // Found with or without a job: the first probe tells which (no job, domain here → Failed).
    return this.adopt(found.domain, found.metadata);
  }

  /** Watches a migration job found in libvirt (started by an agent instance before this one). */
  private adopt(domain: string, metadata: MigrationMetadata): OutgoingJob {
    const record: OutgoingRecord = {
      kind: 'outgoing',
      migrationUid: metadata.migrationUid,
      domain,
      targetNode: metadata.targetNode,
      destinationUri: '',
      startedAt: metadata.startedAt,
    };
    this.store.save(record);
    const job: OutgoingJob = { record, state: 'Running', probedOnce: false };
    this.outgoing.set(record.migrationUid, job, this.nowMs);
    this.log.info({ node: this.node, uid: record.migrationUid, domain }, 'migration found in libvirt (started by an earlier agent); watching it');
    void this.probe(job).finally(() => this.scheduleSample(job));
    return job;
  }

  /** At start: every outgoing migration job on a domain whose metadata names this node is adopted. */
  private async discoverInLibvirt(): Promise<void> {
    try {
      for (const { domain, metadata } of await scanDomains(this.options.uri)) {
        if (metadata.sourceNode !== this.node || this.outgoing.has(metadata.migrationUid)) continue;
        const stats = parseJobStats(await virsh(this.options.uri, ['domjobinfo', '--rawstats', domain], { timeoutMs: 4_000 }));
        const running = (stats.type === 'Bounded' || stats.type === 'Unbounded') && stats.operation === JOB_OPERATION_MIGRATION_OUT;
        if (running && !this.outgoing.has(metadata.migrationUid)) this.adopt(domain, metadata);
      }
    } catch (error) {
      // libvirt not answering yet: calls about unknown UIDs look again.
      this.log.warn({ node: this.node, err: error instanceof Error ? error.message : String(error) }, 'could not look for migration jobs in libvirt');
    }
  }

  // ---- watching a job ----

  private scheduleSample(job: OutgoingJob): void {
    if (job.record.outcome || job.timer || this.closed) return;
    job.timer = setTimeout(() => {
      job.timer = undefined;
      void this.probe(job).finally(() => this.scheduleSample(job));
    }, this.options.sampleIntervalMs ?? 500);
    job.timer.unref();
  }

  /** One look at libvirt (shared by concurrent callers); may settle the outcome. */
  private probe(job: OutgoingJob): Promise<void> {
    if (job.record.outcome || this.closed) return Promise.resolve();
    job.probing ??= this.probeOnce(job)
      .catch((error: unknown) => {
        // A failed look (libvirt busy or down) changes nothing we know; the next sample tries again.
        this.log.warn({ node: this.node, uid: job.record.migrationUid, err: error instanceof Error ? error.message : String(error) }, 'could not read the migration job');
      })
      .finally(() => {
        job.probing = undefined;
        job.probedOnce = true;
      });
    return job.probing;
  }

  /** Once per job, while it runs; a failure is logged and the downtime libvirt has stays. */
  private async setMaxDowntime(job: OutgoingJob, ms: number): Promise<void> {
    job.maxDowntimeMs = undefined;
    await virsh(this.options.uri, ['migrate-setmaxdowntime', job.record.domain, String(ms)], { timeoutMs: 4_000 }).catch((error: unknown) => {
      this.log.warn({ node: this.node, uid: job.record.migrationUid, err: String(error) }, 'could not set the maximum downtime; the one libvirt has applies');
    });
  }

  private async probeOnce(job: OutgoingJob): Promise<void> {
    const { domain } = job.record;
    // domstate first: it takes no job lock, so it answers even while libvirt is busy finishing the
    // migration (when domjobinfo may wait), and a paused source means the switch-over has begun.
    const before = await this.domainState(domain);
    // --undefinesource removes the domain only once the target has it running ("shut off
    // (migrated)" is the instant before).
    if (!before || isMigratedAway(before)) return this.finish(job, { state: 'Completed' });
    const paused = before.state === 'paused';
    if (paused && job.state === 'Running') job.state = 'SwitchingOver';
    let statsText: string;
    let sampledAtMs: number;
    try {
      const t0 = this.now().getTime();
      statsText = await virsh(this.options.uri, ['domjobinfo', '--rawstats', domain], { timeoutMs: 4_000 });
      // The middle of the call: virsh takes tens of ms, and rates are computed from these times.
      sampledAtMs = Math.round((t0 + this.now().getTime()) / 2);
    } catch (error) {
      if (error instanceof VirshError && classifyLibvirtError(error.libvirtMessage) === 'domain-not-found') {
        return this.finish(job, { state: 'Completed' });
      }
      throw error;
    }
    const stats = parseJobStats(statsText);
    if ((stats.type === 'Unbounded' || stats.type === 'Bounded') && stats.operation === JOB_OPERATION_MIGRATION_OUT) {
      job.sample = toProgressSample(stats, new Date(sampledAtMs)) ?? job.sample;
      job.state = paused ? 'SwitchingOver' : 'Running';
      if (job.maxDowntimeMs !== undefined) await this.setMaxDowntime(job, job.maxDowntimeMs);
      return;
    }
    // No outgoing migration job on the domain (any more, or not yet).
    // virsh migrate still runs: the job is about to start or has just ended; its exit will tell.
    if (job.child && job.childResult === undefined) return;
    const result = job.childResult;
    const state = await this.domainState(domain);
    if (!state || isMigratedAway(state)) return this.finish(job, { state: 'Completed' });
    if (result?.ok) {
      return this.finish(job, { state: 'Failed', failure: `virsh migrate returned, but domain ${domain} is still ${describe(state)} on ${this.node}` });
    }
    if (result && !result.ok) {
      const message = result.error.libvirtMessage;
      if (classifyLibvirtError(message) === 'aborted-by-client' || job.record.abortRequested) return this.finish(job, { state: 'Aborted', failure: message });
      return this.finish(job, { state: 'Failed', failure: message });
    }
    // Not started by this process (the agent restarted): the job ended while nobody watched.
    if (job.record.abortRequested) return this.finish(job, { state: 'Aborted', failure: `the migration job ended after an abort request; domain ${domain} is ${describe(state)} on ${this.node}` });
    return this.finish(job, {
      state: 'Failed',
      failure: `the migration job ended while the agent was not running; domain ${domain} is still ${describe(state)} on ${this.node}`,
    });
  }

  /**
   * `domstate` only (no job lock, ~20 ms): the domain gone from this node is the one outcome it can
   * settle (Completed); a paused source means the switch-over. Everything else waits for the sampler.
   */
  private async quickLook(job: OutgoingJob): Promise<void> {
    const state = await this.domainState(job.record.domain).catch(() => 'unknown' as const);
    if (state === 'unknown' || job.record.outcome) return;
    if (!state || isMigratedAway(state)) return this.finish(job, { state: 'Completed' });
    if (state.state === 'paused' && job.state === 'Running') job.state = 'SwitchingOver';
  }

  private finish(job: OutgoingJob, outcome: Omit<OutcomeRecord, 'at'>): void {
    if (job.record.outcome) return;
    job.record.outcome = { ...outcome, at: this.now().toISOString() };
    job.state = outcome.state;
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    this.store.save(job.record);
    this.outgoing.finish(job.record.migrationUid, this.nowMs);
    this.log.info({ node: this.node, uid: job.record.migrationUid, domain: job.record.domain, outcome: outcome.state, failure: outcome.failure }, 'migration ended');
  }

  private domainState(domain: string): Promise<DomainState | undefined> {
    return readDomainState(this.options.uri, domain);
  }


  /** After a restart: migrations from the state dir, watched again from libvirt. */
  private rediscover(): void {
    const records = this.store.load((file, error) => this.log.warn({ node: this.node, file, err: error }, 'unreadable migration state file ignored'));
    // Oldest outcome first, so the bound evicts in the order they finished.
    const at = (r: (typeof records)[number]) => (r.kind === 'outgoing' && r.outcome ? Date.parse(r.outcome.at) : 0);
    for (const record of records.sort((x, y) => at(x) - at(y))) {
      if (record.kind === 'incoming') {
        this.target.restore(record);
        continue;
      }
      const job: OutgoingJob = { record, state: record.outcome?.state ?? 'Running', probedOnce: false };
      this.outgoing.set(record.migrationUid, job, Date.parse(record.startedAt));
      if (record.outcome) {
        this.outgoing.finish(record.migrationUid, Date.parse(record.outcome.at));
        continue;
      }
      this.log.info({ node: this.node, uid: record.migrationUid, domain: record.domain }, 'resuming watch of a migration started before this agent');
      void this.probe(job).finally(() => this.scheduleSample(job));
    }
    // Whatever is past its time goes now, state files included.
    this.outgoing.prune(this.nowMs);
  }

}

function abortResultOf(outcome: OutcomeRecord): AbortResult {
  // Failed or aborted: either way the guest runs on the source.
  return outcome.state === 'Completed' ? { result: 'completed-first' } : { result: 'aborted' };
}
