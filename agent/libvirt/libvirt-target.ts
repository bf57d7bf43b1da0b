// The libvirt driver's target side: prepareTarget, confirmArrival, releaseTarget.
// - prepare checks that libvirt answers and that no domain of that name is here already (Conflict),
//   unless it is this very migration's incoming domain (its metadata names the UID: an agent that
//   lost its state is asked again); it answers with the address and ports this node's libvirtd
//   listens on for peers. With peer-to-peer migration the target's libvirtd creates the incoming
//   domain itself; nothing else needs reserving.
// - Concurrent prepares of one UID share one run (SingleFlight) and one answer.
// - confirmArrival: the prepared domain runs (an incoming domain is "paused (migrating)" until the
//   switch-over). With no record (state dir gone), the domain carrying the UID in its metadata.
// - Records are bounded: a confirmed arrival is kept an hour (newest 1024), a preparation nobody
//   used a day; their state files go with them.
import type { ArrivalStatus, PrepareTargetRequest, TargetReady } from '../contract.js';
import { AgentCallError } from '../contract.js';
import { RecordTable } from '../record-table.js';
import { SingleFlight } from '../single-flight.js';
import { readMetadata, scanDomains } from './domain-metadata.js';
import {
  DEFAULT_LIBVIRT_PORT,
  DEFAULT_MIGRATION_PORT_MIN,
  describe,
  domainName,
  readDomainState,
  type DriverLog,
  type LibvirtDriverOptions,
} from './libvirt-common.js';
import type { IncomingRecord, StateStore } from './state-store.js';

const ARRIVED_KEPT = 1024;
const ARRIVED_TTL_MS = 3600_000;
const PREPARED_TTL_MS = 24 * 3600_000;

interface Incoming {
  record: IncomingRecord;
  arrived: boolean;
}

export class LibvirtTarget {
  private readonly incoming: RecordTable<Incoming>;
  private readonly prepares = new SingleFlight<string, TargetReady>();

  constructor(
    private readonly options: LibvirtDriverOptions,
    private readonly store: StateStore,
    private readonly log: DriverLog,
    private readonly now: () => Date,
    /** The node's TLS material checked and loaded by libvirtd (this node's listener serves it). */
    private readonly ensureTls: () => Promise<void>,
  ) {
    this.incoming = new RecordTable({
      maxFinished: ARRIVED_KEPT,
      finishedTtlMs: ARRIVED_TTL_MS,
      activeTtlMs: PREPARED_TTL_MS,
      onEvict: (_uid, entry) => this.store.remove(entry.record),
    });
  }

  get size(): number {
    return this.incoming.size;
  }

  /** A record from the state dir (after a restart). */
  restore(record: IncomingRecord): void {
    this.incoming.set(record.migrationUid, { record, arrived: false }, Date.parse(record.preparedAt));
    this.incoming.prune(this.now().getTime());
  }

  prepareTarget(request: PrepareTargetRequest): Promise<TargetReady> {
    const known = this.incoming.get(request.migrationUid);
    if (known) return Promise.resolve(known.record.ready);
    return this.prepares.run(request.migrationUid, () => this.prepareOnce(request));
  }

  private async prepareOnce(request: PrepareTargetRequest): Promise<TargetReady> {
    const node = this.options.nodeName;
    const domain = domainName(request.vmi);
    // The source dials this node's libvirtd and QEMU over TLS: a rotated certificate must be served.
    await this.ensureTls();
    const existing = await readDomainState(this.options.uri, domain);
    const known = this.incoming.get(request.migrationUid);
    if (known) return known.record.ready;
    const ours = existing ? await readMetadata(this.options.uri, domain) : undefined;
    if (existing && !(ours?.migrationUid === request.migrationUid && ours.sourceNode !== node)) {
      throw new AgentCallError('Conflict', node, `domain ${domain} already exists on ${node} (${describe(existing)}); it cannot receive it again`);
    }
    const libvirtPort = this.options.libvirtPort ?? DEFAULT_LIBVIRT_PORT;
    const qemuPort = this.options.migrationPortMin ?? DEFAULT_MIGRATION_PORT_MIN;
    const ready: TargetReady = {
      targetNodeAddress: this.options.migrationAddress,
      targetDirectMigrationNodePorts: { [String(libvirtPort)]: 0, [String(qemuPort)]: qemuPort, [String(qemuPort + 1)]: qemuPort + 1 },
      targetPod: `live-migration-agent-${node}`,
    };
    const record: IncomingRecord = {
      kind: 'incoming',
      migrationUid: request.migrationUid,
      domain,
      sourceNode: request.sourceNode,
      preparedAt: this.now().toISOString(),
      ready,
    };
    this.store.save(record);
    this.incoming.set(request.migrationUid, { record, arrived: false }, this.now().getTime());
    this.log.info({ node, uid: request.migrationUid, domain }, 'target prepared');
    return ready;
  }

  async confirmArrival(migrationUid: string): Promise<ArrivalStatus> {
    const entry = this.incoming.get(migrationUid);
    if (entry?.arrived) return { domainDetected: true };
    const domain =
      entry?.record.domain ??
      (await scanDomains(this.options.uri)).find((d) => d.metadata.migrationUid === migrationUid && d.metadata.sourceNode !== this.options.nodeName)?.domain;
    if (domain === undefined) return { domainDetected: false };
    const state = await readDomainState(this.options.uri, domain);
    const arrived = state?.state === 'running';
    if (arrived && entry) {
      entry.arrived = true;
      this.incoming.finish(migrationUid, this.now().getTime());
    }
    return { domainDetected: arrived };
  }

  async releaseTarget(migrationUid: string): Promise<void> {
    const entry = this.incoming.get(migrationUid);
    if (!entry) return;
    // Nothing to destroy: libvirt removes a failed incoming domain itself, and a domain that did
    // arrive is the guest, which this call must never touch.
    this.incoming.delete(migrationUid);
    this.store.remove(entry.record);
  }
}
