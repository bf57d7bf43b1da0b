// A deterministic model of a guest's memory being copied by pre-copy live migration, driven by an
// explicit clock (tick) so demos, capacity planning and tests get the same numbers every time.
//
// The model, per pre-copy pass (iteration):
// - the pass sends the bytes that were dirty when it began (pass 1: all memory) at the bandwidth;
// - meanwhile the guest dirties memory at its dirty rate; dirty bytes are counted once, up to the
//   memory size (overlap with the unsent part of the pass is ignored: that makes a busy guest look
//   slightly worse than it is, never better);
// - at the end of a pass, if what is dirty can be sent within maxDowntimeMs, the guest is paused and
//   the rest is sent (switch-over); otherwise the next pass sends what was dirtied.
// So an idle guest completes in memory/bandwidth; a guest dirtying at or above the bandwidth never
// converges (each pass is at least as large as the one before); in between, passes shrink
// geometrically and it converges.
// - data remaining = unsent bytes of the pass + bytes dirtied since it began; it falls at
//   (bandwidth − dirty rate), so it stops going down exactly when migration stops progressing.
// - Auto-converge (QEMU's cpu throttle): when a pass ends with more dirtied than half of what it
//   sent, the guest is throttled 20%, then 10% more per such pass, up to 99%.
// - Unlimited bandwidth (0) means the link speed (default 10 Gbit/s).
// - Defaults: maxDowntimeMs 300 (QEMU's default).

export const DEFAULT_MAX_DOWNTIME_MS = 300;
export const DEFAULT_LINK_BYTES_PER_SECOND = 1_250_000_000;
const THROTTLE_INITIAL = 0.2;
const THROTTLE_INCREMENT = 0.1;
const THROTTLE_MAX = 0.99;
const THROTTLE_TRIGGER = 0.5;
const MIB = 2 ** 20;
const EPSILON_BYTES = 1e-6;

export interface SimulatedGuestOptions {
  memoryBytes: number;
  /** Cap in bytes per second; 0 = unlimited (the link speed). */
  bandwidthBytesPerSecond: number;
  dirtyRateBytesPerSecond?: number;
  maxDowntimeMs?: number;
  linkBytesPerSecond?: number;
  allowAutoConverge?: boolean;
}

export type GuestMigrationState = 'Copying' | 'SwitchingOver' | 'Completed' | 'Aborted';

export interface GuestSample {
  state: GuestMigrationState;
  elapsedMs: number;
  dataProcessedBytes: number;
  dataRemainingBytes: number;
  dataTotalBytes: number;
  /** processed ÷ total, 0–100, rounded down (100 only when completed). */
  percent: number;
  bandwidthMiBps: number;
  bandwidthBytesPerSecond: number;
  /** The guest's current (throttled) dirty rate. */
  dirtyRateBytesPerSecond: number;
  iteration: number;
  etaSeconds: number | null;
  /** While copying: the pause if it switched over now; after completion: the actual pause. */
  expectedDowntimeMs: number;
}

export type GuestAbortResult = 'aborted' | 'completed-first';

export class SimulatedGuest {
  private readonly memory: number;
  private readonly bytesPerMs: number;
  private readonly dirtyPerMs: number;
  private readonly maxDowntimeMs: number;
  private readonly autoConverge: boolean;

  private state: GuestMigrationState = 'Copying';
  private elapsedMs = 0;
  private processed = 0;
  private iteration = 1;
  private passLeft: number;
  private passSent = 0;
  private dirtied = 0;
  private switchLeft = 0;
  private throttle = 0;
  private downtimeMs = 0;

  constructor(options: SimulatedGuestOptions) {
    if (!(options.memoryBytes >= 0)) throw new RangeError('memoryBytes must be ≥ 0');
    if (!(options.bandwidthBytesPerSecond >= 0)) throw new RangeError('bandwidthBytesPerSecond must be ≥ 0');
    const cap = options.bandwidthBytesPerSecond > 0 ? options.bandwidthBytesPerSecond : (options.linkBytesPerSecond ?? DEFAULT_LINK_BYTES_PER_SECOND);
    this.memory = options.memoryBytes;
    this.bytesPerMs = cap / 1000;
    this.dirtyPerMs = Math.max(0, options.dirtyRateBytesPerSecond ?? 0) / 1000;
    this.maxDowntimeMs = options.maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS;
    this.autoConverge = options.allowAutoConverge ?? false;
    this.passLeft = this.memory;
  }

  get currentState(): GuestMigrationState {
    return this.state;
  }

  /** Advances the model by ms of simulated time. A long tick equals many short ones. */
  tick(ms: number): void {
    let left = Math.max(0, ms);
    while (left > 0 && (this.state === 'Copying' || this.state === 'SwitchingOver')) {
      const step = this.state === 'Copying' ? this.copy(left) : this.switchOver(left);
      this.elapsedMs += step;
      left -= step;
    }
    if (this.state === 'Completed' || this.state === 'Aborted') this.elapsedMs += left;
    // A pass or switch-over can end exactly at the end of a tick; settle it now, so that a sample
    // taken next shows the state a longer tick would have reached.
    if (this.state === 'Copying' && this.passLeft <= EPSILON_BYTES) this.endPass();
    if (this.state === 'SwitchingOver' && this.switchLeft <= EPSILON_BYTES) this.complete();
  }

  /** Stops the migration; the guest keeps running on the source. */
  abort(): GuestAbortResult {
    if (this.state === 'Completed') return 'completed-first';
    this.state = 'Aborted';
    return 'aborted';
  }

  sample(): GuestSample {
    const copying = this.state === 'Copying';
    const moving = copying || this.state === 'SwitchingOver';
    const remaining = copying ? this.passLeft + this.dirtied : this.state === 'SwitchingOver' ? this.switchLeft : 0;
    const processed = Math.floor(this.processed);
    const remainingBytes = Math.max(0, Math.ceil(remaining - EPSILON_BYTES));
    const total = processed + remainingBytes;
    const dirtyPerMs = copying ? this.dirtyPerMs * (1 - this.throttle) : 0;
    const netPerMs = this.bytesPerMs - dirtyPerMs;
    const eta = !moving ? (this.state === 'Completed' ? 0 : null) : netPerMs > 0 ? Math.ceil(remaining / netPerMs / 1000) : null;
    const pauseBytes = copying ? this.dirtied : this.switchLeft;
    return {
      state: this.state,
      elapsedMs: this.elapsedMs,
      dataProcessedBytes: processed,
      dataRemainingBytes: remainingBytes,
      dataTotalBytes: total,
      percent: this.state === 'Completed' ? 100 : total === 0 ? 0 : Math.min(99, Math.floor((processed * 100) / total)),
      bandwidthMiBps: moving ? Math.round(((this.bytesPerMs * 1000) / MIB) * 100) / 100 : 0,
      bandwidthBytesPerSecond: moving ? Math.round(this.bytesPerMs * 1000) : 0,
      dirtyRateBytesPerSecond: Math.round(dirtyPerMs * 1000),
      iteration: this.iteration,
      etaSeconds: eta,
      expectedDowntimeMs: this.state === 'Completed' ? Math.round(this.downtimeMs) : Math.ceil(pauseBytes / this.bytesPerMs),
    };
  }

  /** One step of a pre-copy pass, up to its end; returns the ms used. */
  private copy(budgetMs: number): number {
    if (this.passLeft <= EPSILON_BYTES) {
      this.endPass();
      return 0;
    }
    const step = Math.min(budgetMs, this.passLeft / this.bytesPerMs);
    const sent = Math.min(this.passLeft, step * this.bytesPerMs);
    this.passLeft -= sent;
    this.passSent += sent;
    this.processed += sent;
    this.dirtied = Math.min(this.memory, this.dirtied + step * this.dirtyPerMs * (1 - this.throttle));
    return step;
  }

  private endPass(): void {
    if (this.dirtied <= this.bytesPerMs * this.maxDowntimeMs) {
      this.state = 'SwitchingOver';
      this.switchLeft = this.dirtied;
      this.dirtied = 0;
      if (this.switchLeft <= EPSILON_BYTES) this.complete();
      return;
    }
    if (this.autoConverge && this.dirtied > THROTTLE_TRIGGER * this.passSent) {
      this.throttle = this.throttle === 0 ? THROTTLE_INITIAL : Math.min(THROTTLE_MAX, this.throttle + THROTTLE_INCREMENT);
    }
    this.iteration += 1;
    this.passLeft = this.dirtied;
    this.passSent = 0;
    this.dirtied = 0;
  }

  /** The guest is paused; send what is left. Returns the ms used. */
  private switchOver(budgetMs: number): number {
    const step = Math.min(budgetMs, this.switchLeft / this.bytesPerMs);
    const sent = Math.min(this.switchLeft, step * this.bytesPerMs);
    this.switchLeft -= sent;
    this.processed += sent;
    this.downtimeMs += step;
    if (this.switchLeft <= EPSILON_BYTES) this.complete();
    return step;
  }

  private complete(): void {
    this.state = 'Completed';
    this.switchLeft = 0;
  }
}
