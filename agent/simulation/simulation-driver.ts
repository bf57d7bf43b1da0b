// The simulation driver: a MigrationDriver whose guests are SimulatedGuest models instead of
// libvirt domains. A product feature (demos, capacity planning, scale tests), so it keeps the
// contract's rules exactly: idempotent calls keyed by migration UID, answers from its own state.
//
// Choices:
// - Time comes from an injected Clock; guests are advanced lazily to clock.now() whenever they are
//   looked at. No timers: a thousand simulated migrations cost nothing while nobody asks.
// - The dirty rate is read from the VMI annotation `simulation.live-migration.io/dirty-rate`
//   (a quantity per second, e.g. "64Mi"); absent or unreadable → an idle guest (and the start
//   request is refused when the value is not a quantity, so a typo does not pass silently).
// - Two scripted races, for demos and end-to-end tests of what the reconciler makes of them (VMI
//   annotations, read like the dirty rate): `simulation.live-migration.io/refuse-target: <reason>`
//   makes every target refuse to prepare (409 Conflict, as a node that cannot host the guest), and
//   `simulation.live-migration.io/abort-arrives-late: "true"` makes the guest finish its switch-over
//   just before an abort reaches the source (the abort answers completed-first).
// - Arrival: when a source guest completes, the domain is delivered to the target node through an
//   ArrivalBoard shared by the simulated nodes of one process; the target's confirmArrival reads it.
//   (Agents in separate processes need a board backed by a network call; same interface.)
// - Ports: the migration port and two proxied libvirt ports, in KubeVirt's shape
//   ({ <port>: 0, <port+1>: 49152, <port+2>: 49153 }), allocated per prepared migration.
// - One start per UID: prepare and start are reserved synchronously by UID (SingleFlight), so two
//   concurrent calls make one guest and both get its answer.
// - Bounded memory: records live in RecordTables. A finished migration (source: the guest completed
//   or aborted; target: arrival confirmed) is kept for repeated calls, but only the newest
//   FINISHED_KEPT and for an hour; a target prepared and never used goes after a day. The arrival
//   board keeps at most ARRIVALS_KEPT deliveries nobody confirmed.
import { parseQuantity, QuantityError } from '../../api/quantity.js';
import type { Clock } from '../../common/clock.js';
import {
  AgentCallError,
  type AbortResult,
  type ArrivalStatus,
  type MigrationDriver,
  type MigrationJobState,
  type MigrationJobStatus,
  type PrepareTargetRequest,
  type StartMigrationRequest,
  type TargetReady,
} from '../contract.js';
import { RecordTable } from '../record-table.js';
import { SingleFlight } from '../single-flight.js';
import { SimulatedGuest, type GuestMigrationState } from './simulated-guest.js';

export const DIRTY_RATE_ANNOTATION = 'simulation.live-migration.io/dirty-rate';
export const REFUSE_TARGET_ANNOTATION = 'simulation.live-migration.io/refuse-target';
export const ABORT_ARRIVES_LATE_ANNOTATION = 'simulation.live-migration.io/abort-arrives-late';
/** Long enough for any simulated guest that can converge to complete. */
const FAST_FORWARD_MS = 365 * 24 * 3600_000;

export const FINISHED_KEPT = 1024;
export const FINISHED_TTL_MS = 3600_000;
export const PREPARED_TTL_MS = 24 * 3600_000;
export const ARRIVALS_KEPT = 10_000;

/** Where completed migrations land; shared by the simulated nodes of one process. */
export class ArrivalBoard {
  private readonly arrived = new Map<string, string>(); // migration UID → node, oldest first

  constructor(private readonly maxEntries = ARRIVALS_KEPT) {}

  deliver(migrationUid: string, nodeName: string): void {
    if (this.arrived.get(migrationUid) === nodeName) return;
    this.arrived.delete(migrationUid);
    this.arrived.set(migrationUid, nodeName);
    for (const oldest of this.arrived.keys()) {
      if (this.arrived.size <= this.maxEntries) break;
      this.arrived.delete(oldest);
    }
  }

  hasArrived(migrationUid: string, nodeName: string): boolean {
    return this.arrived.get(migrationUid) === nodeName;
  }

  /** The target has taken note of the arrival: the board need not hold it any more. */
  forget(migrationUid: string): void {
    this.arrived.delete(migrationUid);
  }

  get size(): number {
    return this.arrived.size;
  }
}

export interface SimulationDriverOptions {
  nodeName: string;
  /** The address other nodes reach this one at. */
  address: string;
  clock: Clock;
  arrivals: ArrivalBoard;
  /** First port handed out to incoming migrations. */
  firstPort?: number;
  /** Link speed used when the bandwidth is unlimited. */
  linkBytesPerSecond?: number;
}

const PORT_RANGE = 3000;

export class DirtyRateError extends Error {}

/** The simulated dirty rate in bytes per second from the VMI's annotations; 0 when absent. */
export function dirtyRateFrom(annotations: Readonly<Record<string, string>> | undefined): number {
  const raw = annotations?.[DIRTY_RATE_ANNOTATION];
  if (raw === undefined) return 0;
  try {
    const rate = parseQuantity(raw);
    if (rate < 0) throw new QuantityError('must not be negative');
    return rate;
  } catch (error) {
    if (!(error instanceof QuantityError)) throw error;
    throw new DirtyRateError(`annotation ${DIRTY_RATE_ANNOTATION}: ${error.message}`);
  }
}

const JOB_STATE: Record<GuestMigrationState, MigrationJobState> = {
  Copying: 'Running',
  SwitchingOver: 'SwitchingOver',
  Completed: 'Completed',
  Aborted: 'Aborted',
};

interface Outgoing {
  guest: SimulatedGuest;
  advancedTo: number;
  targetNode: string;
  abortArrivesLate: boolean;
}

interface Incoming {
  ready: TargetReady;
  arrived: boolean;
}

export class SimulationDriver implements MigrationDriver {
  readonly name = 'simulation';
  private readonly incoming = new RecordTable<Incoming>({ maxFinished: FINISHED_KEPT, finishedTtlMs: FINISHED_TTL_MS, activeTtlMs: PREPARED_TTL_MS });
  private readonly outgoing = new RecordTable<Outgoing>({ maxFinished: FINISHED_KEPT, finishedTtlMs: FINISHED_TTL_MS });
  private readonly prepares = new SingleFlight<string, TargetReady>();
  private readonly starts = new SingleFlight<string, void>();
  private readonly firstPort: number;
  private nextPort: number;

  constructor(private readonly options: SimulationDriverOptions) {
    this.firstPort = options.firstPort ?? 35000;
    this.nextPort = this.firstPort;
  }

  /** How many records the driver holds (for tests of its bound and for debugging). */
  get recordCounts(): { incoming: number; outgoing: number } {
    return { incoming: this.incoming.size, outgoing: this.outgoing.size };
  }

  prepareTarget(request: PrepareTargetRequest): Promise<TargetReady> {
    const known = this.incoming.get(request.migrationUid);
    if (known !== undefined) return Promise.resolve(known.ready);
    return this.prepares.run(request.migrationUid, async () => this.prepareOnce(request));
  }

  private prepareOnce(request: PrepareTargetRequest): TargetReady {
    const known = this.incoming.get(request.migrationUid);
    if (known !== undefined) return known.ready;
    const refusal = request.annotations?.[REFUSE_TARGET_ANNOTATION];
    if (refusal !== undefined) throw new AgentCallError('Conflict', this.options.nodeName, `cannot host the guest: ${refusal.slice(0, 200)}`);
    const port = this.nextPort;
    // Cycle through a fixed range, as a real node reuses its ports.
    this.nextPort = port + 3 >= this.firstPort + PORT_RANGE ? this.firstPort : port + 3;
    const ready: TargetReady = {
      targetNodeAddress: this.options.address,
      targetDirectMigrationNodePorts: { [String(port)]: 0, [String(port + 1)]: 49152, [String(port + 2)]: 49153 },
      targetPod: `simulated-agent-${this.options.nodeName}`,
    };
    this.incoming.set(request.migrationUid, { ready, arrived: false }, this.options.clock.now());
    return ready;
  }

  startMigration(request: StartMigrationRequest): Promise<void> {
    if (this.outgoing.has(request.migrationUid)) return Promise.resolve();
    return this.starts.run(request.migrationUid, async () => this.startOnce(request));
  }

  private startOnce(request: StartMigrationRequest): void {
    if (this.outgoing.has(request.migrationUid)) return;
    const guest = new SimulatedGuest({
      memoryBytes: request.memoryBytes,
      bandwidthBytesPerSecond: request.bandwidthBytesPerSecond,
      dirtyRateBytesPerSecond: dirtyRateFrom(request.annotations),
      allowAutoConverge: request.allowAutoConverge,
      ...(request.maxDowntimeMs !== undefined ? { maxDowntimeMs: request.maxDowntimeMs } : {}),
      ...(this.options.linkBytesPerSecond !== undefined ? { linkBytesPerSecond: this.options.linkBytesPerSecond } : {}),
    });
    const now = this.options.clock.now();
    const abortArrivesLate = request.annotations?.[ABORT_ARRIVES_LATE_ANNOTATION] === 'true';
    this.outgoing.set(request.migrationUid, { guest, advancedTo: now, targetNode: request.destination.nodeName, abortArrivesLate }, now);
  }

  async migrationStatus(migrationUid: string): Promise<MigrationJobStatus | undefined> {
    const job = this.advance(migrationUid);
    if (job === undefined) return undefined;
    const s = job.guest.sample();
    return {
      migrationUid,
      state: JOB_STATE[s.state],
      progress: {
        dataProcessedBytes: s.dataProcessedBytes,
        dataRemainingBytes: s.dataRemainingBytes,
        dataTotalBytes: s.dataTotalBytes,
        bandwidthBytesPerSecond: s.bandwidthBytesPerSecond,
        dirtyRateBytesPerSecond: s.dirtyRateBytesPerSecond,
        iteration: s.iteration,
        etaSeconds: s.etaSeconds,
        expectedDowntimeMs: s.expectedDowntimeMs,
        sampledAt: new Date(this.options.clock.now()).toISOString(),
      },
    };
  }

  async abortMigration(migrationUid: string): Promise<AbortResult> {
    let job = this.advance(migrationUid);
    if (job === undefined) return { result: 'not-found' };
    if (job.abortArrivesLate && job.guest.currentState !== 'Aborted') {
      // The scripted race: the guest got to the end of its switch-over first.
      job.guest.tick(FAST_FORWARD_MS);
      job = this.settle(migrationUid, job, this.options.clock.now());
    }
    return job.guest.abort() === 'aborted' ? { result: 'aborted' } : { result: 'completed-first' };
  }

  async confirmArrival(migrationUid: string): Promise<ArrivalStatus> {
    const record = this.incoming.get(migrationUid);
    if (record?.arrived) return { domainDetected: true };
    const arrived = this.options.arrivals.hasArrived(migrationUid, this.options.nodeName);
    if (arrived && record !== undefined) {
      // Noted here, so the shared board can let go of it and the record can age out.
      record.arrived = true;
      this.incoming.finish(migrationUid, this.options.clock.now());
      this.options.arrivals.forget(migrationUid);
    }
    return { domainDetected: arrived };
  }

  async releaseTarget(migrationUid: string): Promise<void> {
    this.incoming.delete(migrationUid);
  }

  /** Brings a guest up to the clock's now; delivers it to its target when it completes. */
  private advance(migrationUid: string): Outgoing | undefined {
    const job = this.outgoing.get(migrationUid);
    if (job === undefined) return undefined;
    const now = this.options.clock.now();
    if (now > job.advancedTo) {
      job.guest.tick(now - job.advancedTo);
      job.advancedTo = now;
    }
    return this.settle(migrationUid, job, now);
  }

  /** A guest that has completed is delivered to its target, once; a finished record starts ageing. */
  private settle(migrationUid: string, job: Outgoing, now: number): Outgoing {
    const state = job.guest.currentState;
    if ((state === 'Completed' || state === 'Aborted') && !this.outgoing.isFinished(migrationUid)) {
      if (state === 'Completed') this.options.arrivals.deliver(migrationUid, job.targetNode);
      this.outgoing.finish(migrationUid, now);
    }
    return job;
  }
}
